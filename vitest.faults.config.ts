import { defineConfig } from 'vitest/config';

// The fault suite (`npm run test:faults`, its own step in .ci/run): each file starts its own Redis, PostgreSQL,
// DynamoDB Local and vcsim, because it kills and restarts them; the files run one at a time, since each
// holds a whole local cloud under load and the machines have two cores.
export default defineConfig({
  test: {
    name: 'faults',
    include: ['test/faults/**/*.test.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: '.vfleet/fault-results.json' },
    fileParallelism: false,
    // One viewer token plays the whole steady load: the per-principal buckets (shared/ratelimit) are lifted, as
    // in the integration project, so the faults, not the limits, decide the answers.
    env: { RATE_LIMIT_DEFAULT: '60000/10000' },
    testTimeout: 240_000,
    hookTimeout: 180_000,
  },
});
