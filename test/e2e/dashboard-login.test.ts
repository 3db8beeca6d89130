/// <reference lib="dom" />
// End-to-end — the dashboard (web/) in Chromium against the local runtime: the authorization code + PKCE
// login through the dev issuer, tokens kept out of browser storage, the tabs and their keyboard navigation,
// the WebSocket's visible state and its recovery after a drop, and the security headers of the site. The
// issuer's refusals (wrong verifier, reused code, foreign redirect) are checked over plain HTTP.
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../infra/local/dashboard.ts';
import { launchChromium, logInToDashboard } from '../setup/browser.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';

let harness: TestRuntime;
let browser: Browser;
let base: string;

beforeAll(async () => {
  await buildDashboard(resolve(import.meta.dirname, '../..'));
  harness = await startTestRuntime('dashboard_login');
  base = harness.runtime.httpUrl;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await harness?.stop();
});

const logIn = (user: string, role: string, hash?: string): Promise<Page> =>
  logInToDashboard(browser, base, user, role, hash);

describe('dashboard login (authorization code + PKCE through the dev issuer)', () => {
  it('comes back to the tab it left from, as the chosen user, with no token in browser storage', async () => {
    const page = await logIn('alice', 'operator', '#services');
    expect(await page.textContent('#who')).toBe('alice · operator');
    expect(await page.getAttribute('#tab-services', 'aria-selected')).toBe('true');
    expect(await page.isVisible('#panel-services')).toBe(true);
    expect(await page.isHidden('#panel-overview')).toBe(true);
    // The address bar no longer carries the code; nothing of the login stays in storage.
    expect(new URL(page.url()).search).toBe('');
    const stored = await page.evaluate(() => ({
      local: Object.keys(localStorage).length,
      session: Object.keys(sessionStorage).length,
    }));
    expect(stored).toEqual({ local: 0, session: 0 });
    await page.close();
  });

  it('sends a page without a session to the login, and a reload needs a new login (tokens in memory)', async () => {
    const page = await logIn('bob', 'viewer');
    await page.reload();
    await page.waitForURL(/\/dev-issuer\/authorize\?/);
    const authorize = new URL(page.url());
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('client_id')).toBe('vfleet-dashboard');
    await page.close();
  });
});

describe('dashboard shell', () => {
  it('moves between the four tabs with the arrow keys, Home and End', async () => {
    const page = await logIn('carol', 'viewer');
    const selected = () => page.getAttribute('[role=tab][aria-selected=true]', 'id');
    expect(await page.$$eval('[role=tab]', (tabs) => tabs.map((t) => t.textContent))).toEqual([
      'Overview',
      'Workers',
      'Services',
      'Logs',
    ]);
    await page.focus('#tab-overview');
    await page.keyboard.press('ArrowRight');
    expect(await selected()).toBe('tab-workers');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-workers');
    await page.keyboard.press('End');
    expect(await selected()).toBe('tab-logs');
    await page.keyboard.press('ArrowRight');
    expect(await selected()).toBe('tab-overview');
    await page.keyboard.press('ArrowLeft');
    expect(await selected()).toBe('tab-logs');
    await page.keyboard.press('Home');
    expect(await selected()).toBe('tab-overview');
    // Only the selected tab is in the tab order.
    expect(await page.$$eval('[role=tab]', (tabs) => tabs.map((t) => (t as HTMLElement).tabIndex))).toEqual([
      0, -1, -1, -1,
    ]);
    await page.close();
  });

  it('shows the WebSocket live, then reconnecting after a drop, then live again', async () => {
    const page = await logIn('dave', 'viewer');
    await page.waitForSelector('#connection[data-state=open]');
    // Every state the indicator shows, in order: each change's old value (the observer may run after several
    // changes, so the current value would skip some), then the value it ends on.
    await page.evaluate(() => {
      const node = document.getElementById('connection')!;
      const seen: string[] = [];
      (window as unknown as { seenStates: string[] }).seenStates = seen;
      new MutationObserver((records) => {
        for (const record of records) seen.push(record.oldValue ?? '');
      }).observe(node, { attributes: true, attributeFilter: ['data-state'], attributeOldValue: true });
      (window as unknown as { vfleetSocket: { drop(): void } }).vfleetSocket.drop();
    });
    await page.waitForFunction(
      () =>
        document.getElementById('connection')?.dataset.state === 'open' &&
        (window as unknown as { seenStates: string[] }).seenStates.length > 0,
      undefined,
      { timeout: 30_000 },
    );
    const states = await page.evaluate(() => [
      ...(window as unknown as { seenStates: string[] }).seenStates.slice(1),
      document.getElementById('connection')?.dataset.state ?? '',
    ]);
    // It went through waiting and connecting before it was live again.
    expect(states.indexOf('waiting')).toBeGreaterThanOrEqual(0);
    expect(states.lastIndexOf('connecting')).toBeGreaterThan(states.indexOf('waiting'));
    expect(states.at(-1)).toBe('open');
    await page.close();
  });
});

describe('dashboard site headers', () => {
  it('serves the page with a strict CSP, no framing and no sniffing, and never a file outside the build', async () => {
    const page = await fetch(`${base}/dashboard/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain(harness.runtime.wsUrl);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('id="app"');
    const traversal = await fetch(`${base}/dashboard/..%2f..%2fpackage.json`);
    expect(await traversal.text()).not.toContain('"devDependencies"');
    const missing = await fetch(`${base}/dashboard/assets/nope.js`);
    expect(missing.status).toBe(404);
    const config = (await (await fetch(`${base}/dashboard/config.json`)).json()) as { wsUrl: string };
    expect(config.wsUrl).toBe(harness.runtime.wsUrl);
  });
});

describe('dev issuer token endpoint', () => {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirectUri = () => `${base}/dashboard/`;

  /** Logs in over HTTP as the page would, and returns the code the issuer redirects with. */
  async function codeFor(user: string): Promise<string> {
    const answer = await fetch(`${base}/dev-issuer/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: 'vfleet-dashboard',
        redirect_uri: redirectUri(),
        code_challenge: challenge,
        state: 's1',
        username: user,
        role: 'viewer',
      }),
    });
    expect(answer.status).toBe(302);
    const location = new URL(answer.headers.get('location')!);
    expect(location.searchParams.get('state')).toBe('s1');
    return location.searchParams.get('code')!;
  }

  const exchange = (code: string, codeVerifier: string) =>
    fetch(`${base}/dev-issuer/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: codeVerifier,
        client_id: 'vfleet-dashboard',
        redirect_uri: redirectUri(),
      }),
    });

  it('gives an API token for the right verifier, once; the token works against the API', async () => {
    const code = await codeFor('erin');
    const first = await exchange(code, verifier);
    expect(first.status).toBe(200);
    const tokens = (await first.json()) as { access_token: string; token_type: string };
    expect(tokens.token_type).toBe('Bearer');
    const me = await fetch(`${base}/api/v1/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ subject: 'erin', roles: ['viewer'] });
    const again = await exchange(code, verifier);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a wrong verifier, and the code is spent by the attempt', async () => {
    const code = await codeFor('frank');
    const wrong = await exchange(code, randomBytes(32).toString('base64url'));
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });
    const right = await exchange(code, verifier);
    expect(right.status).toBe(400);
  });

  it('never redirects to a foreign redirect_uri, and requires S256', async () => {
    const foreign = await fetch(
      `${base}/dev-issuer/authorize?${new URLSearchParams({
        client_id: 'vfleet-dashboard',
        redirect_uri: 'https://attacker.example/dashboard/',
        response_type: 'code',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      })}`,
      { redirect: 'manual' },
    );
    expect(foreign.status).toBe(400);
    const plain = await fetch(
      `${base}/dev-issuer/authorize?${new URLSearchParams({
        client_id: 'vfleet-dashboard',
        redirect_uri: redirectUri(),
        response_type: 'code',
        code_challenge: challenge,
        code_challenge_method: 'plain',
      })}`,
    );
    expect(plain.status).toBe(400);
    expect(await plain.text()).toContain('S256');
  });
});
