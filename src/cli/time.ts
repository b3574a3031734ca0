import { InputError } from './errors.js';

/** `--at`: an ISO 8601 time or milliseconds since the epoch; absent means now. */
export function parseAt(value: string | undefined, now: () => number = Date.now): number {
  if (value === undefined) return now();
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new InputError(`--at: "${value}" is neither an ISO 8601 time nor milliseconds since the epoch`);
  }
  return ms;
}
