// Primary adapter — the vCenter registry API: POST/GET /api/v1/vcenters, GET/DELETE /api/v1/vcenters/{id},
// POST /api/v1/vcenters/{id}/sync. Parses, calls the registry use cases, answers; roles come from the
// topology (admin registers and deletes, operator requests syncs, viewer reads).

import * as z from 'zod';
import { envNames } from '#infra/topology';
import { postgres, sqs } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { httpHandler, json, NotFoundError, parseInput } from '#shared/http';
import {
  deleteVcenter,
  getVcenter,
  listVcenters,
  registerSchema,
  registerVcenter,
  requestedDedupId,
  sendSyncMessages,
} from '#shared/inventory/sync';
import { logger } from '#shared/observability';
import { secretStore } from '#shared/secrets';

const syncSchema = z.object({ full: z.boolean().default(false) }).strict();

const noStore = { 'cache-control': 'no-store' };

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
      const view = await registerVcenter(db, secretStore(), input);
      logger.info('vCenter registered', { vcenterId: view.id, url: view.url });
      return json(201, { vcenter: view }, { ...noStore, location: `/api/v1/vcenters/${view.id}` });
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
      const { sync } = await getVcenter(db, id);
      const failed = await sendSyncMessages(sqs(), requireEnv(envNames.queueUrl('sync')), [
        {
          message: { vcenterId: id, reason: 'requested', full },
          deduplicationId: requestedDedupId(id, full, Date.now(), sync.syncedThroughAt),
        },
      ]);
      if (failed.length > 0) throw new Error('The sync queue did not take the request');
      return json(202, { queued: true, vcenterId: id, full }, noStore);
    }
    default:
      throw new NotFoundError(`No vCenter route ${event.routeKey}`);
  }
});
