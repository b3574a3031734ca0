// Child process for the teardown tests: builds a harness from the JSON options in argv[2], prints
// "built <prefix>", then waits to be signalled or killed.
import { Harness } from '../../src/sandbox/index.js';
import type { HarnessOptions } from '../../src/sandbox/index.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as HarnessOptions;
const h = await Harness.create(opts);
process.stdout.write(`built ${h.prefix}\n`);
setInterval(() => {}, 1 << 30);
