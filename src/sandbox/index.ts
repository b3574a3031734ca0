export { Harness, withHarness } from './harness.js';
export type { HarnessOptions, HarnessPod, HarnessEndpoint } from './types.js';
export { Zone, type ZoneRecord, type ZoneAnswer } from './zone.js';
export { sweep, listNetns, listLinks, type SweepReport } from './sweep.js';
export { SANDBOX_PREFIX, newPrefix } from './names.js';
export { run, runOk, type RunOptions, type RunResult } from './run.js';
export * from './errors.js';
