// `npm run screenshots`: starts the system as `npm run dev` does (its own state directory and free ports, so
// a running dev instance is not touched), logs in through the dev issuer in Chromium as an operator and
// saves a viewport shot of each dashboard tab to docs/screenshots/{overview,workers,services,logs}.png.
//
// The shots need live dashboard data. `--demo-agents` adds three demo nodes (the protocol's agent double,
// test/integration/dashboard-agent.ts: a real control WebSocket, real child processes as services) that
// report and log for the shots, for as long as the dev fleet's agents have no dashboard reporter of their
// own; without it the script waits for the dev fleet's nodes and stops with an error if none report.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../infra/local/services/free-port.ts';
import { Supervisor, TestAgent } from '../test/integration/dashboard-agent.ts';
import { launchChromium, logInToDashboard } from '../test/setup/browser.ts';

const root = resolve(import.meta.dirname, '..');
const outDir = join(root, 'docs/screenshots');
const demoAgents = process.argv.includes('--demo-agents');

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

/** Demo nodes: services under a supervisor, metrics every 2 s (with a back-filled history), a log stream. */
async function startDemoAgents(
  base: string,
  wsUrl: string,
  mint: (node: string) => Promise<string>,
  onStop: (step: () => Promise<unknown>) => void,
): Promise<void> {
  const specs: { id: string; services: Record<string, string[]>; load: number }[] = [
    { id: 'demo-1', services: { web: ['sleep', '86400'], worker: ['sleep', '86400'] }, load: 35 },
    { id: 'demo-2', services: { web: ['sleep', '86400'], batch: ['sh', '-c', 'exit 3'] }, load: 60 },
    { id: 'demo-3', services: { web: ['sleep', '86400'], cron: ['sleep', '86400'] }, load: 15 },
  ];
  const agents: TestAgent[] = [];
  const timers: NodeJS.Timeout[] = [];
  const stop = async () => {
    for (const timer of timers) clearInterval(timer);
    await Promise.allSettled(agents.flatMap((agent) => [agent.disconnect(), agent.supervisor.stopAll()]));
  };
  onStop(stop);
  for (const spec of specs) {
    const supervisor = new Supervisor(spec.services);
    const token = await mint(spec.id);
    const agent = new TestAgent({ nodeId: spec.id, token, httpUrl: base, wsUrl, supervisor });
    agents.push(agent);
    for (const name of Object.keys(spec.services)) if (name !== 'cron') await supervisor.start(name);
    await agent.connect();
    const sample = (t: number) => {
      const wave = (period: number, amplitude: number) => amplitude * Math.sin((t / period) * 2 * Math.PI);
      const clamp = (v: number) => Math.max(0, Math.min(100, Math.round(v * 10) / 10));
      return {
        cpu: clamp(spec.load + wave(600_000, 15) + (Math.random() - 0.5) * 12),
        memory: clamp(spec.load / 2 + 30 + wave(1_800_000, 5)),
        disk: clamp(40 + spec.load / 3 + wave(3_600_000, 2)),
      };
    };
    const report = async (at: number) => {
      const values = sample(at);
      const gb = (n: number) => Math.round(n * 1e9);
      const response = await fetch(`${base}/api/v1/nodes/${spec.id}/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          timestamp: new Date(at).toISOString(),
          cpu_percent: values.cpu,
          memory: {
            percent: values.memory,
            total: gb(16),
            available: gb(16 * (1 - values.memory / 100)),
            used: gb(16 * (values.memory / 100)),
          },
          disk: {
            percent: values.disk,
            mounts: [
              {
                mount: '/',
                total: gb(200),
                used: gb(2 * values.disk),
                free: gb(200 - 2 * values.disk),
                percent: values.disk,
              },
            ],
          },
          services: supervisor.states(),
          reporter: agent.reporter,
        }),
      });
      agent.reporter.total_reports++;
      if (response.status !== 200)
        throw new Error(`demo report answered ${response.status}: ${await response.text()}`);
    };
    // The last 25 minutes at one sample per 15 s, so the charts have a history to show.
    const now = Date.now();
    for (let i = 99; i >= 1; i--) await report(now - i * 15_000);
    timers.push(setInterval(() => void report(Date.now()).catch(console.error), 2_000));
  }
  // Lines a node's own services would write, mostly routine, now and then a warning or an error.
  const messages: Record<string, [string, string][]> = {
    web: [
      ['INFO', 'GET /orders 200 in 12 ms'],
      ['INFO', 'GET /health 200 in 1 ms'],
      ['INFO', 'POST /orders 201 in 31 ms'],
      ['WARNING', 'GET /reports 200 in 1840 ms (slow)'],
      ['CRITICAL', 'database connection pool exhausted (50 of 50 in use)'],
    ],
    worker: [
      ['DEBUG', 'picked job 4711 from queue default'],
      ['INFO', 'job 4711 done in 2.3 s'],
      ['WARNING', 'job 4712 retried (attempt 2 of 5)'],
    ],
    batch: [['ERROR', 'batch exited with status 3: input file /data/in.csv missing']],
    cron: [['INFO', 'nightly-report scheduled for 02:00']],
  };
  let n = 0;
  timers.push(
    setInterval(() => {
      const agent = agents[n % agents.length]!;
      const services = Object.keys(specs[n % specs.length]!.services);
      const service = services[Math.floor(Math.random() * services.length)]!;
      const choices = messages[service] ?? [];
      // Routine lines far more often than the last (worst) one.
      const [level, message] = choices[Math.floor(Math.random() ** 2 * choices.length)]!;
      n++;
      void agent.log([{ level, logger: `Service.${service}`, message }]).catch(console.error);
    }, 400),
  );
}

async function main() {
  console.log('starting the system as npm run dev does…');
  const dev = await startDev();
  const stop: (() => Promise<unknown>)[] = [];
  try {
    const adminToken = (await readFile(join(dev.stateDir, 'dev-token'), 'utf8')).trim();
    if (demoAgents) {
      const { loadDevIssuer } = await import('../infra/local/dev-issuer.ts');
      const issuer = await loadDevIssuer(dev.stateDir);
      await startDemoAgents(
        dev.base,
        dev.wsUrl,
        (node) => issuer.mint(['node'], { subject: node }),
        (step) => stop.push(step),
      );
    }
    // The dashboard needs nodes that report; wait for them.
    for (let waited = 0; ; waited += 500) {
      const metrics = (await (
        await fetch(`${dev.base}/api/dashboard/metrics`, {
          headers: { authorization: `Bearer ${adminToken}` },
        })
      ).json()) as { nodes: Record<string, { metrics: unknown }> };
      if (Object.values(metrics.nodes).some((node) => node.metrics)) break;
      if (waited > 30_000) {
        throw new Error(
          'no node reported dashboard metrics within 30 s; the dev fleet needs the agent’s dashboard reporter, or run with --demo-agents',
        );
      }
      await sleep(500);
    }
    await sleep(4_000);
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
    const restart = await page.waitForSelector(
      '#panel-services tr[data-service=cron] button[data-action=start]',
    );
    await restart.click();
    await page.waitForSelector('#panel-services .progress[data-progress=succeeded]', { timeout: 20_000 });
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
