// `npm run screenshots`: starts the system as `npm run dev` does (its own state directory and free ports, so
// a running dev instance is not touched), with the dev fleet's agents and their demo services producing live
// metrics and logs, logs in through the dev issuer in Chromium as an operator and saves a viewport shot of
// each dashboard tab to docs/screenshots/{overview,workers,services,logs}.png.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../infra/local/services/free-port.ts';
import { launchChromium, logInToDashboard } from '../test/setup/browser.ts';

const root = resolve(import.meta.dirname, '..');
const outDir = join(root, 'docs/screenshots');

async function startDev(): Promise<{ child: ChildProcess; base: string; wsUrl: string; stateDir: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'vfleet-screenshots-'));
  const [httpPort, wsPort] = [await freePort(), await freePort()];
  const child = spawn(join(root, 'node_modules/.bin/tsx'), ['infra/local/dev.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(httpPort), WS_PORT: String(wsPort), VFLEET_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  for (let waited = 0; !output.includes('Ctrl-C stops everything'); waited += 200) {
    if (child.exitCode !== null || waited > 180_000) throw new Error(`npm run dev did not start:\n${output}`);
    await sleep(200);
  }
  return { child, base: `http://127.0.0.1:${httpPort}`, wsUrl: `ws://127.0.0.1:${wsPort}`, stateDir };
}

async function main() {
  console.log('starting the system as npm run dev does…');
  const dev = await startDev();
  const stop: (() => Promise<unknown>)[] = [];
  try {
    const adminToken = (await readFile(join(dev.stateDir, 'dev-token'), 'utf8')).trim();
    // The dashboard needs nodes that report; wait for them.
    for (let waited = 0; ; waited += 500) {
      const metrics = (await (
        await fetch(`${dev.base}/api/dashboard/metrics`, {
          headers: { authorization: `Bearer ${adminToken}` },
        })
      ).json()) as { nodes: Record<string, { metrics: unknown }> };
      if (Object.values(metrics.nodes).some((node) => node.metrics)) break;
      if (waited > 30_000) {
        throw new Error('no node of the dev fleet reported dashboard metrics within 30 s');
      }
      await sleep(500);
    }
    // The agents report every 30-300 s; for a history to show, ask each for a report every second for a
    // while, as an operator can (`report_now`), while their demo services keep logging.
    const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const metrics = (await (await fetch(`${dev.base}/api/dashboard/metrics`, { headers })).json()) as {
      nodes: Record<string, unknown>;
    };
    for (let i = 0; i < 30; i++) {
      await Promise.all(
        Object.keys(metrics.nodes).map((node) =>
          fetch(`${dev.base}/api/dashboard/nodes/${node}/reporter`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ action: 'report_now' }),
          }),
        ),
      );
      await sleep(1_000);
    }
    const browser = await launchChromium();
    stop.push(() => browser.close());
    await mkdir(outDir, { recursive: true });
    const page = await logInToDashboard(browser, dev.base, 'olivia', 'operator', '#overview');
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.waitForSelector('#connection[data-state=open]');
    await page.waitForSelector('#panel-overview tr[data-node]');
    await sleep(1_500);
    const shoot = async (tab: string) => {
      const file = join(outDir, `${tab}.png`);
      await page.screenshot({ path: file });
      console.log(`  ${file} (${Math.round((await stat(file)).size / 1024)} KB)`);
    };
    await shoot('overview');
    await page.click('#tab-workers');
    await page.waitForSelector('#panel-workers .chart:not([data-points="0"])');
    await sleep(1_000);
    await shoot('workers');
    await page.click('#tab-services');
    // One command, so the shot shows a result: restart the first service of the list.
    const restart = await page.waitForSelector('#panel-services tbody tr button[data-action=restart]');
    await restart.click();
    await page.waitForSelector('#panel-services .progress[data-progress=succeeded]', { timeout: 30_000 });
    await shoot('services');
    await page.click('#tab-logs');
    await page.waitForFunction(() => document.querySelectorAll('#panel-logs li.log').length > 20, undefined, {
      timeout: 30_000,
    });
    await shoot('logs');
  } finally {
    for (const step of stop.reverse()) await step().catch(console.error);
    dev.child.kill('SIGINT');
    await new Promise((resolveExit) => dev.child.once('exit', resolveExit));
    await rm(dev.stateDir, { recursive: true, force: true });
  }
}

main().then(
  // The demo agents' sockets and timers are closed; exit even if a library keeps a handle open.
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
