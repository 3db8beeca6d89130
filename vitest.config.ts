import { defineConfig } from 'vitest/config';

// Three projects: unit (no network), integration (real services the project starts), e2e (the local
// runtime over real sockets, and a browser where a page is involved).

// Tests drive one principal far harder than a person does (20 refreshes at once, 40 form loads, a registration
// per case): the per-principal buckets (shared/ratelimit) are lifted for them. The rate-limit tests set their own
// limits (RATE_LIMIT_<CLASS> wins over RATE_LIMIT_DEFAULT, or settings passed in).
const liftedRateLimits = { RATE_LIMIT_DEFAULT: '60000/10000' };
export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: '.vfleet/test-results.json' },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
          testTimeout: 60_000,
          // Some set-ups compile TypeScript or synthesize the CDK app: seconds on a quiet machine, more on a
          // busy one, and vitest's 10 s default would fail them by chance.
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/services.ts'],
          env: liftedRateLimits,
          // Copies the test processes' output and error bodies for the secret-leak scan (test/setup/leaks.ts).
          setupFiles: ['test/setup/capture.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/setup/services.ts'],
          env: liftedRateLimits,
          setupFiles: ['test/setup/capture.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
