// Login: OAuth 2.0 authorization code with PKCE (S256) against the configured OIDC issuer, as a public
// client. The access token lives in memory only (never in local storage), so a reload or an expiry leads
// back through the issuer's login; only the one-time PKCE verifier and state cross the redirect, in
// sessionStorage, and they are removed as soon as the code is exchanged.
import * as oauth from 'oauth4webapi';
import { type DashboardConfig, type Role, roleSatisfies } from '../../shared/contracts/index.ts';

export interface Session {
  readonly accessToken: string;
  readonly subject: string;
  readonly roles: readonly string[];
  /** Epoch milliseconds after which the token is no longer accepted. */
  readonly expiresAtMs: number;
}

const pendingKey = 'vfleet.login';

interface PendingLogin {
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
  readonly returnTo: string;
}

function server(config: DashboardConfig): oauth.AuthorizationServer {
  return {
    issuer: config.oidc.issuer,
    authorization_endpoint: config.oidc.authorizationEndpoint,
    token_endpoint: config.oidc.tokenEndpoint,
  };
}

/** Where the issuer sends the browser back: the dashboard's own entry page. */
function redirectUri(): string {
  return new URL(import.meta.env.BASE_URL, window.location.origin).href;
}

/** Plain-HTTP endpoints are allowed only on loopback (the local dev issuer). */
function requestOptions(config: DashboardConfig): { [oauth.allowInsecureRequests]?: boolean } {
  const host = new URL(config.oidc.tokenEndpoint).hostname;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(host) ? { [oauth.allowInsecureRequests]: true } : {};
}

/** Sends the browser to the issuer's login; `returnTo` is the tab to come back to. */
export async function startLogin(config: DashboardConfig, returnTo: string): Promise<never> {
  const pending: PendingLogin = {
    verifier: oauth.generateRandomCodeVerifier(),
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    returnTo,
  };
  sessionStorage.setItem(pendingKey, JSON.stringify(pending));
  const url = new URL(config.oidc.authorizationEndpoint);
  url.search = new URLSearchParams({
    client_id: config.oidc.clientId,
    redirect_uri: redirectUri(),
    response_type: 'code',
    scope: config.oidc.scope,
    code_challenge: await oauth.calculatePKCECodeChallenge(pending.verifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  }).toString();
  window.location.assign(url.href);
  // The page is leaving; nothing after this runs.
  return new Promise<never>(() => {});
}

/** Roles from the access token's payload (display only: the API checks them itself). */
function claimsOf(token: string): { sub?: string; roles?: unknown; exp?: number } {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
}

/**
 * Finishes a login when the page is the issuer's redirect (`?code=…&state=…`): exchanges the code, cleans
 * the address bar and returns the session with the tab to show. Undefined when the page is not a redirect.
 * @throws when the redirect does not belong to the login this tab started, or the issuer refuses the code.
 */
export async function completeLogin(
  config: DashboardConfig,
): Promise<{ session: Session; returnTo: string } | undefined> {
  const here = new URL(window.location.href);
  if (!here.searchParams.has('code') && !here.searchParams.has('error')) return undefined;
  const stored = sessionStorage.getItem(pendingKey);
  sessionStorage.removeItem(pendingKey);
  window.history.replaceState(null, '', here.pathname);
  if (!stored) throw new Error('This login was not started here; sign in again.');
  const pending = JSON.parse(stored) as PendingLogin;
  const as = server(config);
  const client: oauth.Client = {
    client_id: config.oidc.clientId,
    id_token_signed_response_alg: config.oidc.idTokenSigningAlg,
  };
  const params = oauth.validateAuthResponse(as, client, here, pending.state);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri(),
    pending.verifier,
    requestOptions(config),
  );
  const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
    expectedNonce: pending.nonce,
    requireIdToken: true,
  });
  const claims = claimsOf(result.access_token);
  const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
  const expiresAtMs = (claims.exp ?? Date.now() / 1000 + (result.expires_in ?? 0)) * 1000;
  return {
    session: { accessToken: result.access_token, subject: claims.sub ?? '', roles, expiresAtMs },
    returnTo: pending.returnTo,
  };
}

/** Whether the session's roles satisfy `role`, in the API's own order (display only: the API decides). */
export function hasRole(session: Session, role: Role): boolean {
  return roleSatisfies(session.roles, role);
}
