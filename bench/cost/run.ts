// Benchmark-style report — `npm run cost -- --vcenters 1000 --vms 1000000 --users 2000 --nodes 100`: the
// monthly cost of the deployed stacks at that scale, from the list prices in bench/cost/prices.ts, the
// inputs in bench/cost/inputs.ts (any of them can be overridden: `--busyHoursPerMonth 300`) and the facts a
// CDK synthesis of `--env` (default prod) gives. Prints a table, writes JSON under bench/results/, and with
// --write-docs replaces the generated section of docs/cost.md. Touches no network.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type EnvName, envNamesList } from '../../infra/config.ts';
import { root } from '../ops/harness.ts';
import { type DeployFacts, synthesizeFacts } from './facts.ts';
import { inputs, inputValues, type Scale, seedScale } from './inputs.ts';
import { type CostReport, costModel } from './model.ts';
import { priceList, prices } from './prices.ts';

const seedMonthlyUsd = 6000;
const goalUsd = 1500;

function parse(argv: string[]) {
  const scaleKeys = ['vcenters', 'vms', 'users', 'nodes'] as const;
  const options = {
    env: { type: 'string', default: 'prod' },
    // Reuse the facts of an earlier run's JSON instead of synthesizing (for trying inputs quickly).
    facts: { type: 'string' },
    'write-docs': { type: 'boolean', default: false },
    ...Object.fromEntries([...scaleKeys, ...Object.keys(inputs)].map((k) => [k, { type: 'string' }])),
  } as const;
  const { values } = parseArgs({ args: argv, options, strict: true });
  const number = (key: string): number | undefined => {
    const raw = (values as Record<string, unknown>)[key];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${key} must be a number >= 0 (got ${String(raw)})`);
    return n;
  };
  const scale = Object.fromEntries(scaleKeys.map((k) => [k, number(k) ?? seedScale[k]])) as unknown as Scale;
  const overrides = Object.fromEntries(
    Object.keys(inputs).flatMap((k) => (number(k) === undefined ? [] : [[k, number(k) as number]])),
  );
  const env = String(values.env);
  if (!(envNamesList as readonly string[]).includes(env))
    throw new Error(`--env must be one of ${envNamesList.join('|')}`);
  const facts = values.facts === undefined ? undefined : String(values.facts);
  return {
    scale,
    overrides,
    env: env as EnvName,
    writeDocs: values['write-docs'] === true,
    factsFile: facts,
  };
}

const money = (n: number) =>
  `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** The report as Markdown: the line items, the totals and the comparison with seed 001. */
export function markdown(report: CostReport, env: string, overrides: Record<string, number>): string {
  const s = report.scale;
  const rows = report.lines.map((l) => `| ${l.service} | ${l.item} | ${money(l.usd)} | ${l.how} |`);
  const alternatives = report.alternatives.map(
    (l) => `| ${l.service} | ${l.item.replace('alternative: ', '')} | ${money(l.usd)} | ${l.how} |`,
  );
  const verdict =
    report.controlPlaneUsd <= goalUsd
      ? `**met** (${money(report.controlPlaneUsd)} ≤ ${money(goalUsd)})`
      : `**not met** (${money(report.controlPlaneUsd)} > ${money(goalUsd)})`;
  const changed =
    Object.keys(overrides).length > 0
      ? ` Inputs changed from bench/cost/inputs.ts: ${JSON.stringify(overrides)}.`
      : '';
  const unchecked = Object.values(prices).filter((p) => !p.checked).length;
  return [
    `Scale: ${s.vcenters.toLocaleString('en-US')} vCenters, ${s.vms.toLocaleString('en-US')} VMs, ${s.users.toLocaleString('en-US')} users, ${s.nodes} compute nodes at peak; the \`${env}\` stacks as synthesized; list prices for ${priceList.region} compiled ${priceList.date} (${unchecked} of ${Object.keys(prices).length} from memory, see bench/cost/prices.ts).${changed}`,
    '',
    '| service | item | per month | how |',
    '| --- | --- | ---: | --- |',
    ...rows,
    '',
    `**Control plane: ${money(report.controlPlaneUsd)} a month** (everything above but the node group), against seed 001's ${money(seedMonthlyUsd)} for the same estate; goal ≤ ${money(goalUsd)}: ${verdict}. Compute nodes: ${money(report.nodesUsd)}. Everything: ${money(report.totalUsd)}.`,
    '',
    'Priced alternatives (not in the totals):',
    '',
    '| service | alternative | per month | how |',
    '| --- | --- | ---: | --- |',
    ...alternatives,
  ].join('\n');
}

async function main(): Promise<void> {
  const { scale, overrides, env, writeDocs, factsFile } = parse(process.argv.slice(2));
  if (factsFile && writeDocs)
    throw new Error('--write-docs records a run on freshly synthesized stacks; drop --facts');
  const started = performance.now();
  const facts = factsFile
    ? (JSON.parse(await readFile(factsFile, 'utf8')) as { facts: DeployFacts }).facts
    : synthesizeFacts(env);
  const synthMs = performance.now() - started;
  const report = costModel(scale, inputValues(overrides), facts);
  const body = markdown(report, env, overrides);
  console.log(body);
  console.log(
    `\n(${factsFile ? `facts from ${factsFile}` : `synthesis of ${env}`}: ${(synthMs / 1000).toFixed(1)} s)`,
  );

  const resultsDir = join(root, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(resultsDir, `cost-${stamp}.json`);
  await writeFile(
    file,
    `${JSON.stringify({ env, priceList, prices, inputs, overrides, facts, report }, null, 2)}\n`,
  );
  console.log(`wrote ${file}`);

  if (writeDocs) {
    const path = join(root, 'docs', 'cost.md');
    const start = '<!-- cost:start -->';
    const end = '<!-- cost:end -->';
    const doc = await readFile(path, 'utf8');
    const a = doc.indexOf(start);
    const b = doc.indexOf(end);
    if (a < 0 || b < a) throw new Error(`${path} has no ${start} … ${end} section`);
    const command = `npm run cost -- --vcenters ${scale.vcenters} --vms ${scale.vms} --users ${scale.users} --nodes ${scale.nodes}`;
    await writeFile(path, `${doc.slice(0, a)}${start}\n\`${command}\`\n\n${body}\n${doc.slice(b)}`);
    console.log(`recorded in ${path}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
