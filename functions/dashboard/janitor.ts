// Primary adapter — the scheduled dashboard janitor: announces nodes silent for 60 s as expired and removes
// those silent for 10 minutes (with their history and logs), pushing `node_status` to the dashboards.
import { dashboard } from '#shared/dashboard';
import { logger } from '#shared/observability';

export const handler = async (): Promise<{ expired: string[]; removed: string[] }> => {
  const result = await dashboard().sweep();
  if (result.expired.length || result.removed.length) logger.info('dashboard janitor', result);
  return result;
};
