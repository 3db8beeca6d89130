// Infra bundling: the ONE set of esbuild options for Lambda code, used by the CDK construct
// (infra/constructs/vfleet-function.ts), the shared-deps layer (layers/shared-deps/build.ts) and the
// cold-start bench (bench/bundles.ts), so what the bench measures is what ships.

import { type BundlingOptions, LogLevel, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';
import { layerPackages } from '../layers/shared-deps/packages.ts';

/** Node version the bundles target: the oldest Node that runs them (local runs use Node 20, Lambda 22). */
export const bundleTarget = 'node20';

/**
 * ESM output has no `require`, `__filename` or `__dirname`; CommonJS dependencies bundled into it (pg,
 * ioredis, the X-Ray SDK) still call them, so every bundle starts by defining them.
 */
export const esmBanner = [
  "import { createRequire as __vfCreateRequire } from 'node:module';",
  "import { fileURLToPath as __vfFileURLToPath } from 'node:url';",
  "import { dirname as __vfDirname } from 'node:path';",
  'const require = __vfCreateRequire(import.meta.url);',
  'const __filename = __vfFileURLToPath(import.meta.url);',
  'const __dirname = __vfDirname(__filename);',
].join(' ');

/**
 * Modules left out of every bundle, layer included.
 *
 * - `pg-native`: an optional native binding `pg` requires only when asked to; it is not installed.
 */
export const bundledExternalModules: readonly string[] = ['pg-native'];

/**
 * Modules left out of function bundles: the above, plus the packages of the shared-deps layer
 * (layers/shared-deps/packages.ts), which every function gets at /opt/nodejs/node_modules.
 *
 * The AWS SDK clients are among them (pre-bundled in the layer, not taken from the Lambda runtime, so the
 * SDK version is still the one the tests ran against): bench/bundles.ts measured them at 280-465 KB of each
 * 0.4-0.95 MB bundle, and a code-only deploy uploads 12-13x less (deflated) with them in the layer than with
 * everything bundled (docs/benchmarks.md).
 */
export const externalModules: readonly string[] = [...bundledExternalModules, ...layerPackages];

/** Prefer ES modules where a package ships both, so esbuild can tree-shake them. */
export const mainFields: readonly string[] = ['module', 'main'];

/**
 * esbuild options for one handler entry, as the bench runs them (the CDK path maps the same values).
 * @param options.layer leave the layer's packages out (what ships); `false` bundles them too (the bench's
 *   "before"). @default true
 */
export function esbuildOptions(
  entry: string,
  outfile: string,
  options: { readonly layer?: boolean } = {},
): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: bundleTarget,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    banner: { js: esmBanner },
    external: [...(options.layer === false ? bundledExternalModules : externalModules)],
    mainFields: [...mainFields],
    logLevel: 'warning',
  };
}

/**
 * The same options for `NodejsFunction`. CDK adds `--bundle --platform=node` itself and names the output
 * `index.mjs` for ESM; bundling always runs with the local esbuild (no Docker on these machines).
 * @param options.layer as for {@link esbuildOptions}. @default true
 */
export function lambdaBundling(options: { readonly layer?: boolean } = {}): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: bundleTarget,
    minify: true,
    sourceMap: true,
    sourceMapMode: SourceMapMode.DEFAULT,
    sourcesContent: false,
    banner: esmBanner,
    externalModules: [...(options.layer === false ? bundledExternalModules : externalModules)],
    mainFields: [...mainFields],
    logLevel: LogLevel.WARNING,
    forceDockerBundling: false,
  };
}
