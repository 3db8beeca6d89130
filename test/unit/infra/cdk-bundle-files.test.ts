// Unit tests — functions that read files at run time (the migrate function's SQL) get them copied beside
// their bundle, in the asset `cdk deploy` uploads.
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { beforeAll, describe, expect, it } from 'vitest';
import { pascal } from '../../../infra/stacks/naming.ts';
import { topology } from '../../../infra/topology.ts';
import { type Synthesized, synthesize } from './cdk-synth.ts';

const withFiles = Object.entries(topology.functions).filter(([, spec]) => spec.bundleFiles?.length);

describe('bundleFiles', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize('dev');
  }, 120_000);

  it('is declared for the migrate function', () => {
    expect(withFiles.map(([name]) => name)).toContain('inventoryMigrate');
  });

  it('copies every declared directory, with its files, into the function asset', () => {
    for (const [name, spec] of withFiles) {
      const code = s.stacks.stateless.node.findChild(`${pascal(name)}Function`).node.tryFindChild('Code');
      expect(code, name).toBeInstanceOf(Asset);
      // Staged assets live in the cloud assembly directory, named by the asset's path.
      const stagedDir = join((s.stacks.stateless.node.root as App).outdir, (code as Asset).assetPath);
      expect(existsSync(join(stagedDir, 'index.mjs')), `${name}: bundle`).toBe(true);
      for (const dir of spec.bundleFiles ?? []) {
        const copied = join(stagedDir, basename(dir));
        expect(existsSync(copied), `${name}: ${dir}`).toBe(true);
        expect(readdirSync(copied).sort()).toEqual(readdirSync(dir).sort());
      }
    }
  });
});
