// Benchmarks — one "Lambda" of bench/ops/limiter.ts, in its own process: its own Redis connection, limiter and
// vSphere session; `loops` concurrent callers take a slot on a random lane, fetch a VM screen from vcsim and give
// the slot back, until the deadline. Prints one JSON line with its grants.
import { Redis } from 'ioredis';
import { type Lane, lanes } from '../../shared/ops/lanes.ts';
import { Limiter } from '../../shared/ops/limiter.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  redisUrl: string;
  url: string;
  username: string;
  password: string;
  vms: string[];
  loops: number;
  seconds: number;
  maxConcurrent: number;
  minIntervalMs: number;
  /** Epoch ms when the measured run starts (after every process has logged in). */
  startAt: number;
};
const redis = new Redis(args.redisUrl);
const limiter = new Limiter({ redis, maxConcurrent: args.maxConcurrent, minIntervalMs: args.minIntervalMs });
const client = await VsphereClient.connect({
  url: args.url,
  username: args.username,
  password: args.password,
  insecure: true,
  pooled: false,
  maxSockets: args.loops,
});
// The mix of a busy portal: mostly refreshes and first loads, some list refreshes, a few consoles.
const pick = (): Lane => {
  const r = Math.random();
  return r < 0.05 ? 'CRITICAL' : r < 0.2 ? 'HIGH' : r < 0.5 ? 'NORMAL' : 'LOW';
};
await new Promise((r) => setTimeout(r, Math.max(0, args.startAt - Date.now())));
const deadline = args.startAt + args.seconds * 1000;
const grants: { lane: Lane; grantedAt: number; waitMs: number }[] = [];
let errors = 0;
await Promise.all(
  Array.from({ length: args.loops }, async () => {
    while (Date.now() < deadline) {
      const lane = pick();
      try {
        const vm = args.vms[Math.floor(Math.random() * args.vms.length)] ?? '';
        // Sockets are not warmed up: the slot is taken once a connection is ready (the transport's admission).
        await limiter.withAdmission(
          'vc-bench',
          lane,
          {
            timeoutMs: 30_000,
            onGrant: (lease) => grants.push({ lane, grantedAt: lease.grantedAt, waitMs: lease.waitMs ?? 0 }),
          },
          (admit) => client.screenshot({ type: 'VirtualMachine', value: vm }, { timeoutMs: 10_000, admit }),
        );
      } catch {
        errors++;
      }
    }
  }),
);
await client.close();
redis.disconnect();
process.stdout.write(`${JSON.stringify({ grants, errors, lateGrants: limiter.lateGrants, lanes })}\n`);
