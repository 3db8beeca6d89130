// Test helper — the import graph of shared/ and functions/, built with the TypeScript compiler's own module
// resolution (the project's tsconfig options: Bundler resolution, so package.json "imports" such as
// `#shared/*` resolve as esbuild and Node resolve them), and the cycles between capabilities in it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

/** One resolved import: the importing file, the specifier as written, and the file it resolved to. */
export interface ImportEdge {
  readonly from: string;
  readonly specifier: string;
  readonly to: string;
}

export interface ImportGraph {
  /** Every import (static, `export … from`, `import type`, dynamic) that resolved to a file of the tree. */
  readonly edges: readonly ImportEdge[];
  /** Imports of the project's own modules (relative or `#…`) that did not resolve: a graph missing edges. */
  readonly unresolved: readonly Omit<ImportEdge, 'to'>[];
  readonly files: readonly string[];
}

/** The project's compiler options (tsconfig.json at `root`), or the Bundler defaults for a planted tree. */
function compilerOptions(root: string): ts.CompilerOptions {
  const path = join(root, 'tsconfig.json');
  const read = ts.readConfigFile(path, ts.sys.readFile);
  if (read.error) {
    return {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      allowImportingTsExtensions: true,
      noEmit: true,
    };
  }
  return ts.parseJsonConfigFileContent(read.config, ts.sys, root).options;
}

function sourceFiles(dir: string): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const posix = (path: string) => path.split(sep).join('/');

/** The graph of every `.ts` file under `dirs` (relative to `root`); paths in it are relative to `root`. */
export function importGraph(root: string, dirs: readonly string[] = ['shared', 'functions']): ImportGraph {
  const options = compilerOptions(root);
  const files = dirs.flatMap((dir) => sourceFiles(join(root, dir)));
  const edges: ImportEdge[] = [];
  const unresolved: Omit<ImportEdge, 'to'>[] = [];
  for (const file of files) {
    const from = posix(relative(root, file));
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of info.importedFiles) {
      const own = specifier.startsWith('.') || specifier.startsWith('#');
      const resolved = ts.resolveModuleName(specifier, file, options, ts.sys).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport) {
        if (own) unresolved.push({ from, specifier });
        continue;
      }
      edges.push({ from, specifier, to: posix(relative(root, resolved.resolvedFileName)) });
    }
  }
  return { edges, unresolved, files: files.map((file) => posix(relative(root, file))) };
}

/** `shared/<name>` or `functions/<name>` for a file in a capability folder; undefined otherwise. */
export function capabilityOf(path: string): string | undefined {
  const match = /^(shared|functions)\/([^/]+)\//.exec(path);
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/** The capability graph: an edge A → B for every import from a file of A into a file of B (A ≠ B). */
export function capabilityEdges(graph: ImportGraph): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const edge of graph.edges) {
    const from = capabilityOf(edge.from);
    const to = capabilityOf(edge.to);
    if (!from || !to || from === to) continue;
    if (!out.has(from)) out.set(from, new Set());
    out.get(from)?.add(to);
  }
  return out;
}

/**
 * The cycles between capabilities: each strongly connected component of more than one capability (Tarjan),
 * sorted, with the imports that close it, so a failure says which lines to move.
 */
export function capabilityCycles(graph: ImportGraph): { members: string[]; imports: string[] }[] {
  const edges = capabilityEdges(graph);
  const nodes = new Set([...edges.keys(), ...[...edges.values()].flatMap((set) => [...set])]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
        onStack.delete(member);
        component.push(member);
        if (member === node) break;
      }
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const node of [...nodes].sort()) if (!index.has(node)) visit(node);
  return components.map((members) => ({
    members,
    imports: graph.edges
      .filter((edge) => {
        const from = capabilityOf(edge.from);
        const to = capabilityOf(edge.to);
        return from !== to && from && to && members.includes(from) && members.includes(to);
      })
      .map((edge) => `${edge.from} → ${edge.specifier}`),
  }));
}
