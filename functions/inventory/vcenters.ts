// Primary adapter — the vCenter registry API: POST/GET /api/v1/vcenters, GET/DELETE /api/v1/vcenters/{id},
// POST /api/v1/vcenters/{id}/sync. Parses, calls the registry use cases, answers; roles come from the
// topology (admin registers and deletes, operator requests syncs, viewer reads).
import { postgres, sqs } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';
import {
  callerHasRole,
  httpHandler,
  json,
  jsonBody,
  NotFoundError,
  parseInput,
  ServiceUnavailableError,
} from '#shared/http';
import {
  deleteVcenter,
  dispatchPeriodSeconds,
  getVcenter,
  listVcenters,
  registerSchema,
  registerVcenter,
  requestSync,
  syncRequestSchema,
  viewFor,
} from '#shared/inventory/sync';
import { logger } from '#shared/observability';
import { secretStore } from '#shared/secrets';

const noStore = { 'cache-control': 'no-store' };

const queue = () => ({ sqs: sqs(), queueUrl: requireEnv(envNames.queueUrl('sync')) });

export const handler = httpHandler(async (event) => {
  const db = postgres('writer');
  const id = event.pathParameters?.id ?? '';
  switch (event.routeKey) {
    case 'POST /api/v1/vcenters': {
      const input = parseInput(registerSchema, jsonBody(event), 'body');
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
    case 'GET /api/v1/vcenters': {
      const caller = { admin: callerHasRole(event, 'admin') };
      const items = (await listVcenters(db)).map((vcenter) => viewFor(vcenter, caller));
      return json(200, { items }, noStore);
    }
    case 'GET /api/v1/vcenters/{id}': {
      const caller = { admin: callerHasRole(event, 'admin') };
      return json(200, { vcenter: viewFor(await getVcenter(db, id), caller) }, noStore);
    }
    case 'DELETE /api/v1/vcenters/{id}':
      await deleteVcenter(db, secretStore(), id);
      logger.info('vCenter deleted', { vcenterId: id });
      return { statusCode: 204, headers: noStore };
    case 'POST /api/v1/vcenters/{id}/sync': {
      const { full } = parseInput(syncRequestSchema, jsonBody(event), 'body');
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
