// Prints vitest's JSON report as one plain closing line ("N passed, N failed, N skipped") and fails
// when CI=true and any test was skipped or marked todo: in CI every capability must be present.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
if (process.env.CI === 'true' && skipped > 0) {
  for (const file of report.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') {
        console.error(`skipped under CI: ${file.name}: ${t.fullName}`);
      }
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(process.env.CI === 'true' && skipped > 0 ? 1 : 0);
