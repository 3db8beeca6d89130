// Unit tests — the shared-deps layer: one LayerVersion in the stateless stack of dev, staging and prod,
// attached to every topology function that takes it (all but those the topology marks `layer: false`, which
// bundle everything) and to a function a topology adds later; the staged layer asset holds each package under
// nodejs/node_modules; and every function bundle, built as it ships, imports cleanly against the layer laid out
// as Lambda mounts it.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esbuildOptions, externalModules } from '../../../infra/bundling.ts';
import { envNamesList } from '../../../infra/config.ts';
import { type Topology, topology } from '../../../infra/topology.ts';
import { buildLayer } from '../../../layers/shared-deps/build.ts';
import { layerPackages, layerSpecifiers } from '../../../layers/shared-deps/packages.ts';
import { lambdaLikeEnv } from '../../setup/lambda-env.ts';
import { logicalIdOf, type Synthesized, synthesize } from './cdk-synth.ts';

const withLaterFunction: Topology = {
  ...topology,
  functions: {
    ...topology.functions,
    addedLater: {
      entry: 'functions/identity/me.ts',
      description: 'fixture: a function added after the layer',
      serves: 'http',
      needs: [],
    },
  },
};

/** The layer is on every function that takes it (`layer` not `false` in the topology), and only on those. */
function expectLayerWhereDeclared(s: Synthesized, specs: Topology['functions']): void {
  // The only other layer is CDK's AWS CLI layer of the dashboard's BucketDeployment handler.
  const layers = s.stateless.findResources('AWS::Lambda::LayerVersion', {
    Properties: { Description: Match.stringLikeRegexp('shared third-party packages') },
  });
  const layerId = logicalIdOf(s.stacks.stateless.sharedDepsLayer);
  expect(Object.keys(layers)).toEqual([layerId]);
  for (const [name, spec] of Object.entries(specs)) {
    const fn = s.stacks.stateless.functions[name];
    expect(fn, name).toBeDefined();
    const resource = s.stateless.toJSON().Resources[logicalIdOf(fn!)] as {
      Properties: { Layers?: unknown };
    };
    expect(resource.Properties.Layers, name).toEqual(spec.layer === false ? undefined : [{ Ref: layerId }]);
  }
}

describe.each(envNamesList)('shared-deps layer, env=%s', (envName) => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize(envName, { bundle: false });
  }, 120_000);

  it('is one LayerVersion for Node.js 22, attached to every topology function that takes it', () => {
    expectLayerWhereDeclared(s, topology.functions);
    s.stateless.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs22.x'],
      CompatibleArchitectures: ['arm64', 'x86_64'],
    });
  });
});

describe('shared-deps layer asset (env=dev, bundled as cdk synth does)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize('dev');
  }, 120_000);

  it('stages every layer package under nodejs/node_modules, and the layer is on every function that takes it', () => {
    expectLayerWhereDeclared(s, topology.functions);
    const code = s.stacks.stateless.sharedDepsLayer.node.tryFindChild('Code');
    expect(code).toBeInstanceOf(Asset);
    const staged = path.join((s.stacks.stateless.node.root as App).outdir, (code as Asset).assetPath);
    for (const pkg of layerPackages) {
      const manifest = path.join(staged, 'nodejs/node_modules', pkg, 'package.json');
      expect(existsSync(manifest), pkg).toBe(true);
      expect(JSON.parse(readFileSync(manifest, 'utf8')), pkg).toMatchObject({ name: pkg, type: 'module' });
    }
  });
});

describe('shared-deps layer with a function added to the topology', () => {
  it('is attached to the new function too', () => {
    const s = synthesize('staging', { topology: withLaterFunction, bundle: false });
    expectLayerWhereDeclared(s, withLaterFunction.functions);
  });
});

describe('function bundles against the layer', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vfleet-layer-test-'));
  const modules = path.join(dir, 'opt/nodejs/node_modules');
  const task = path.join(dir, 'var/task');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    await buildLayer(path.join(dir, 'opt'));
    mkdirSync(task, { recursive: true });
    // Lambda resolves /opt/nodejs/node_modules through NODE_PATH; plain Node's ES module resolver does not.
    symlinkSync(modules, path.join(task, 'node_modules'), 'dir');
  }, 120_000);

  it('leaves exactly the layer packages (and pg-native) out of function bundles', () => {
    expect([...externalModules].sort()).toEqual(['pg-native', ...layerPackages].sort());
    for (const pkg of layerPackages)
      expect(existsSync(path.join(modules, pkg, 'package.json')), pkg).toBe(true);
  });

  it('imports every handler, its layer packages resolved from the layer', async () => {
    for (const [name, spec] of Object.entries(topology.functions)) {
      // Prepare: the bundle as it ships.
      const outfile = path.join(task, name, 'index.mjs');
      const layer = spec.layer ?? true;
      const result = await build({
        ...esbuildOptions(path.resolve(spec.entry), outfile, { layer }),
        metafile: true,
      });
      const leftOut = Object.values(result.metafile.outputs)
        .flatMap((o) => o.imports)
        .filter((i) => i.external && !i.path.startsWith('node:'))
        .map((i) => i.path);
      // A self-contained function leaves nothing out (pg-native is only required on demand, never here).
      if (!layer) expect(leftOut, name).toEqual([]);
      for (const specifier of leftOut)
        expect(layerSpecifiers, `${name} imports ${specifier}`).toContain(specifier);
      // Act: a fresh process, as a cold start; the probe prints the handler's type.
      const child = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          'const m = await import(process.argv[1]); process.stdout.write(typeof m.handler); process.exit(0);',
          pathToFileURL(outfile).href,
        ],
        { env: lambdaLikeEnv, encoding: 'utf8', timeout: 30_000 },
      );
      // Assess
      expect(child.stderr, name).toBe('');
      expect(child.stdout, name).toBe('function');
    }
  }, 180_000);
});
