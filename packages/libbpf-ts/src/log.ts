// libbpf's log output. The addon captures it instead of printing to stderr; failures carry the
// relevant part (BpfError.log), and a handler set here receives every message.
import { native } from './native.js';

export type LogLevel = 'warn' | 'info' | 'debug';
export type LogHandler = (level: LogLevel, message: string) => void;

let handler: LogHandler | null = null;

/** Receives libbpf messages after each object operation; null (the default) discards them. */
export function setLogHandler(fn: LogHandler | null): void {
  handler = fn;
}

/** The most verbose level captured; 'info' by default ('debug' is very chatty during load). */
export function setLogLevel(level: LogLevel): void {
  native().setLogLevel(level);
}

/** Hands captured messages to the handler (or drops them); called after every libbpf operation. */
export function flushLog(): void {
  const entries = native().takeLog();
  if (handler === null) return;
  for (const e of entries) handler(e.level, e.message);
}

/** Runs a libbpf operation and flushes its log output even when it throws. */
export function withLog<T>(fn: () => T): T {
  try {
    return fn();
  } finally {
    flushLog();
  }
}
