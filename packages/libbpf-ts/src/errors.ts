// The one error type of the package: which libbpf/kernel call failed, with errno and on what.
import { constants } from 'node:os';

import { whenLoaded } from './native.js';
import type { NativeErrorDetails } from './native.js';

export interface BpfErrorContext {
  /** The BPF object (ELF) name. */
  object?: string;
  map?: string;
  program?: string;
  /** A pin path, ELF path, netns path or "ifindex N". */
  path?: string;
  /** Element of a batch that failed. */
  index?: number;
  /** libbpf output captured during the call, e.g. the verifier log of a failed load. */
  log?: string;
}

export class BpfError extends Error {
  override readonly name = 'BpfError';
  /** The libbpf or kernel call that failed, e.g. 'bpf_map_update_elem'. */
  readonly op: string;
  /** Positive errno. */
  readonly errno: number;
  /** Symbolic errno, e.g. 'ENOENT'. */
  readonly code: string;
  readonly object?: string;
  readonly map?: string;
  readonly program?: string;
  readonly path?: string;
  readonly index?: number;
  readonly log?: string;

  constructor(op: string, errno: number, code: string, detail: string, ctx: BpfErrorContext = {}) {
    const where = [
      ctx.object !== undefined ? `object ${ctx.object}` : '',
      ctx.map !== undefined ? `map ${ctx.map}` : '',
      ctx.program !== undefined ? `program ${ctx.program}` : '',
      ctx.path !== undefined ? ctx.path : '',
      ctx.index !== undefined ? `element ${ctx.index}` : '',
    ].filter((s) => s !== '');
    super(`${op} failed: ${code}${where.length ? ` (${where.join(', ')})` : ''}${detail ? `: ${detail}` : ''}`);
    this.op = op;
    this.errno = errno;
    this.code = code;
    if (ctx.object !== undefined) this.object = ctx.object;
    if (ctx.map !== undefined) this.map = ctx.map;
    if (ctx.program !== undefined) this.program = ctx.program;
    if (ctx.path !== undefined) this.path = ctx.path;
    if (ctx.index !== undefined) this.index = ctx.index;
    if (ctx.log !== undefined) this.log = ctx.log;
  }
}

/** Symbolic name of a positive errno, e.g. 2 -> 'ENOENT'. */
export function errnoCode(errno: number): string {
  for (const [name, value] of Object.entries(constants.errno)) if (value === errno) return name;
  return errno === 524 ? 'ENOTSUPP' : `E${errno}`;
}

const ERRNO = { EINVAL: 22, EBADF: 9, ENOENT: 2 } as const;

/** Errors raised by the TypeScript layer itself (argument checks), in the same shape. */
export function bpfError(op: string, code: keyof typeof ERRNO, detail: string, ctx: BpfErrorContext = {}): BpfError {
  return new BpfError(op, ERRNO[code], code, detail, ctx);
}

function fromNative(op: string, errno: number, d: NativeErrorDetails): BpfError {
  const code = errno === 524 ? 'ENOTSUPP' : d.code;
  const detail = d.message ?? d.reason;
  const ctx: BpfErrorContext = {};
  if (d.object !== undefined) ctx.object = d.object;
  if (d.map !== undefined) ctx.map = d.map;
  if (d.program !== undefined) ctx.program = d.program;
  if (d.path !== undefined) ctx.path = d.path;
  if (d.index !== undefined) ctx.index = d.index;
  if (d.log !== undefined) ctx.log = d.log;
  return new BpfError(op, errno, code, detail, ctx);
}

whenLoaded((a) => a.setErrorFactory(fromNative));
