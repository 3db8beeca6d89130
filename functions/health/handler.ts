// Primary adapter — GET /health: answers per-dependency status, 503 when any dependency is down.
import { checkHealth } from '#shared/health';
import { httpHandler, json } from '#shared/http';

export const handler = httpHandler(async () => {
  const report = await checkHealth();
  return json(report.status === 'ok' ? 200 : 503, report, { 'cache-control': 'no-store' });
});
