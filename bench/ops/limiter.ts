// Benchmark — `npm run bench:ops:limiter`: several processes (as several Lambdas) share one vCenter's limiter
// (8 concurrent, 50 ms) through Redis and call vcsim's /screen as fast as the limiter lets them, in two phases:
// fast screens (the interval binds) and slow screens (the concurrency binds). vcsim's own counters give the
// observed upstream concurrency and the smallest gap between call starts. Goal: zero violations. Loopback only,
// bounded: 4 processes × 6 callers × 15 s per phase.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRedis, startVcsim } from '../../infra/local/services/index.ts';
import { lanes } from '../../shared/ops/lanes.ts';
import { listVmMoids, percentile, record, root } from './harness.ts';

const run = promisify(execFile);
const processes = 4;
const loops = 6;
const seconds = 15;
const maxConcurrent = 8;
const minIntervalMs = 50;

interface Phase {
  name: string;
  screenMs: number;
}
const phases: Phase[] = [
  { name: 'fast screens (20 ms): the interval binds', screenMs: 20 },
  { name: 'slow screens (800 ms): the concurrency binds', screenMs: 800 },
];

const redis = await startRedis({ dir: join(root, '.vfleet', 'bench-ops-limiter', 'redis') });
const rows: string[] = [];
const raw: unknown[] = [];
try {
  for (const phase of phases) {
    await redis.stop().catch(() => undefined);
    const fresh = await startRedis({ dir: join(root, '.vfleet', 'bench-ops-limiter', 'redis') });
    const vcsim = await startVcsim({ vms: 70, delays: { screen: phase.screenMs } });
    try {
      const vms = await listVmMoids(vcsim);
      // Every process boots and logs in first (its sockets stay cold); the measured window starts together.
      const startAt = Date.now() + 12_000;
      const arg = JSON.stringify({
        startAt,
        redisUrl: fresh.url,
        url: vcsim.url,
        username: vcsim.username,
        password: vcsim.password,
        vms,
        loops,
        seconds,
        maxConcurrent,
        minIntervalMs,
      });
      console.log(`${phase.name}: ${processes} processes × ${loops} callers for ${seconds} s…`);
      const resetting = (async () => {
        await new Promise((r) => setTimeout(r, startAt - 200 - Date.now()));
        await vcsim.resetStats();
      })();
      const outputs = await Promise.all(
        Array.from({ length: processes }, () =>
          run(process.execPath, ['--import', 'tsx', join(root, 'bench/ops/limiter-worker.ts'), arg], {
            cwd: root,
            maxBuffer: 64 * 1024 * 1024,
          }),
        ),
      );
      await resetting;
      const stats = await vcsim.stats();
      const results = outputs.map(
        (o) =>
          JSON.parse(o.stdout.trim().split('\n').pop() ?? '{}') as {
            grants: { lane: string; grantedAt: number; waitMs: number }[];
            errors: number;
            lateGrants: number;
          },
      );
      const grants = results.flatMap((r) => r.grants).sort((a, b) => a.grantedAt - b.grantedAt);
      const gaps = grants.slice(1).map((g, i) => g.grantedAt - (grants[i]?.grantedAt ?? 0));
      const errors = results.reduce((sum, r) => sum + r.errors, 0);
      const late = results.reduce((sum, r) => sum + r.lateGrants, 0);
      const minGap = stats.screen.minGapMs ?? 0;
      const violations =
        (stats.screen.maxInFlight > maxConcurrent ? 1 : 0) +
        (minGap < minIntervalMs ? 1 : 0) +
        (Math.min(...gaps) < minIntervalMs ? 1 : 0);
      const byLane = lanes
        .map((lane) => {
          const waits = grants.filter((g) => g.lane === lane).map((g) => g.waitMs);
          return `${lane} ${waits.length} (p99 ${percentile(waits, 99)} ms)`;
        })
        .join(', ');
      rows.push(
        `| ${phase.name} | ${stats.screen.served} | ${(stats.screen.served / seconds).toFixed(1)} | ${stats.screen.maxInFlight} / ${maxConcurrent} | ${minGap.toFixed(1)} / ${minIntervalMs} | ${Math.min(...gaps)} | ${late} | ${errors} | ${violations === 0 ? 'none' : `**${violations}**`} | ${byLane} |`,
      );
      raw.push({ phase, stats, grants: grants.length, minGrantGapMs: Math.min(...gaps), late, errors });
      console.log(rows.at(-1));
    } finally {
      await vcsim.stop();
      await fresh.stop();
    }
  }
} finally {
  await redis.stop().catch(() => undefined);
}

await record(
  'ops-limiter',
  'Limiter (`npm run bench:ops:limiter`)',
  `${processes} processes (each its own Redis connection, \`Limiter\` and vSphere session, like ${processes} Lambdas), ${loops} callers each, share
one vCenter's limiter (max_concurrent ${maxConcurrent}, min_interval ${minIntervalMs} ms) for ${seconds} s per phase; each caller takes a slot on
a random lane (5 % CRITICAL, 15 % HIGH, 30 % NORMAL, 50 % LOW), fetches a VM screen from vcsim through the transport's
admission (\`Limiter.withAdmission\`) and gives the slot back. Sockets start cold: each process has only logged in, so
the run includes the TLS handshakes that once let a call reach the server after a later one on a warm socket.
"In flight" and "min gap" are vcsim's own counters (\`/_fixture/stats\`: the most concurrent \`/screen\` requests, and the
smallest gap between two request starts as the server saw them); "grant gap" is the smallest gap between grants on
Redis's clock, which includes the limiter's spacing guard (10 % of min_interval, at least 5 ms). A request is written only
within the guard of its grant, checked at the socket right before the write; "late grants" were withdrawn and asked for
again. Goal: zero violations of max_concurrent or min_interval.

| phase | calls served | calls/s | max in flight / limit | min gap at vcsim ms / limit | min grant gap ms | late grants handed back | errors | violations | grants by lane (p99 wait) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |
${rows.join('\n')}`,
  raw,
  'vcsim, Redis and the four load processes',
);
