// Benchmark — `npm run bench:ops:priority`: 5,000 LOW thumbnail refreshes queued against one vCenter (small
// preset: 8 concurrent, 50 ms) while 100 console opens (CRITICAL, synchronous in the API function) arrive over
// 10 s. Reports the CRITICAL wait for a slot (goal: p99 < 100 ms), the end-to-end console latency, and what LOW
// did meanwhile. Loopback only; bounded: the run ends when the last console open has answered.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { migrate } from '../../shared/inventory/migrate.ts';
import { opsService } from '../../shared/ops/service.ts';
import { percentile, record, sleep, startBenchEnv } from './harness.ts';

const lowJobs = Number(process.env.BENCH_LOW_JOBS ?? 5_000);
const opens = 100;
const arrivals = [10, 30, 60];
const minIntervalMs = 50;
const screenMs = 400;

/**
 * Lower bounds any limiter that keeps min_interval can reach on these arrivals, first come first served: with
 * CRITICAL alone, and with LOW taking every grant CRITICAL leaves (LOW saturates the target, as in this run).
 */
function idealWaits(arrivedAt: number[], lowSaturates: boolean): number[] {
  let last = Number.NEGATIVE_INFINITY;
  return [...arrivedAt]
    .sort((a, b) => a - b)
    .map((t) => {
      // LOW granted every min_interval until this open arrived: the last of those grants holds it back.
      if (lowSaturates && Number.isFinite(last) && last + minIntervalMs < t) {
        last += Math.floor((t - last) / minIntervalMs) * minIntervalMs;
      }
      const grant = Math.max(t, last + minIntervalMs);
      last = grant;
      return grant - t;
    });
}

const env = await startBenchEnv({
  // One VM per LOW job, so every refresh is a real screen call (a fresh thumbnail would be skipped).
  vcsim: { vms: lowJobs, delays: { screen: screenMs, AcquireTicket: 20 } },
  env: { THUMBNAIL_CACHE_TTL: '120' },
  // The schema, so the runtime's scheduled sync dispatcher finds its (empty) registry.
  prepareDb: async (url) => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    await migrate(pool, { vmPartitions: 2 });
    await pool.end();
  },
});
try {
  const sqs = new SQSClient({
    endpoint: env.runtime.sqsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const now = Date.now();
  const vms = env.vms.slice(0, lowJobs);
  console.log(`queueing ${vms.length} LOW refreshes…`);
  for (let i = 0; i < vms.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: env.runtime.queueUrl('ops-low'),
        Entries: vms.slice(i, i + 10).map((moid, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify({
            v: 1,
            type: 'thumbnail',
            vmId: `${env.vcenterId}:${moid}`,
            lane: 'LOW',
            enqueuedAt: now,
          }),
          MessageGroupId: `thumb:${env.vcenterId}:${moid}`,
          MessageDeduplicationId: `bench-low-${moid}`,
        })),
      }),
    );
  }
  // Let LOW fill its share of the slots before the consoles arrive.
  const deadline = Date.now() + 30_000;
  while ((await env.vcsim.stats()).screen.inFlight < 4 && Date.now() < deadline) await sleep(100);
  const rows = [];
  for (const arrivalSeconds of arrivals) {
    await env.vcsim.resetStats();
    console.log(`${opens} console opens over ${arrivalSeconds} s…`);
    const started = performance.now();
    const lateBefore = opsService().limiter.lateGrants;
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const results = await Promise.all(
      Array.from({ length: opens }, async (_, i) => {
        await sleep(Math.random() * arrivalSeconds * 1000);
        const moid = env.vms[i % env.vms.length] ?? '';
        const t0 = performance.now();
        const res = await fetch(`${env.runtime.httpUrl}/api/v1/vms/${env.vcenterId}:${moid}/console`, {
          method: 'POST',
          headers: { authorization: `Bearer ${env.operatorToken}` },
        });
        const body = (await res.json()) as { waitedMs?: number };
        return {
          status: res.status,
          arrivedAt: t0,
          waitedMs: body.waitedMs ?? Number.NaN,
          latencyMs: performance.now() - t0,
        };
      }),
    );
    const windowS = (performance.now() - started) / 1000;
    const lateGrants = opsService().limiter.lateGrants - lateBefore;
    const during = await env.vcsim.stats();
    const ok = results.filter((r) => r.status === 200);
    const waits = ok.map((r) => r.waitedMs);
    const latencies = ok.map((r) => r.latencyMs);
    const arrived = results.map((r) => r.arrivedAt);
    const ideal = idealWaits(arrived, false);
    const idealWithLow = idealWaits(arrived, true);
    loopDelay.disable();
    const row = {
      arrivalSeconds,
      opens,
      ok: ok.length,
      waitP50: percentile(waits, 50),
      waitP95: percentile(waits, 95),
      waitP99: percentile(waits, 99),
      waitMax: Math.max(...waits),
      idealP99: percentile(ideal, 99),
      idealWithLowP99: percentile(idealWithLow, 99),
      // This process hosts the whole local cloud (API, workers, queues): its event-loop delay adds to each wait.
      eventLoopDelayP99: loopDelay.percentile(99) / 1e6,
      latencyP50: percentile(latencies, 50),
      latencyP99: percentile(latencies, 99),
      lowServed: during.screen.served,
      windowS,
      screenMaxInFlight: during.screen.maxInFlight,
      screenMinGapMs: during.screen.minGapMs,
      lateGrants,
    };
    console.log(row);
    rows.push(row);
  }
  const statsRes = await fetch(`${env.runtime.httpUrl}/api/v1/queue/stats`, {
    headers: { authorization: `Bearer ${env.viewerToken}` },
  });
  const queueStats = (await statsRes.json()) as {
    by_priority: Record<
      string,
      { total_requests: number; avg_wait_time: number; p99_wait_time: number; waiting: number }
    >;
  };
  sqs.destroy();
  const f = (n: number) => n.toFixed(1);
  const table = rows
    .map(
      (row) =>
        `| ${opens} over ${row.arrivalSeconds} s (${row.ok} ok) | ${f(row.waitP50)} / ${f(row.waitP95)} / ${f(row.waitP99)} / ${f(row.waitMax)} | ${f(row.idealP99)} / ${f(row.idealWithLowP99)} | ${f(row.latencyP50)} / ${f(row.latencyP99)} | ${row.waitP99 < 100 ? 'met' : '**missed**'} | ${row.lowServed} in ${f(row.windowS)} s | ${row.screenMaxInFlight} / ${f(row.screenMinGapMs ?? 0)} | ${row.lateGrants} | ${f(row.eventLoopDelayP99)} |`,
    )
    .join('\n');
  const lane = (name: string) => {
    const l = queueStats.by_priority[name];
    return `${name}: ${l?.total_requests} calls, avg ${l?.avg_wait_time} s, p99 ${l?.p99_wait_time} s, ${l?.waiting} waiting`;
  };
  await record(
    'ops-priority',
    'Priority (`npm run bench:ops:priority`)',
    `${lowJobs.toLocaleString('en-US')} LOW thumbnail refreshes (one per VM of a ${lowJobs.toLocaleString('en-US')}-VM vcsim, ${screenMs} ms per screen) are queued on
\`ops-low.fifo\`; once LOW holds its share of the slots, ${opens} console opens (\`POST /api/v1/vms/{id}/console\`, CRITICAL,
synchronous in the API function) arrive at random times within 10 s (a console storm), 30 s and 60 s. Small preset:
8 concurrent, ${minIntervalMs} ms, plus the limiter's spacing guard (10 %, at least 5 ms). "Wait" is the limiter wait each
answer reports (\`waitedMs\`: request arrival to slot grant). "Ideal p99" is the lower bound any limiter that keeps
min_interval reaches on the same arrival times, first come first served: with CRITICAL alone (each open granted on
arrival or ${minIntervalMs} ms after the previous one), and with LOW taking every grant the consoles leave, as LOW does here.
The event-loop delay is this process's, which hosts the whole local cloud (API, workers, queues) on a 2-core machine. "Latency" is the whole HTTP round trip (JWT check, slot, \`AcquireTicket\` with 20 ms
injected delay). Goal: CRITICAL wait p99 < 100 ms.

| console opens | CRITICAL wait p50 / p95 / p99 / max ms | ideal p99 ms: alone / LOW saturating | console latency p50 / p99 ms | goal | LOW screens served meanwhile | screen max in flight / min gap ms | late grants | event-loop delay p99 ms |
| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |
${table}

\`GET /api/v1/queue/stats\` afterwards (the limiter's histograms, whole run): ${lane('CRITICAL')}; ${lane('LOW')}.

LOW may fill 6 of the 8 slots (lane headroom), so a console open never waits for a LOW call to finish, and while it
waits, lower lanes are held back (its waiter record). What it does wait for is min_interval: the spacing since the
previous grant (at most one interval behind a LOW grant), and the spacing of the console opens ahead of it. 100 opens
in 10 s ask for half of the target's 20 grants/s on their own: with random arrivals they queue behind each other, and
the ideal column shows that no limiter keeping min_interval gets their p99 under 100 ms. vcsim's "min gap" here includes
the server's own scheduling jitter: it shares 2 cores with the whole local cloud. A run with the transport instrumented
(2026-11-23, 1,307 screen requests) found the smallest gap between two requests leaving their callers 52.5 ms, while
vcsim reported 46.2 ms between their arrivals; the separate-process limiter bench, with less load, sees no such jitter.`,
    { rows, queueStats },
  );
} finally {
  await env.stop();
}
