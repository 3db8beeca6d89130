/// <reference lib="dom" />
// End-to-end — the dashboard's tabs in Chromium against the local runtime and a fleet of nodes
// (test/e2e/dashboard-fleet.ts, real agents): each tab renders; the Overview flags failed services, silent and removed
// nodes and a missing agent connection; a new metrics report moves the node's chart; a new log line
// arrives live and respects the filters and the search; older lines page back by the API's backward cursor
// (by keyboard too, keeping the filters and the search); a missed `new_logs` is filled over HTTP; a restart
// click changes the service's state; the log view resumes without a gap after the WebSocket is dropped; a
// viewer sees no control buttons. Waits assert arrival (generous timeouts), never a time bound.
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../infra/local/dashboard.ts';
import { launchChromium, logInToDashboard } from '../setup/browser.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';
import { type Fleet, startFleet } from './dashboard-fleet.ts';

let harness: TestRuntime;
let browser: Browser;
let fleet: Fleet;
let base: string;
const arrival = { timeout: 20_000 };

beforeAll(async () => {
  await buildDashboard(resolve(import.meta.dirname, '../..'));
  // The janitor every second, so a node made silent is announced (expired, removed) at once.
  harness = await startTestRuntime('dashboard_tabs', {
    scheduleOverrides: { 'dashboard-janitor': { everySeconds: 1 } },
  });
  base = harness.runtime.httpUrl;
  fleet = await startFleet(harness, [
    { id: 'node-1', services: { web: 'running', batch: 'failing', cron: 'stopped' } },
    { id: 'node-2', services: { web: 'running' } },
    { id: 'node-3', services: { web: 'running' }, connected: false },
    { id: 'node-4', services: { web: 'running' } },
    { id: 'node-5', services: { web: 'running' } },
  ]);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await fleet?.stop();
  await harness?.stop();
});

const logIn = (user: string, role: string, hash?: string): Promise<Page> =>
  logInToDashboard(browser, base, user, role, hash);

const badgesOf = (page: Page, node: string) =>
  page.$$eval(`#panel-overview tr[data-node="${node}"] [data-badge]`, (badges) =>
    badges.map((badge) => (badge as HTMLElement).dataset.badge),
  );

describe('Overview', () => {
  it('shows the cluster statistics and flags failed services, silent nodes and missing agents', async () => {
    const page = await logIn('olga', 'viewer', '#overview');
    await page.waitForSelector('#panel-overview tr[data-node="node-5"]', arrival);
    // node-4 stopped reporting two minutes ago; node-5 eleven minutes ago (the janitor removes it).
    await fleet.silence('node-4', 120_000);
    await fleet.silence('node-5', 11 * 60_000);
    await page.waitForSelector('#panel-overview tr[data-node="node-4"] [data-badge=expired]', arrival);
    await page.waitForSelector('#panel-overview tr[data-node="node-5"] [data-badge=removed]', arrival);
    expect(await badgesOf(page, 'node-1')).toContain('failed');
    expect(await page.textContent('#panel-overview tr[data-node="node-1"] [data-badge=failed]')).toContain(
      'batch',
    );
    expect(await badgesOf(page, 'node-3')).toEqual(['no-agent']);
    const nodeB = await badgesOf(page, 'node-2');
    expect(nodeB).not.toContain('failed');
    expect(nodeB).not.toContain('no-agent');
    // The statistics count what the list shows: node-5 is gone, node-4 silent, one service failed.
    await page.waitForFunction(
      () => document.querySelector('[data-stat=expired] dd')?.textContent === '1',
      undefined,
      arrival,
    );
    expect(await page.textContent('[data-stat=errors] dd')).toBe('1');
    expect(await page.textContent('[data-stat=active] dd')).toMatch(/^\d \/ 4$/);
    await page.close();
  });
});

describe('Workers', () => {
  it('shows each node’s details and a history chart that moves when the node reports', async () => {
    const page = await logIn('walt', 'viewer', '#workers');
    const card = '#panel-workers article[data-node="node-2"]';
    await page.waitForSelector(`${card} .chart[data-points]:not([data-points="0"])`, arrival);
    expect(await page.textContent(`${card} .details`)).toContain('web: running');
    expect(await page.$(`${card} canvas`)).not.toBeNull();
    const before = Number(await page.getAttribute(`${card} .chart`, 'data-points'));
    await fleet.node('node-2').report({ cpu: 87.5, memory: 61, disk: 33 });
    await page.waitForFunction(
      (selector) => {
        const last = (document.querySelector(selector) as HTMLElement | null)?.dataset.last;
        return last ? JSON.parse(last).cpu === 87.5 : false;
      },
      `${card} .chart`,
      arrival,
    );
    const after = Number(await page.getAttribute(`${card} .chart`, 'data-points'));
    expect(after).toBe(before + 1);
    expect(JSON.parse((await page.getAttribute(`${card} .chart`, 'data-last'))!)).toMatchObject({
      memory: 61,
      disk: 33,
    });
    await page.close();
  });
});

const lineWith = (text: string) => `#panel-logs .log-lines li.log:has-text("${text}")`;

describe('Logs', () => {
  it('shows a new line live, colour-coded by level', async () => {
    const page = await logIn('lena', 'viewer', '#logs');
    await page.waitForSelector('#connection[data-state=open]', arrival);
    await fleet.node('node-1').log([{ level: 'ERROR', logger: 'Service.web', message: 'live line one' }]);
    const line = await page.waitForSelector(lineWith('live line one'), arrival);
    expect(await line.getAttribute('class')).toContain('level-ERROR');
    expect(await line.evaluate((el) => getComputedStyle(el.querySelector('.log-level')!).color)).toBe(
      'rgb(255, 123, 114)',
    );
    await page.close();
  });

  it('respects the node, level and logger filters and the search, for stored and live lines', async () => {
    const page = await logIn('lars', 'viewer', '#logs');
    await page.waitForSelector('#connection[data-state=open]', arrival);
    await fleet.node('node-2').log([
      { level: 'WARNING', logger: 'Service.db', message: 'filter seed' },
      { level: 'WARNING', logger: 'Service.web', message: 'logger seed' },
    ]);
    // The filters' choices come from the log sources; the logger appeared with the line above.
    await page.waitForSelector(lineWith('filter seed'), arrival);
    await page.selectOption('select[name=node]', 'node-2');
    await page.selectOption('select[name=level]', 'WARNING');
    await page.selectOption('select[name=logger]', 'Service.db');
    await page.waitForSelector(lineWith('logger seed'), { ...arrival, state: 'detached' });
    await page.waitForSelector(lineWith('filter seed'), arrival);
    // Lines the filters exclude are sent first; the matching one after them, so its arrival proves theirs.
    await fleet.node('node-1').log([{ level: 'WARNING', logger: 'Service.db', message: 'other node warn' }]);
    await fleet.node('node-2').log([
      { level: 'INFO', logger: 'Service.db', message: 'same node info' },
      { level: 'WARNING', logger: 'Service.web', message: 'other logger warn' },
      { level: 'WARNING', logger: 'Service.db', message: 'wanted warn' },
    ]);
    await page.waitForSelector(lineWith('wanted warn'), arrival);
    expect(await page.$(lineWith('other node warn'))).toBeNull();
    expect(await page.$(lineWith('same node info'))).toBeNull();
    expect(await page.$(lineWith('other logger warn'))).toBeNull();
    const shown = await page.$$eval('#panel-logs li.log', (lines) =>
      lines.map((l) => `${(l as HTMLElement).dataset.node}/${(l as HTMLElement).dataset.level}`),
    );
    expect(new Set(shown)).toEqual(new Set(['node-2/WARNING']));

    // Search (over HTTP) within the filters, then live lines must match it too.
    await fleet.node('node-2').log([{ level: 'WARNING', logger: 'Service.db', message: 'needle in stored' }]);
    await page.waitForSelector(lineWith('needle in stored'), arrival);
    await page.fill('input[name=q]', 'NEEDLE');
    await page.click('.search button[type=submit]');
    // The search empties the view and then draws its answer: wait for that, not just for the emptying.
    await page.waitForSelector(lineWith('wanted warn'), { ...arrival, state: 'detached' });
    await page.waitForSelector(lineWith('needle in stored'), arrival);
    expect(await page.$(lineWith('wanted warn'))).toBeNull();
    await fleet.node('node-2').log([
      { level: 'WARNING', logger: 'Service.db', message: 'haystack only' },
      { level: 'WARNING', logger: 'Service.db', message: 'live needle too' },
    ]);
    await page.waitForSelector(lineWith('live needle too'), arrival);
    expect(await page.$(lineWith('haystack only'))).toBeNull();
    await page.close();
  });

  it('pages back to older lines than the live view holds', async () => {
    // 300 lines: the view opens with the newest 200 of them.
    await fleet
      .node('node-3')
      .log(
        Array.from({ length: 300 }, (_, i) => ({ logger: 'Service.bulk', message: `bulk line ${i + 1}.` })),
      );
    const page = await logIn('pia', 'viewer', '#logs');
    await page.waitForSelector('#connection[data-state=open]', arrival);
    await page.selectOption('select[name=node]', 'node-3');
    await page.waitForSelector(lineWith('bulk line 300.'), arrival);
    expect(await page.$(lineWith('bulk line 1.'))).toBeNull();
    await page.click('button[data-older]');
    await page.waitForSelector(lineWith('bulk line 1.'), arrival);
    // Every line once, in order.
    const seqs = await page.$$eval('#panel-logs li.log[data-node="node-3"]', (lines) =>
      lines.map((l) => Number((l as HTMLElement).dataset.seq)),
    );
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs.length).toBeGreaterThanOrEqual(300);
    await page.close();
  });

  it('pages back by keyboard through history older than the first window, keeping the filters and the search', async () => {
    // 1,000 lines: the even ones WARNING, every fourth "kept". 250 match the filters and the search; the view
    // opens with the newest 200 of them.
    await fleet.node('node-1').log(
      Array.from({ length: 1_000 }, (_, i) => ({
        level: (i + 1) % 2 ? 'INFO' : 'WARNING',
        logger: 'Service.aged',
        message: `aged line ${i + 1}${(i + 1) % 4 ? '' : ' kept'}.`,
      })),
    );
    const page = await logIn('paul', 'viewer', '#logs');
    await page.waitForSelector('#connection[data-state=open]', arrival);
    await page.selectOption('select[name=node]', 'node-1');
    await page.selectOption('select[name=level]', 'WARNING');
    await page.waitForSelector(lineWith('aged line 998.'), arrival);
    await page.fill('input[name=q]', 'KEPT');
    await page.press('input[name=q]', 'Enter');
    // The search's answer drawn: 200 lines, every one "kept" (the level filter alone shows others too).
    await page.waitForFunction(
      () => {
        const lines = Array.from(document.querySelectorAll('#panel-logs li.log .log-message'));
        return lines.length === 200 && lines.every((line) => line.textContent?.includes('kept'));
      },
      undefined,
      arrival,
    );
    const shown = () =>
      page.$$eval('#panel-logs li.log', (lines) =>
        lines.map((l) => ({
          node: (l as HTMLElement).dataset.node,
          level: (l as HTMLElement).dataset.level,
          seq: Number((l as HTMLElement).dataset.seq),
          message: l.querySelector('.log-message')?.textContent ?? '',
        })),
      );
    expect((await shown()).at(-1)?.message).toBe('aged line 1000 kept.');
    expect(await page.$(lineWith('aged line 4 kept.'))).toBeNull();

    // By keyboard: Enter on the focused button, which keeps the focus while it loads and after.
    const older = page.locator('button[data-older]');
    await older.focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector(lineWith('aged line 4 kept.'), arrival);
    await page.waitForSelector('button[data-older="exhausted"]', arrival);
    expect(await older.evaluate((button) => button === document.activeElement)).toBe(true);
    expect(await older.getAttribute('aria-disabled')).toBe('true');
    expect(await older.textContent()).toBe('No older lines');

    // The filters and the search held: every matching line once, in order, and nothing else.
    const all = await shown();
    expect(all.every((l) => l.node === 'node-1' && l.level === 'WARNING')).toBe(true);
    expect(all.map((l) => l.message)).toEqual(
      Array.from({ length: 250 }, (_, i) => `aged line ${4 * (i + 1)} kept.`),
    );
    const seqs = all.map((l) => l.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(await page.inputValue('select[name=node]')).toBe('node-1');
    expect(await page.inputValue('select[name=level]')).toBe('WARNING');
    expect(await page.inputValue('input[name=q]')).toBe('KEPT');
    expect(await page.textContent('#panel-logs .notice[aria-live]')).toBe('50 older lines above.');
    await page.close();
  });

  it('fills a sequence gap left by a missed new_logs with the missing lines, once each', async () => {
    const page = await logIn('gina', 'viewer', '#logs');
    await page.waitForSelector('#connection[data-state=open]', arrival);
    await page.selectOption('select[name=node]', 'node-2');
    await fleet.node('node-2').log([{ message: 'gap before' }]);
    await page.waitForSelector(lineWith('gap before'), arrival);
    // From the next connection on, every frame from the server carrying the marked line is lost on the way.
    let lost = 0;
    await page.routeWebSocket(/.*/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((message) => {
        if (String(message).includes('gap lost')) lost++;
        else ws.send(message);
      });
    });
    await page.evaluate(() => (window as unknown as { vfleetSocket: { drop(): void } }).vfleetSocket.drop());
    await page.waitForSelector('#connection:not([data-state=open])', arrival);
    await page.waitForSelector('#connection[data-state=open]', arrival);
    // The resumed subscription's initial answer has come (the line before is still the newest shown).
    await fleet.node('node-2').log([{ message: 'gap probe' }]);
    await page.waitForSelector(lineWith('gap probe'), arrival);

    await fleet.node('node-2').log([{ message: 'gap lost 1' }, { message: 'gap lost 2' }]);
    await expect.poll(() => lost, arrival).toBeGreaterThan(0);
    expect(await page.$(lineWith('gap lost'))).toBeNull();
    const gapRead = page.waitForRequest(
      (request) => request.url().includes('/api/dashboard/logs') && request.url().includes('cursor='),
      arrival,
    );
    await fleet.node('node-2').log([{ message: 'gap after' }]);
    await page.waitForSelector(lineWith('gap after'), arrival);
    // The jump in the node's sequence made the page read the missing lines over HTTP.
    expect(new URL((await gapRead).url()).searchParams.get('node')).toBe('node-2');
    await page.waitForSelector(lineWith('gap lost 2'), arrival);
    const tail = await page.$$eval('#panel-logs li.log[data-node="node-2"]', (lines) =>
      lines.map((l) => ({
        seq: Number((l as HTMLElement).dataset.seq),
        message: l.querySelector('.log-message')?.textContent ?? '',
      })),
    );
    const from = tail.findIndex((l) => l.message === 'gap probe');
    const window = tail.slice(from);
    expect(window.map((l) => l.message)).toEqual(['gap probe', 'gap lost 1', 'gap lost 2', 'gap after']);
    expect(window.map((l) => l.seq)).toEqual([0, 1, 2, 3].map((i) => window[0]!.seq + i));
    const seqs = tail.map((l) => l.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    await page.close();
  });

  it('resumes after the WebSocket is dropped with every line once and no gap', async () => {
    const page = await logIn('rita', 'viewer', '#logs');
    await page.waitForSelector('#connection[data-state=open]', arrival);
    await page.selectOption('select[name=node]', 'node-2');
    await fleet.node('node-2').log([{ message: 'before the drop' }]);
    await page.waitForSelector(lineWith('before the drop'), arrival);
    await page.evaluate(() => (window as unknown as { vfleetSocket: { drop(): void } }).vfleetSocket.drop());
    await page.waitForSelector('#connection:not([data-state=open])', arrival);
    // Shipped while the page has no connection: they can only come back through the resume.
    await fleet.node('node-2').log([{ message: 'during the drop 1' }, { message: 'during the drop 2' }]);
    await page.waitForSelector('#connection[data-state=open]', arrival);
    await fleet.node('node-2').log([{ message: 'after the drop' }]);
    await page.waitForSelector(lineWith('after the drop'), arrival);
    expect(await page.$$(lineWith('during the drop'))).toHaveLength(2);
    const seqs = await page.$$eval('#panel-logs li.log[data-node="node-2"]', (lines) =>
      lines.map((l) => Number((l as HTMLElement).dataset.seq)),
    );
    const tail = seqs.slice(seqs.indexOf(Math.max(...seqs)) - 3);
    expect(tail).toEqual([tail[0]!, tail[0]! + 1, tail[0]! + 2, tail[0]! + 3]);
    await page.close();
  });
});

describe('Services', () => {
  it('restarts a service on a click: progress, then the result and the new state', async () => {
    const page = await logIn('oscar', 'operator', '#services');
    const row = '#panel-services tr[data-node="node-1"][data-service="cron"]';
    await page.waitForSelector(`${row} [data-state=stopped]`, arrival);
    expect(
      await page.textContent('#panel-services tr[data-node="node-1"][data-service="batch"] .state'),
    ).toBe('error');
    await page.click(`${row} button[data-action=restart]`);
    await page.waitForSelector(`${row} .progress[data-progress=succeeded]`, arrival);
    expect(await page.textContent(`${row} .progress`)).toContain('restart: done, now running');
    await page.waitForSelector(`${row} [data-state=running]`, arrival);
    expect(await fleet.node('node-1').serviceState('cron')).toBe('running');
    await page.close();
  });

  it('shows a command to a node without its control connection as waiting for the agent', async () => {
    // node-3 still heartbeats, so the control plane queues the command for its next connection (202).
    const page = await logIn('otto', 'operator', '#services');
    const row = '#panel-services tr[data-node="node-3"][data-service="web"]';
    await page.waitForSelector(row, arrival);
    await page.click(`${row} button[data-action=stop]`);
    await page.waitForSelector(`${row} .progress[data-progress=sending]`, arrival);
    await page.waitForSelector(`${row} .progress[data-progress=pending]`, { timeout: 40_000 });
    expect(await page.textContent(`${row} .progress`)).toContain('stop: waiting for the agent');
    // Buttons stay disabled while the command is open.
    expect(await page.isDisabled(`${row} button[data-action=start]`)).toBe(true);
    await page.close();
  });

  it('shows a viewer the services without any control button', async () => {
    const page = await logIn('vera', 'viewer', '#services');
    await page.waitForSelector('#panel-services tr[data-node="node-1"][data-service="cron"]', arrival);
    expect(await page.$$('#panel-services button')).toHaveLength(0);
    expect(await page.isVisible('#panel-services [data-role-note]')).toBe(true);
    await page.close();
  });
});
