// Infra helper — the shared-deps layer's asset: layers/shared-deps/build.ts run at synth time (local
// bundling, no Docker), its output hashed so the layer version changes exactly when its files do (a
// dependency bump in the lock file, or a change to the layer's package list).

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const layerDir = path.join(repoRoot, 'layers/shared-deps');

/** Builds the layer into CDK's staging directory; throws with the build's output when it fails. */
function buildInto(outputDir: string): boolean {
  // A child process: the build is asynchronous (esbuild, import()) and CDK's local bundling is not.
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(layerDir, 'build.ts'), outputDir], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (child.status !== 0) {
    throw new Error(`shared-deps layer build failed: ${child.stderr || child.stdout || child.error}`);
  }
  return true;
}

/** The layer's code: `nodejs/node_modules/…`, which Lambda mounts at /opt/nodejs/node_modules. */
export function sharedDepsLayerCode(): Code {
  return Code.fromAsset(layerDir, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      local: { tryBundle: buildInto },
      // Never used: local bundling always succeeds or throws (no Docker on these machines).
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
    },
  });
}
