// Fault suite — an ops worker run out of process: it takes `count` CRITICAL slots on a vCenter through the
// process's own limiter (the ops service, built from the same environment as the runtime's functions), prints
// each lease as a JSON line, then "holding", and stays in its call until it is killed.
//
//   node --import tsx test/faults/workers/lease-holder.ts <vcenterId> <count>
import { opsService } from '#shared/ops';

const [target = '', countArg = '1'] = process.argv.slice(2);
const { limiter } = opsService();
for (let i = 0; i < Number(countArg); i++) {
  const lease = await limiter.acquire(target, 'CRITICAL', { timeoutMs: 30_000 });
  process.stdout.write(`${JSON.stringify(lease)}\n`);
}
process.stdout.write('holding\n');
// Mid-call: the slots are held until the process dies (SIGKILL: no release, no clean-up).
setInterval(() => {}, 60_000);
