// Unit tests — the capabilities' import graph (test/unit/architecture/import-graph.ts, the TypeScript
// compiler's resolution of relative and `#shared/*` imports): no cycle between capabilities, and a capability
// is entered only through its public entry (an index.ts). The checker is shown to resolve `#shared/*` and to
// fail on a planted cycle, so it cannot pass by checking nothing.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  capabilityCycles,
  capabilityEdges,
  capabilityOf,
  type ImportGraph,
  importGraph,
} from './import-graph.ts';

const root = resolve(import.meta.dirname, '../../..');

describe('the project import graph', () => {
  let graph: ImportGraph;
  beforeAll(() => {
    graph = importGraph(root);
  });

  it('resolves every import of the project, #shared/* included (the checker sees real edges)', () => {
    expect(graph.unresolved).toEqual([]);
    expect(graph.edges).toContainEqual({
      from: 'functions/health/handler.ts',
      specifier: '#shared/http',
      to: 'shared/http/index.ts',
    });
    expect(graph.edges).toContainEqual({
      from: 'functions/inventory/sync-worker.ts',
      specifier: '#shared/inventory/sync',
      to: 'shared/inventory/sync/index.ts',
    });
    const viaSubpath = graph.edges.filter((edge) => edge.specifier.startsWith('#shared/'));
    expect(viaSubpath.length).toBeGreaterThan(50);
    expect(capabilityEdges(graph).get('functions/health')).toEqual(new Set(['shared/health', 'shared/http']));
  });

  it('has no cycle between capabilities', () => {
    expect(capabilityCycles(graph)).toEqual([]);
  });

  it('enters another capability only through its public entry (an index.ts)', () => {
    const internal = graph.edges
      .filter((edge) => capabilityOf(edge.from) !== capabilityOf(edge.to) && !edge.to.endsWith('/index.ts'))
      .map((edge) => `${edge.from} → ${edge.specifier}`);
    expect(internal).toEqual([]);
  });

  it('keeps shared/ and functions/ free of infra/ imports', () => {
    expect(graph.edges.filter((edge) => edge.to.startsWith('infra/'))).toEqual([]);
  });
});

describe('the cycle check on a planted tree', () => {
  let tree: string;
  const plant = async (files: Record<string, string>) => {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(tree, path)), { recursive: true });
      await writeFile(join(tree, path), text);
    }
  };

  beforeAll(async () => {
    tree = await mkdtemp(join(tmpdir(), 'vfleet-import-cycles-'));
    await plant({
      'package.json': JSON.stringify({ type: 'module', imports: { '#shared/*': './shared/*/index.ts' } }),
      // alpha → beta through #shared/beta, beta → gamma through a relative climb, gamma → alpha's entry.
      'shared/alpha/index.ts': "export { b } from '#shared/beta';\nexport const a = 1;\n",
      'shared/beta/index.ts': "export { g as b } from '../gamma/inner.ts';\n",
      'shared/gamma/inner.ts': "import { a } from '#shared/alpha';\nexport const g = a;\n",
      'shared/gamma/index.ts': "export { g } from './inner.ts';\n",
      // Outside the cycle: delta imports alpha only.
      'shared/delta/index.ts': "import type { a } from '#shared/alpha';\nexport type D = typeof a;\n",
      'functions/demo/handler.ts': "import { a } from '#shared/alpha';\nexport const handler = () => a;\n",
    });
  });

  afterAll(async () => {
    await rm(tree, { recursive: true, force: true });
  });

  it('reports the cycle, its members and the imports that close it', () => {
    const planted = importGraph(tree);
    expect(planted.unresolved).toEqual([]);
    expect(capabilityCycles(planted)).toEqual([
      {
        members: ['shared/alpha', 'shared/beta', 'shared/gamma'],
        imports: [
          'shared/alpha/index.ts → #shared/beta',
          'shared/beta/index.ts → ../gamma/inner.ts',
          'shared/gamma/inner.ts → #shared/alpha',
        ],
      },
    ]);
  });

  it('reports nothing once the closing import is gone', async () => {
    await plant({ 'shared/gamma/inner.ts': 'export const g = 1;\n' });
    expect(capabilityCycles(importGraph(tree))).toEqual([]);
  });

  it('counts an import that does not resolve as unresolved, not as no edge', async () => {
    await plant({ 'shared/delta/index.ts': "export { x } from '#shared/missing';\n" });
    expect(importGraph(tree).unresolved).toEqual([
      { from: 'shared/delta/index.ts', specifier: '#shared/missing' },
    ]);
  });
});
