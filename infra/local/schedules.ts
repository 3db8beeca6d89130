// Local runtime — EventBridge schedule emulation: a timer per topology schedule invoking its function with
// a Scheduled Event, never overlapping itself.
import { randomUUID } from 'node:crypto';
import type { Topology } from '../topology.ts';
import type { Invoke } from './lambda.ts';

export function startSchedules(schedules: Topology['schedules'], invoke: Invoke): { stop(): void } {
  const timers = schedules.map((schedule) => {
    let running = false;
    return setInterval(async () => {
      if (running) return;
      running = true;
      try {
        await invoke(schedule.function, {
          version: '0',
          id: randomUUID(),
          'detail-type': 'Scheduled Event',
          source: 'aws.events',
          account: '000000000000',
          time: new Date().toISOString(),
          region: 'us-east-1',
          resources: [`arn:aws:events:local:000000000000:rule/${schedule.name}`],
          detail: {},
        });
      } catch (error) {
        console.error(`[schedule] ${schedule.name} failed:`, error);
      } finally {
        running = false;
      }
    }, schedule.everySeconds * 1000);
  });
  return { stop: () => timers.forEach(clearInterval) };
}
