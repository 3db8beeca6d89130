// Layer contents — the third-party runtime packages every function shares, as the module specifiers their
// code imports. infra/bundling.ts marks these packages external in function bundles, and
// layers/shared-deps/build.ts pre-bundles each specifier into `nodejs/node_modules/<specifier>.mjs`.

/**
 * Specifiers the layer provides (a package root, or a subpath the code imports). A function importing a
 * subpath that is not listed fails the layer's unit test (test/unit/infra/cdk-layer.test.ts), not Lambda.
 *
 * The AWS SDK clients are in the layer: bench/bundles.ts measured them at 280-465 KB of each 0.4-0.95 MB
 * bundle, so leaving them bundled keeps a code-only deploy at about half today's upload (docs/benchmarks.md).
 */
export const layerSpecifiers: readonly string[] = [
  '@aws-lambda-powertools/logger',
  '@aws-lambda-powertools/logger/middleware',
  '@aws-lambda-powertools/metrics',
  '@aws-sdk/client-apigatewaymanagementapi',
  '@aws-sdk/client-auto-scaling',
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-secrets-manager',
  '@aws-sdk/client-sqs',
  '@aws-sdk/lib-dynamodb',
  '@aws-sdk/rds-signer',
  '@middy/core',
  'ioredis',
  'jose',
  'lru-cache',
  // One function (inventoryMigrate) uses it, but with jiti and glob it is 300 KB that changes only with the
  // lock file; in the function's bundle it would be most of a code-only deploy.
  'node-pg-migrate',
  'pg',
  'pg-copy-streams',
  'zod',
];

/** The package a specifier belongs to: `@scope/name` or `name`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** The packages of the layer, each once: what function bundles leave external. */
export const layerPackages: readonly string[] = [...new Set(layerSpecifiers.map(packageOf))];
