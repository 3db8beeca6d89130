// Primary adapter — the `vcenters` function's routes: POST/GET /api/v1/vcenters, GET/DELETE
// /api/v1/vcenters/{id}, POST /api/v1/vcenters/{id}/sync. Parses, calls the registry use cases, answers; roles
// come from the contract (admin registers and deletes, operator requests syncs, viewer reads); the caller's
// vCenter scope filters the list, and the middleware answers 404 for an `{id}` outside it.
import { postgres, sqs } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';
import {
  callerHasRole,
  callerScope,
  ForbiddenError,
  type HttpEvent,
  json,
  jsonBody,
  parseInput,
  type RouteHandler,
  type RouteTable,
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
import { chargeCaller } from '#shared/ratelimit';
import { secretStore } from '#shared/secrets';

const noStore = { 'cache-control': 'no-store' };

const queue = () => ({ sqs: sqs(), queueUrl: requireEnv(envNames.queueUrl('sync')) });

const idParam = (event: HttpEvent) => event.pathParameters?.id ?? '';

const registerVcenterRoute: RouteHandler = async (event) => {
  const db = postgres('writer');
  const input = parseInput(registerSchema, jsonBody(event), 'body');
  // A scoped admin registers only ids inside the scope (checked before the id is looked up: a 409 for an id
  // outside it would reveal that it exists).
  if (!callerScope(event).allows(input.id)) {
    throw new ForbiddenError(
      `vCenter id ${input.id} is outside the vCenters your roles and groups may manage`,
    );
  }
  await chargeCaller(event);
  const vcenter = await registerVcenter(db, secretStore(), input, {
    minIntervalSeconds: dispatchPeriodSeconds(),
  });
  const vcenterId = vcenter.id;
  // The first full sync starts now, not at the dispatcher's next tick; if the queue refused, that tick
  // picks the vCenter up (it stays due), and the answer says so.
  const sync = await requestSync(db, vcenterId, { ...queue(), reason: 'registered' });
  logger.info('vCenter registered', { vcenterId, url: input.url, syncQueued: sync.queued });
  return json(201, { vcenter, sync }, { ...noStore, location: `/api/v1/vcenters/${vcenterId}` });
};

const listVcentersRoute: RouteHandler = async (event) => {
  const caller = { admin: callerHasRole(event, 'admin') };
  const items = (await listVcenters(postgres('writer'), callerScope(event))).map((vcenter) =>
    viewFor(vcenter, caller),
  );
  return json(200, { items }, noStore);
};

const getVcenterRoute: RouteHandler = async (event) => {
  const caller = { admin: callerHasRole(event, 'admin') };
  const vcenter = await getVcenter(postgres('writer'), idParam(event));
  return json(200, { vcenter: viewFor(vcenter, caller) }, noStore);
};

const deleteVcenterRoute: RouteHandler = async (event) => {
  const id = idParam(event);
  await deleteVcenter(postgres('writer'), secretStore(), id);
  logger.info('vCenter deleted', { vcenterId: id });
  return { statusCode: 204, headers: noStore };
};

const requestSyncRoute: RouteHandler = async (event) => {
  const id = idParam(event);
  const { full } = parseInput(syncRequestSchema, jsonBody(event), 'body');
  await chargeCaller(event);
  const sync = await requestSync(postgres('writer'), id, { ...queue(), reason: 'requested', full });
  if (!sync.queued) {
    throw new ServiceUnavailableError(
      `The sync queue did not take the request; vCenter ${id} is due for the dispatcher's next tick`,
      dispatchPeriodSeconds(),
    );
  }
  return json(202, sync, noStore);
};

/** The `vcenters` function's routes. */
export const vcenterRoutes = {
  'POST /api/v1/vcenters': registerVcenterRoute,
  'GET /api/v1/vcenters': listVcentersRoute,
  'GET /api/v1/vcenters/{id}': getVcenterRoute,
  'DELETE /api/v1/vcenters/{id}': deleteVcenterRoute,
  'POST /api/v1/vcenters/{id}/sync': requestSyncRoute,
} satisfies RouteTable;
