// Unit tests — the import rules in biome.json (`noRestrictedImports`, overridden per folder): shared/ and
// functions/ never import infra/, and no relative import climbs out of a capability. Files that break each
// rule are planted in a temporary tree that carries a copy of the project's biome.json, so the test proves the
// configuration itself fires (and stays quiet on what is allowed), without touching the working tree.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const biome = join(root, 'node_modules/.bin/biome');
const run = promisify(execFile);

interface Diagnostic {
  readonly category: string;
  readonly message: string;
  readonly location: { readonly path: string; readonly start?: { readonly line: number } };
}

/** `biome lint --reporter=json` in `cwd`; it exits 1 when it reports errors, which is the point here. */
async function lint(cwd: string, paths: string[] = ['.']): Promise<Diagnostic[]> {
  const { stdout } = await run(biome, ['lint', '--reporter=json', ...paths], { cwd }).catch(
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
  );
  return (JSON.parse(stdout) as { diagnostics: Diagnostic[] }).diagnostics;
}

/** `path:line` of each line with a noRestrictedImports diagnostic (a line may break both rules). */
function restricted(diagnostics: Diagnostic[]): string[] {
  const lines = diagnostics
    .filter((d) => d.category === 'lint/style/noRestrictedImports')
    .map((d) => `${d.location.path}:${d.location.start?.line}`);
  return [...new Set(lines)].sort();
}

// Each planted file: its lines, and which of them (1-based) must be reported.
const planted: Record<string, { lines: string[]; reported: number[] }> = {
  'shared/ops/planted.ts': {
    lines: [
      "import { a } from '#infra/topology';",
      "import { b } from '../cache/scope.ts';",
      "import { c } from '../../infra/topology.ts';",
      "import { d } from './lanes.ts';",
      "import { e } from '#shared/cache';",
      'export const all = [a, b, c, d, e];',
    ],
    reported: [1, 2, 3],
  },
  'shared/inventory/sync/planted.ts': {
    lines: [
      "import { a } from '../../ops/settings.ts';",
      "import { b } from '../writes.ts';",
      "import { c } from './plan.ts';",
      "import { d } from '#infra/topology';",
      'export const all = [a, b, c, d];',
    ],
    reported: [1, 4],
  },
  'functions/ops/planted.ts': {
    lines: [
      "import { a } from '../../shared/inventory/migrate.ts';",
      "import { b } from '#infra/topology';",
      "import { c } from '../inventory/vcenters.ts';",
      "import { d } from '#shared/inventory';",
      "import { e } from './helpers.ts';",
      'export const all = [a, b, c, d, e];',
    ],
    reported: [1, 2, 3],
  },
  // The drift check, once exempted for three ops imports, has no exception left: every climb is reported.
  'shared/inventory/sync/verify.ts': {
    lines: [
      "import { a } from '../../ops/jobs.ts';",
      "import { b } from '../../ops/settings.ts';",
      "import { c } from '#infra/topology';",
      "import { d } from '#shared/ops';",
      'export const all = [a, b, c, d];',
    ],
    reported: [1, 2, 3],
  },
};

let tree: string;

beforeAll(async () => {
  tree = await mkdtemp(join(tmpdir(), 'vfleet-import-rules-'));
  await copyFile(join(root, 'biome.json'), join(tree, 'biome.json'));
  for (const [path, file] of Object.entries(planted)) {
    await mkdir(dirname(join(tree, path)), { recursive: true });
    await writeFile(join(tree, path), `${file.lines.join('\n')}\n`);
  }
});

afterAll(async () => {
  await rm(tree, { recursive: true, force: true });
});

describe('import rules (biome.json noRestrictedImports)', () => {
  it('reports infra/ imports and climbs out of a capability, and nothing else, in planted files', async () => {
    const expected = Object.entries(planted)
      .flatMap(([path, file]) => file.reported.map((line) => `${path}:${line}`))
      .sort();
    expect(restricted(await lint(tree))).toEqual(expected);
  });

  it('names the rule that was broken', async () => {
    const messages = (await lint(tree, ['shared/ops/planted.ts'])).map((d) => d.message);
    expect(messages.some((m) => m.includes('must not import infra/'))).toBe(true);
    expect(messages.some((m) => m.includes('must not climb out of a capability'))).toBe(true);
  });

  it('holds in the project: no file in shared/ or functions/ breaks it', async () => {
    expect(restricted(await lint(root, ['shared', 'functions']))).toEqual([]);
  });
});
