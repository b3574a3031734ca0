import { InputError } from './errors.js';

// Plain numbers below this (1973-03-03 in ms) are almost certainly years or seconds typed by
// mistake: `--at 2024` must not silently mean 2 seconds after 1970.
const MIN_EPOCH_MS = 1e11;

/** `--at`: an ISO 8601 time or milliseconds since the epoch; absent means now. */
export function parseAt(value: string | undefined, now: () => number = Date.now): number {
  if (value === undefined) return now();
  if (/^\d+$/.test(value)) {
    const ms = Number(value);
    if (ms < MIN_EPOCH_MS) {
      throw new InputError(`--at: "${value}" looks like a year or seconds, not milliseconds since the epoch; use ISO 8601 (2026-01-02T03:04:05Z)`);
    }
    return ms;
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new InputError(`--at: "${value}" is neither an ISO 8601 time nor milliseconds since the epoch`);
  }
  return ms;
}
