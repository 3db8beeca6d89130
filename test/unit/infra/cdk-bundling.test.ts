// Unit tests — one set of esbuild options: the CDK construct and the cold-start bench bundle the same way,
// and the result is an ESM bundle that runs in Node (require shim included).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bundleTarget,
  esbuildOptions,
  esmBanner,
  externalModules,
  lambdaBundling,
} from '../../../infra/bundling.ts';

describe('infra/bundling', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vfleet-bundling-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the CDK construct and the bench the same format, target, minify, source maps, banner and externals', () => {
    const bench = esbuildOptions('entry.ts', 'out.mjs');
    expect(bench).toMatchObject({
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: bundleTarget,
      minify: true,
    });
    expect(lambdaBundling()).toMatchObject({
      format: OutputFormat.ESM,
      target: bench.target,
      minify: bench.minify,
      sourceMap: true,
      sourcesContent: bench.sourcesContent,
      banner: (bench.banner as { js: string }).js,
      externalModules: bench.external,
      mainFields: bench.mainFields,
      forceDockerBundling: false,
    });
    // A function that takes no layer bundles its dependencies, in the CDK path as in the bench.
    expect(lambdaBundling({ layer: false }).externalModules).toEqual(
      esbuildOptions('entry.ts', 'out.mjs', { layer: false }).external,
    );
    expect(lambdaBundling({ layer: false }).externalModules).not.toContain('zod');
    expect(bundleTarget).toBe('node20');
    // The SDK clients come from the shared-deps layer (pre-bundled there), as the other shared packages do.
    expect(externalModules).toEqual(
      expect.arrayContaining(['pg-native', '@aws-sdk/client-sqs', 'pg', 'zod']),
    );
  });

  it('produces an ESM bundle in which bundled CommonJS can still call require and __dirname', async () => {
    // Prepare: a CommonJS dependency that uses require() and __dirname, imported from an ESM entry.
    writeFileSync(
      path.join(dir, 'dep.cjs'),
      "module.exports = { sep: require('node:path').sep, dir: __dirname };",
    );
    writeFileSync(
      path.join(dir, 'entry.ts'),
      "import dep from './dep.cjs';\nexport const handler = () => dep;\n",
    );
    const outfile = path.join(dir, 'out', 'index.mjs');
    // Act
    await build(esbuildOptions(path.join(dir, 'entry.ts'), outfile));
    const mod = (await import(pathToFileURL(outfile).href)) as {
      handler: () => { sep: string; dir: string };
    };
    // Assess
    expect(mod.handler()).toEqual({ sep: '/', dir: path.dirname(outfile) });
    expect(readFileSync(outfile, 'utf8').startsWith(esmBanner)).toBe(true);
    expect(readFileSync(`${outfile}.map`, 'utf8')).toContain('"mappings"');
  });
});
