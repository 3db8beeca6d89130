// Node agent — bundles the agent into one ES module (`agent.mjs`) that runs with plain `node` on a compute
// node: `npm run build:agent` writes it under .vfleet/agent/, and the CDK app ships it to the nodes' launch
// template as an asset.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';

const root = resolve(import.meta.dirname, '..');

/** Bundles agent/main.ts into `<outDir>/agent.mjs` and returns the directory. */
export function buildAgentBundle(outDir = join(root, '.vfleet', 'agent')): string {
  mkdirSync(outDir, { recursive: true });
  buildSync({
    entryPoints: [join(root, 'agent', 'main.ts')],
    outfile: join(outDir, 'agent.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    // Some bundled CommonJS packages call require(): give the ES module one.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return outDir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`agent bundled into ${join(buildAgentBundle(), 'agent.mjs')}`);
}
