// Node agent — its calls to the control plane's node routes (`/api/v1/nodes/{id}/…`): JSON bodies,
// authenticated per request (a bearer `node` token locally, a SigV4 signature with the instance role in AWS).

/** Headers that authenticate one request to a node route. */
export type Authenticate = (request: { url: string; body: string }) => Promise<Record<string, string>>;

export interface NodeRoute {
  readonly controlUrl: string;
  readonly nodeId: string;
  readonly authenticate: Authenticate;
}

/** An answer of the control plane: its status and its JSON body (or text, if it was not JSON). */
export interface RouteAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Sends one report to a node route (`metrics`, `logs`); rejects when the control plane is unreachable. */
export type PostNodeRoute = (path: string, body: unknown) => Promise<RouteAnswer>;

/** The poster for one node's routes. */
export function nodeRoutePoster(route: NodeRoute): PostNodeRoute {
  return (path, body) => postNodeRoute(route, path, body);
}

/** POSTs `body` to `/api/v1/nodes/{id}/<path>`; network failures and time-outs reject. */
export async function postNodeRoute(
  route: NodeRoute,
  path: string,
  body: unknown,
  timeoutMs = 10_000,
): Promise<RouteAnswer> {
  const url = `${route.controlUrl}/api/v1/nodes/${route.nodeId}/${path}`;
  const text = JSON.stringify(body);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await route.authenticate({ url, body: text })) },
    body: text,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const answer = await response.text();
  let parsed: unknown = answer;
  try {
    parsed = JSON.parse(answer);
  } catch {
    // Not JSON (a proxy's error page): kept as text for the message.
  }
  return { status: response.status, body: parsed };
}
