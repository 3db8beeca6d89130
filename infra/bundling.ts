// Infra bundling: the ONE set of esbuild options for Lambda code, used by the CDK construct
// (infra/constructs/vfleet-function.ts) and by the cold-start bench (bench/bundles.ts), so what the bench
// measures is what ships.

import { type BundlingOptions, LogLevel, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

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
 * Modules left out of every bundle.
 *
 * - `pg-native`: an optional native binding `pg` requires only when asked to; it is not installed.
 *
 * The AWS SDK v3 is bundled, not taken from the Lambda runtime: bench/bundles.ts measured every bundle
 * under 1 MB with it included (see docs/benchmarks.md), bundling pins the SDK version the tests ran
 * against, and tree-shaken bundled clients load faster than the runtime's full copies.
 */
export const externalModules: readonly string[] = ['pg-native'];

/** Prefer ES modules where a package ships both, so esbuild can tree-shake them. */
export const mainFields: readonly string[] = ['module', 'main'];

/** esbuild options for one handler entry, as the bench runs them (the CDK path maps the same values). */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
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
    external: [...externalModules],
    mainFields: [...mainFields],
    logLevel: 'warning',
  };
}

/**
 * The same options for `NodejsFunction`. CDK adds `--bundle --platform=node` itself and names the output
 * `index.mjs` for ESM; bundling always runs with the local esbuild (no Docker on these machines).
 */
export const lambdaBundling: BundlingOptions = {
  format: OutputFormat.ESM,
  target: bundleTarget,
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: false,
  banner: esmBanner,
  externalModules: [...externalModules],
  mainFields: [...mainFields],
  logLevel: LogLevel.WARNING,
  forceDockerBundling: false,
};
