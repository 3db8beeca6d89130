// Unit tests — the CI summary (.ci/summary.mjs), run as .ci/run runs it: results file and npm test's exit
// status in, one final line `N passed, N failed` out. A failed run must never read `0 failed`.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const script = resolve(import.meta.dirname, '../../../.ci/summary.mjs');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vfleet-ci-summary-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the script; its exit code, stdout lines and stderr. */
async function summary(results: object | undefined, status: number | string) {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  if (results) await writeFile(file, JSON.stringify(results));
  const run = promisify(execFile)(process.execPath, [script, file, String(status)]);
  try {
    const { stdout, stderr } = await run;
    return { code: 0, lines: stdout.trim().split('\n'), stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, lines: failed.stdout.trim().split('\n'), stderr: failed.stderr };
  }
}

const passing = (passed: number) => ({
  success: true,
  numPassedTests: passed,
  numFailedTests: 0,
  numPendingTests: 0,
  numTodoTests: 0,
  testResults: [{ status: 'passed', assertionResults: [{ status: 'passed' }] }],
});

describe('.ci/summary.mjs', () => {
  it('counts 1 failed when vitest says success but exited non-zero (an unhandled rejection)', async () => {
    const out = await summary(passing(412), 1);
    expect(out.code).toBe(0);
    expect(out.lines.at(-1)).toBe('412 passed, 1 failed');
    expect(out.stderr).toMatch(/exited with status 1 although its results count no failed test/);
  });

  it('counts 1 failed when there is no results file (lint or type-check failed first)', async () => {
    const out = await summary(undefined, 1);
    expect(out.lines.at(-1)).toBe('0 passed, 1 failed');
    expect(out.stderr).toMatch(/no test results/);
  });

  it('reports a clean run as it is, with nothing on stderr', async () => {
    const out = await summary(passing(412), 0);
    expect(out.lines.at(-1)).toBe('412 passed, 0 failed');
    expect(out.stderr).toBe('');
  });

  it('reports real failures as counted, adding nothing for the non-zero exit they cause', async () => {
    const out = await summary(
      {
        success: false,
        numPassedTests: 410,
        numFailedTests: 2,
        testResults: [{ status: 'failed', assertionResults: [{ status: 'failed' }, { status: 'failed' }] }],
      },
      1,
    );
    expect(out.lines.at(-1)).toBe('410 passed, 2 failed');
    expect(out.stderr).toBe('');
  });

  it('counts a test file that failed to load, and unhandled errors vitest flagged, once each', async () => {
    const unloadable = await summary(
      { ...passing(3), success: false, testResults: [{ status: 'failed', assertionResults: [] }] },
      1,
    );
    expect(unloadable.lines.at(-1)).toBe('3 passed, 1 failed');
    const unhandled = await summary({ ...passing(3), success: false }, 1);
    expect(unhandled.lines.at(-1)).toBe('3 passed, 1 failed');
    expect(unhandled.stderr).toMatch(/outside any test/);
  });

  it('refuses to run without an exit status', async () => {
    const out = await summary(passing(1), 'x');
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/usage/);
  });
});
