// Primary adapter — the `provisioningApi` function's routes (viewer): the provisioning form's hierarchy of one
// vCenter for the caller (GET …/datacenters, …/datacenters/{dc}/compute, …/compute/{cr}/resources) and the
// caller's personal vCenter identity (PUT/DELETE …/credentials/me). Parses the path, query and body, calls the
// provisioning use case with the caller's subject, answers.

import * as z from 'zod';
import { vcenterIdPattern } from '#shared/contracts';
import {
  type HttpEvent,
  json,
  jsonBody,
  parseInput,
  type RouteHandler,
  type RouteTable,
  UnauthorizedError,
} from '#shared/http';
import {
  computeOf,
  credentialSchema,
  datacentersOf,
  moidParam,
  type ProvisioningAnswer,
  provisioningService,
  registerCredential,
  removeCredential,
  resourcesOf,
  resourcesQuerySchema,
} from '#shared/provisioning';
import { chargeCaller, upstreamCharge } from '#shared/ratelimit';

const vcenterParam = z.string().regex(vcenterIdPattern, 'must be a registered vCenter id');
const subjectOf = (event: HttpEvent) =>
  event.requestContext.authorizer?.jwt?.claims?.sub as string | undefined;
const params = <S extends z.ZodRawShape>(shape: S, event: HttpEvent) =>
  parseInput(z.object(shape), event.pathParameters ?? {}, 'path');

// Answers depend on the caller's identity and age by the second: never kept by browsers or proxies.
const answer = (body: ProvisioningAnswer) => json(200, body, { 'cache-control': 'private, no-store' });

const datacenters: RouteHandler = async (event) => {
  const { id } = params({ id: vcenterParam }, event);
  return answer(
    await datacentersOf(provisioningService(), id, subjectOf(event), { charge: upstreamCharge(event) }),
  );
};

const compute: RouteHandler = async (event) => {
  const { id, dc } = params({ id: vcenterParam, dc: moidParam }, event);
  return answer(
    await computeOf(provisioningService(), id, dc, subjectOf(event), { charge: upstreamCharge(event) }),
  );
};

const resources: RouteHandler = async (event) => {
  const { id, cr } = params({ id: vcenterParam, cr: moidParam }, event);
  const query = parseInput(resourcesQuerySchema, event.queryStringParameters ?? {}, 'query');
  return answer(
    await resourcesOf(provisioningService(), id, cr, query, subjectOf(event), {
      charge: upstreamCharge(event),
    }),
  );
};

/** The caller's subject; the middleware has already refused a token without one. */
const callerOf = (event: HttpEvent): string => {
  const subject = subjectOf(event);
  if (!subject) throw new UnauthorizedError();
  return subject;
};

const putCredential: RouteHandler = async (event) => {
  const { id } = params({ id: vcenterParam }, event);
  const credential = parseInput(credentialSchema, jsonBody(event), 'body');
  await chargeCaller(event);
  await registerCredential(provisioningService(), id, callerOf(event), credential);
  // Nothing of the credential comes back.
  return json(200, { vcenterId: id, identity: 'personal' }, { 'cache-control': 'no-store' });
};

const deleteCredential: RouteHandler = async (event) => {
  const { id } = params({ id: vcenterParam }, event);
  await removeCredential(provisioningService(), id, callerOf(event));
  return { statusCode: 204 };
};

/** The `provisioningApi` function's routes. */
export const provisioningRoutes = {
  'GET /api/v1/vcenters/{id}/datacenters': datacenters,
  'GET /api/v1/vcenters/{id}/datacenters/{dc}/compute': compute,
  'GET /api/v1/vcenters/{id}/compute/{cr}/resources': resources,
  'PUT /api/v1/vcenters/{id}/credentials/me': putCredential,
  'DELETE /api/v1/vcenters/{id}/credentials/me': deleteCredential,
} satisfies RouteTable;
