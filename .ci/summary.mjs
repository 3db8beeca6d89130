#!/usr/bin/env node
// CI summary: prints the one final line `N passed, N failed` from vitest's JSON results and npm test's exit
// status. Plain Node, no dependencies (it runs even when node_modules is broken).
//
//   node .ci/summary.mjs <results.json> <npm test exit status>
//
// A failed run never reads `0 failed`: vitest's JSON can say `success: true` while the run failed (an
// unhandled error outside any test makes vitest exit 1), and lint or type-check can fail before any result is
// written. Each such case counts as one failure, with a line on stderr saying why.
import { readFileSync } from 'node:fs';

const [file, statusArg] = process.argv.slice(2);
const status = Number(statusArg);
if (!file || statusArg === undefined || !Number.isInteger(status)) {
  console.error('usage: node .ci/summary.mjs <results.json> <npm test exit status>');
  process.exit(2);
}

let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  // Lint, type-check or set-up failed before vitest wrote results: that run is one failure, not zero.
  console.error(`ci: no test results in ${file}; npm test failed before the tests ran (counted as 1 failed)`);
  console.log('0 passed, 1 failed');
  process.exit(0);
}

const passed = report.numPassedTests ?? 0;
let failed = report.numFailedTests ?? 0;
// A test file that fails to load has no failing test inside it; count each such file once.
for (const result of report.testResults ?? []) {
  const failedInside = (result.assertionResults ?? []).some((test) => test.status === 'failed');
  if (result.status === 'failed' && !failedInside) failed += 1;
}
if (failed === 0 && report.success === false) {
  console.error('ci: vitest reported errors outside any test (unhandled errors); counted as 1 failed');
  failed = 1;
}
if (failed === 0 && status !== 0) {
  console.error(
    `ci: npm test exited with status ${status} although its results count no failed test (an unhandled error or rejection, a timeout, or a step after the tests); counted as 1 failed`,
  );
  failed = 1;
}
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
