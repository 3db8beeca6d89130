// Local runtime — the dev issuer as an OpenID Connect provider for browsers: discovery, `/authorize` with a
// login page, `/token` (authorization code + PKCE S256 only, public clients) and the JWKS, mounted by the
// local HTTP API under `/dev-issuer`. In AWS a real issuer (a Cognito user pool, or one the environment
// names) plays this part. Development only: the login page asks for a name and a role, not a password.
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { knownRoles } from '#shared/auth';
import type { Role } from '../topology.ts';
import type { DevIssuer } from './dev-issuer.ts';
import { readBody, send } from './http-api.ts';

export const devOidcPath = '/dev-issuer';

/** A browser client allowed to log in: its id and the path prefix its redirect URIs must have. */
export interface DevOidcClient {
  readonly clientId: string;
  readonly redirectPathPrefix: string;
}

/** The dashboard (web/): served by the local runtime at /dashboard/. */
export const dashboardClient: DevOidcClient = {
  clientId: 'vfleet-dashboard',
  redirectPathPrefix: '/dashboard/',
};

interface PendingCode {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly subject: string;
  readonly roles: readonly Role[];
  readonly nonce: string | undefined;
  readonly expiresAtMs: number;
}

/** How long an authorization code may wait for its exchange (RFC 6749 recommends at most 10 minutes). */
const codeLifetimeMs = 60_000;
/** Roles a person may pick; `node` belongs to agents, which never log in through a browser. */
const humanRoles: readonly Role[] = knownRoles.filter((role) => role !== 'node');
const subjectPattern = /^[A-Za-z0-9._@-]{1,64}$/;
/** RFC 7636: 43-128 characters of the unreserved set. */
const verifierPattern = /^[A-Za-z0-9._~-]{43,128}$/;
const challengePattern = /^[A-Za-z0-9_-]{43}$/;

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** The request's own origin: discovery names endpoints where the browser reached the issuer. */
function originOf(req: IncomingMessage): string {
  return `http://${req.headers.host ?? '127.0.0.1'}`;
}

/** Token-endpoint and discovery answers are never cached (RFC 6749 §5.1). */
function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  send(res, status, body, { 'cache-control': 'no-store', ...headers });
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

function sendHtml(res: ServerResponse, status: number, html: string) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
  });
  res.end(html);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(req, 16_384);
  if (body === 'too-large') throw new RangeError('form too large');
  return new URLSearchParams(body.toString('utf8'));
}

/** The authorization request's parameters, checked; a bad client or redirect is never redirected to. */
function authorizationRequest(
  params: URLSearchParams,
  clients: readonly DevOidcClient[],
): { ok: true; value: Record<string, string> } | { ok: false; message: string } {
  const client = clients.find((c) => c.clientId === params.get('client_id'));
  if (!client) return { ok: false, message: 'unknown client_id' };
  const redirectUri = params.get('redirect_uri') ?? '';
  let redirect: URL;
  try {
    redirect = new URL(redirectUri);
  } catch {
    return { ok: false, message: 'redirect_uri is not a URL' };
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(redirect.hostname);
  if (!loopback || redirect.protocol !== 'http:' || !redirect.pathname.startsWith(client.redirectPathPrefix))
    return { ok: false, message: `redirect_uri must be a loopback URL under ${client.redirectPathPrefix}` };
  if (params.get('response_type') !== 'code') return { ok: false, message: 'response_type must be code' };
  if (params.get('code_challenge_method') !== 'S256')
    return { ok: false, message: 'code_challenge_method must be S256 (PKCE is required)' };
  const challenge = params.get('code_challenge') ?? '';
  if (!challengePattern.test(challenge))
    return { ok: false, message: 'code_challenge must be a S256 digest' };
  const value: Record<string, string> = {
    client_id: client.clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    state: params.get('state') ?? '',
    nonce: params.get('nonce') ?? '',
    scope: params.get('scope') ?? 'openid',
  };
  return { ok: true, value };
}

function loginPage(request: Record<string, string>, error?: string): string {
  const hidden = Object.entries(request)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join('');
  const options = humanRoles.map((role) => `<option value="${role}">${role}</option>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vfleet dev login</title>
<style>body{background:#0f1419;color:#e6e6e6;font:16px system-ui,sans-serif;display:grid;place-items:center;height:100vh;margin:0}
form{background:#1a2129;padding:2rem;border-radius:8px;display:grid;gap:.8rem;min-width:18rem}
input,select,button{font:inherit;padding:.5rem;border-radius:4px;border:1px solid #3a4654;background:#0f1419;color:#e6e6e6}
button{background:#2f81f7;border-color:#2f81f7;color:#fff;cursor:pointer}.error{color:#ff7b72}</style></head>
<body><form method="post" action="${devOidcPath}/authorize"><h1>vfleet dev issuer</h1>
<p>Development only: no password; pick who you are.</p>${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<label>User <input name="username" autocomplete="username" required pattern="[A-Za-z0-9._@\\-]{1,64}" value="dev-user"></label>
<label>Role <select name="role">${options}</select></label>${hidden}
<button type="submit">Sign in</button></form></body></html>`;
}

export interface DevOidcProvider {
  /** Answers the request when it is for the provider; false when the path is not its own. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

/**
 * The OIDC provider over `issuer`. Tokens it hands out are the issuer's ordinary access tokens (its `iss`,
 * the API audience, the chosen role), so the API verifies them as any other; the ID token's audience is
 * the client.
 * @param options.tokenTtlSeconds lifetime of the tokens it issues. @default 3600
 */
export function createDevOidcProvider(
  issuer: DevIssuer,
  options: { readonly clients?: readonly DevOidcClient[]; readonly tokenTtlSeconds?: number } = {},
): DevOidcProvider {
  const clients = options.clients ?? [dashboardClient];
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
  const codes = new Map<string, PendingCode>();

  const discovery = (origin: string) => ({
    issuer: issuer.issuer,
    authorization_endpoint: `${origin}${devOidcPath}/authorize`,
    token_endpoint: `${origin}${devOidcPath}/token`,
    jwks_uri: `${origin}${devOidcPath}/jwks`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    scopes_supported: ['openid', 'profile'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
  });

  const tokenError = (res: ServerResponse, error: string, description: string) =>
    sendJson(res, 400, { error, error_description: description });

  async function exchange(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    if (form.get('grant_type') !== 'authorization_code')
      return tokenError(res, 'unsupported_grant_type', 'only authorization_code is supported');
    const code = form.get('code') ?? '';
    const pending = codes.get(code);
    // A code is good once, whatever the outcome (RFC 6749 §4.1.2).
    codes.delete(code);
    if (!pending || pending.expiresAtMs < Date.now())
      return tokenError(res, 'invalid_grant', 'the code is unknown, used or expired');
    if (form.get('client_id') !== pending.clientId || form.get('redirect_uri') !== pending.redirectUri)
      return tokenError(
        res,
        'invalid_grant',
        'client_id or redirect_uri differ from the authorization request',
      );
    const verifier = form.get('code_verifier') ?? '';
    if (!verifierPattern.test(verifier))
      return tokenError(res, 'invalid_request', 'code_verifier must be 43-128 unreserved characters');
    if (base64url(createHash('sha256').update(verifier).digest()) !== pending.codeChallenge)
      return tokenError(res, 'invalid_grant', 'code_verifier does not match the code_challenge');
    const accessToken = await issuer.mint(pending.roles, {
      subject: pending.subject,
      ttlSeconds: tokenTtlSeconds,
    });
    const idToken = await issuer.mint(pending.roles, {
      subject: pending.subject,
      ttlSeconds: tokenTtlSeconds,
      audience: pending.clientId,
      claims: { name: pending.subject, ...(pending.nonce ? { nonce: pending.nonce } : {}) },
    });
    sendJson(res, 200, {
      access_token: accessToken,
      id_token: idToken,
      token_type: 'Bearer',
      expires_in: tokenTtlSeconds,
      scope: 'openid profile',
    });
  }

  async function authorize(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method === 'GET') {
      const request = authorizationRequest(url.searchParams, clients);
      if (!request.ok)
        return sendHtml(res, 400, `<p>Bad authorization request: ${escapeHtml(request.message)}</p>`);
      return sendHtml(res, 200, loginPage(request.value));
    }
    const form = await readForm(req);
    const request = authorizationRequest(
      new URLSearchParams({
        ...Object.fromEntries(form),
        response_type: 'code',
        code_challenge_method: 'S256',
      }),
      clients,
    );
    if (!request.ok)
      return sendHtml(res, 400, `<p>Bad authorization request: ${escapeHtml(request.message)}</p>`);
    const subject = form.get('username') ?? '';
    const role = form.get('role') as Role;
    if (!subjectPattern.test(subject) || !humanRoles.includes(role))
      return sendHtml(
        res,
        400,
        loginPage(request.value, 'Give a user name (letters, digits, . _ @ -) and a role.'),
      );
    const code = base64url(randomBytes(32));
    const now = Date.now();
    for (const [key, old] of codes) if (old.expiresAtMs < now) codes.delete(key);
    codes.set(code, {
      clientId: request.value.client_id as string,
      redirectUri: request.value.redirect_uri as string,
      codeChallenge: request.value.code_challenge as string,
      subject,
      roles: [role],
      nonce: request.value.nonce || undefined,
      expiresAtMs: now + codeLifetimeMs,
    });
    const target = new URL(request.value.redirect_uri as string);
    target.searchParams.set('code', code);
    if (request.value.state) target.searchParams.set('state', request.value.state);
    res.writeHead(302, { location: target.href, 'cache-control': 'no-store' });
    res.end();
  }

  return {
    async handle(req, res, url) {
      if (url.pathname !== devOidcPath && !url.pathname.startsWith(`${devOidcPath}/`)) return false;
      const route = `${req.method} ${url.pathname.slice(devOidcPath.length)}`;
      try {
        if (route === 'GET /.well-known/openid-configuration') sendJson(res, 200, discovery(originOf(req)));
        else if (route === 'GET /jwks') sendJson(res, 200, issuer.jwks);
        else if (route === 'GET /authorize' || route === 'POST /authorize') await authorize(req, res, url);
        else if (route === 'POST /token') await exchange(req, res);
        else sendJson(res, 404, { error: 'not_found', message: `No dev-issuer endpoint ${route}` });
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        sendJson(res, 413, { error: 'too_large', message: error.message });
      }
      return true;
    },
  };
}
