// Primary adapter — the API document's route: GET /api/v1/openapi.json (public), generated from the contract's
// route table and the handlers' schemas (shared/openapi), built once per container and cacheable by clients
// and CDNs for five minutes (it changes only with a deployment). Bound to its function in infra/topology.ts.
import { createHash } from 'node:crypto';
import type { RouteHandler, RouteTable } from '#shared/http';
import { openApiDocument } from '#shared/openapi';

let built: { body: string; etag: string } | undefined;

function document(): { body: string; etag: string } {
  if (!built) {
    const body = JSON.stringify(openApiDocument({ version: '1' }));
    built = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
  }
  return built;
}

const openApi: RouteHandler = async (event) => {
  const { body, etag } = document();
  const headers = { etag, 'cache-control': 'public, max-age=300' };
  if (event.headers?.['if-none-match'] === etag) return { statusCode: 304, headers };
  return { statusCode: 200, headers: { 'content-type': 'application/json', ...headers }, body };
};

/** The `apiDocs` function's routes. */
export const docsRoutes = { 'GET /api/v1/openapi.json': openApi } satisfies RouteTable;
