// Layer build — pre-bundles the shared third-party packages (packages.ts) into the Lambda layer layout,
// `nodejs/node_modules/<package>/`, which Lambda mounts at /opt/nodejs/node_modules (on NODE_PATH, which the
// Node 18+ runtimes also search for ES module imports). One esbuild run with code splitting: each package is
// an ESM entry (`index.mjs`, plus one file per imported subpath) re-exporting exactly the names Node sees
// when it imports the package, and what several packages share (Smithy and the SDK core, Powertools
// commons) lands once in `nodejs/node_modules/.shared/`, so e.g. lib-dynamodb and client-dynamodb keep one
// module instance between them, as in node_modules.
//
//   npm run build:layer [-- <outDir>]      (default layers/shared-deps/dist; CDK builds into cdk.out)

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';
import { bundleTarget, esmBanner, mainFields } from '../../infra/bundling.ts';
import { layerSpecifiers, packageOf } from './packages.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What one build wrote. */
export interface LayerBuild {
  /** The directory that becomes /opt: it holds `nodejs/node_modules/`. */
  readonly outDir: string;
  /** Installed version of each package, as bundled. */
  readonly versions: Readonly<Record<string, string>>;
  /** Every file written, relative to `outDir`, with its size. */
  readonly files: readonly { readonly path: string; readonly bytes: number }[];
  readonly bytes: number;
}

/** The file (relative to the package directory, no extension) a specifier's entry is written to. */
function entryName(specifier: string): string {
  const pkg = packageOf(specifier);
  return specifier === pkg ? 'index' : specifier.slice(pkg.length + 1);
}

/**
 * zod's `locales` (every language's error messages, 260 KB of the 460 KB zod is in full) with only `en`,
 * the default zod sets itself: through the layer a function gets all of a package, not the parts its code
 * uses, and the other 50 languages cost each zod-using function about 10 ms at every cold start
 * (docs/benchmarks.md). Another locale answers with an error naming this file instead of messages.
 */
const zodLocalesEnOnly: Plugin = {
  name: 'zod-locales-en-only',
  setup(b) {
    const localesDir = path.join(root, 'node_modules/zod/v4/locales');
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.startsWith(path.join(root, 'node_modules/zod/'))
        ? { path: 'zod-locales', namespace: 'vfleet-layer' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'vfleet-layer' }, () => {
      const index = readFileSync(path.join(localesDir, 'index.js'), 'utf8');
      const names = [...index.matchAll(/export \{ default as (\w+) \}/g)].map((m) => m[1] as string);
      if (!names.includes('en')) throw new Error('layer: zod/v4/locales/index.js no longer exports en');
      const lines = [
        "export { default as en } from './en.js';",
        'const leftOut = (name) => () => {',
        "  throw new Error('zod locale ' + name + ' is not in the shared-deps layer (layers/shared-deps/build.ts)');",
        '};',
        ...names.filter((n) => n !== 'en').map((n) => `export const ${n} = leftOut('${n}');`),
      ];
      return { contents: lines.join('\n'), resolveDir: localesDir, loader: 'js' };
    });
  },
};

/** esbuild options both passes share: those of function bundles (infra/bundling.ts), with code splitting. */
function layerOptions(): BuildOptions {
  return {
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: bundleTarget,
    minify: true,
    banner: { js: esmBanner },
    external: ['pg-native'],
    mainFields: [...mainFields],
    // Entries live in a temporary directory; packages resolve from the project's node_modules.
    nodePaths: [path.join(root, 'node_modules')],
    plugins: [zodLocalesEnOnly],
    logLevel: 'warning',
  };
}

/**
 * The names each specifier exports as esbuild sees it with these options (an ES module's own exports; for
 * CommonJS, the properties of `module.exports` plus `default`), found by bundling `import * as ns` and
 * reading the namespace: a layer entry must export what function bundles compiled against.
 */
async function exportedNames(dir: string): Promise<Map<string, string[]>> {
  const probes = layerSpecifiers.map((specifier, i) => {
    const file = path.join(dir, `probe-${i}.mjs`);
    writeFileSync(file, `import * as ns from '${specifier}';\nexport const names = Object.keys(ns);\n`);
    return file;
  });
  const outdir = path.join(dir, 'probes');
  await build({ ...layerOptions(), entryPoints: probes, outdir, outExtension: { '.js': '.mjs' } });
  const names = new Map<string, string[]>();
  for (const [i, specifier] of layerSpecifiers.entries()) {
    const probe = (await import(pathToFileURL(path.join(outdir, `probe-${i}.mjs`)).href)) as {
      names: string[];
    };
    const valid = probe.names.filter((name) => /^[A-Za-z_$][\w$]*$/.test(name)).sort();
    if (valid.length === 0) throw new Error(`layer: ${specifier} exports nothing`);
    names.set(specifier, valid);
  }
  return names;
}

/** Builds the layer into `outDir` (emptied first). */
export async function buildLayer(outDir: string): Promise<LayerBuild> {
  rmSync(outDir, { recursive: true, force: true });
  const modulesDir = path.join(outDir, 'nodejs/node_modules');
  mkdirSync(modulesDir, { recursive: true });
  const wrappers = mkdtempSync(path.join(os.tmpdir(), 'vfleet-layer-'));
  try {
    const names = await exportedNames(wrappers);
    const entryPoints: { in: string; out: string }[] = [];
    for (const [i, specifier] of layerSpecifiers.entries()) {
      const file = path.join(wrappers, `entry-${i}.mjs`);
      writeFileSync(file, `export { ${(names.get(specifier) ?? []).join(', ')} } from '${specifier}';\n`);
      entryPoints.push({ in: file, out: `${packageOf(specifier)}/${entryName(specifier)}` });
    }
    const result = await build({
      ...layerOptions(),
      entryPoints,
      outdir: modulesDir,
      outExtension: { '.js': '.mjs' },
      chunkNames: '.shared/[name]-[hash]',
      // No source maps: Lambda runs with --enable-source-maps, which would parse megabytes of third-party
      // maps at every cold start; function bundles keep theirs, so vfleet frames still map to TypeScript.
      sourcemap: false,
      metafile: true,
    });
    const versions: Record<string, string> = {};
    const exportsOf = new Map<string, Record<string, string>>();
    for (const specifier of layerSpecifiers) {
      const pkg = packageOf(specifier);
      const name = entryName(specifier);
      const map = exportsOf.get(pkg) ?? {};
      map[name === 'index' ? '.' : `./${name}`] = `./${name}.mjs`;
      exportsOf.set(pkg, map);
      const manifest = JSON.parse(
        readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8'),
      ) as { version: string };
      versions[pkg] = manifest.version;
    }
    for (const [pkg, exportsMap] of exportsOf) {
      writeFileSync(
        path.join(modulesDir, pkg, 'package.json'),
        `${JSON.stringify({ name: pkg, version: versions[pkg], type: 'module', exports: exportsMap }, null, 2)}\n`,
      );
    }
    const files = [
      ...Object.keys(result.metafile.outputs).map((f) => path.resolve(root, f)),
      ...[...exportsOf.keys()].map((pkg) => path.join(modulesDir, pkg, 'package.json')),
    ]
      .map((file) => ({ path: path.relative(outDir, file), bytes: statSync(file).size }))
      .sort((a, b) => a.path.localeCompare(b.path));
    return { outDir, versions, files, bytes: files.reduce((sum, f) => sum + f.bytes, 0) };
  } finally {
    rmSync(wrappers, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const outDir = path.resolve(process.argv[2] ?? path.join(root, 'layers/shared-deps/dist'));
  const layer = await buildLayer(outDir);
  process.stdout.write(
    `layer: ${layer.files.length} files, ${(layer.bytes / 1024).toFixed(1)} KB in ${path.relative(process.cwd(), outDir) || '.'}\n`,
  );
}
