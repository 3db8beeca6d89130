// Primary adapter — the vCenter registry API: POST/GET /api/v1/vcenters, GET/DELETE /api/v1/vcenters/{id},
// POST /api/v1/vcenters/{id}/sync. Parses, calls the registry use cases, answers; roles come from the
// topology (admin registers and deletes, operator requests syncs, viewer reads).

import * as z from 'zod';
import { postgres, sqs } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';
import { httpHandler, json, NotFoundError, parseInput, ServiceUnavailableError } from '#shared/http';
import {
  deleteVcenter,
  dispatchPeriodSeconds,
  getVcenter,
  listVcenters,
  registerSchema,
  registerVcenter,
  requestSync,
} from '#shared/inventory/sync';
import { logger } from '#shared/observability';
import { secretStore } from '#shared/secrets';

const syncSchema = z.object({ full: z.boolean().default(false) }).strict();

const noStore = { 'cache-control': 'no-store' };

const queue = () => ({ sqs: sqs(), queueUrl: requireEnv(envNames.queueUrl('sync')) });

function body(raw: string | undefined, isBase64: boolean): unknown {
  if (!raw) return {};
  try {
    return JSON.parse(isBase64 ? Buffer.from(raw, 'base64').toString('utf8') : raw);
  } catch {
    return Symbol('invalid');
  }
}

export const handler = httpHandler(async (event) => {
  const db = postgres('writer');
  const id = event.pathParameters?.id ?? '';
  switch (event.routeKey) {
    case 'POST /api/v1/vcenters': {
      const input = parseInput(registerSchema, body(event.body, event.isBase64Encoded), 'body');
      const vcenter = await registerVcenter(db, secretStore(), input, {
        minIntervalSeconds: dispatchPeriodSeconds(),
      });
      const vcenterId = vcenter.id;
      // The first full sync starts now, not at the dispatcher's next tick; if the queue refused, that tick
      // picks the vCenter up (it stays due), and the answer says so.
      const sync = await requestSync(db, vcenterId, { ...queue(), reason: 'registered' });
      logger.info('vCenter registered', { vcenterId, url: input.url, syncQueued: sync.queued });
      return json(201, { vcenter, sync }, { ...noStore, location: `/api/v1/vcenters/${vcenterId}` });
    }
    case 'GET /api/v1/vcenters':
      return json(200, { items: await listVcenters(db) }, noStore);
    case 'GET /api/v1/vcenters/{id}':
      return json(200, { vcenter: await getVcenter(db, id) }, noStore);
    case 'DELETE /api/v1/vcenters/{id}':
      await deleteVcenter(db, secretStore(), id);
      logger.info('vCenter deleted', { vcenterId: id });
      return { statusCode: 204, headers: noStore };
    case 'POST /api/v1/vcenters/{id}/sync': {
      const { full } = parseInput(syncSchema, body(event.body, event.isBase64Encoded), 'body');
      const sync = await requestSync(db, id, { ...queue(), reason: 'requested', full });
      if (!sync.queued) {
        throw new ServiceUnavailableError(
          `The sync queue did not take the request; vCenter ${id} is due for the dispatcher's next tick`,
          dispatchPeriodSeconds(),
        );
      }
      return json(202, sync, noStore);
    }
    default:
      throw new NotFoundError(`No vCenter route ${event.routeKey}`);
  }
});
