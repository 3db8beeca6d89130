// Unit tests — the dashboard in AWS (infra/constructs/dashboard-site.ts): a private bucket read by CloudFront
// through origin access control, `/api/*` forwarded uncached to the HTTP API on the same origin, the security
// headers (CSP, HSTS, no framing, no sniffing, no referrer) on every answer, and the built assets deployed
// under dashboard/ with a config.json naming the stack's WebSocket and the environment's issuer.

import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { envNamesList } from '../../../infra/config.ts';
import { logicalIdOf, type Synthesized, synthesize } from './cdk-synth.ts';

describe.each(envNamesList)('dashboard site, env=%s', (envName) => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize(envName, { bundle: false });
  }, 120_000);

  it('keeps the assets in a private, TLS-only bucket that only the distribution reads', () => {
    const bucketId = logicalIdOf(s.stacks.stateless.dashboard.bucket);
    s.stateless.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    s.stateless.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:GetObject',
          }),
        ]),
      },
    });
    s.stateless.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
  });

  it('sends CSP, HSTS, DENY framing, nosniff and no-referrer on every behaviour', () => {
    const policyId = logicalIdOf(s.stacks.stateless.dashboard.responseHeaders);
    const policy = s.stateless.toJSON().Resources[policyId].Properties.ResponseHeadersPolicyConfig
      .SecurityHeadersConfig as Record<string, Record<string, unknown>>;
    const csp = JSON.stringify(
      s.stacks.stateless.resolve(policy.ContentSecurityPolicy?.ContentSecurityPolicy),
    );
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    // The WebSocket stage and the issuer's token endpoint are the only other places the page may reach.
    expect(csp).toContain(logicalIdOf(s.stacks.stateless.webSocketApi));
    expect(csp).toContain(s.config.dashboard.login.tokenEndpoint);
    expect(policy.StrictTransportSecurity).toMatchObject({
      AccessControlMaxAgeSec: 63_072_000,
      IncludeSubdomains: true,
      Override: true,
    });
    expect(policy.FrameOptions).toMatchObject({ FrameOption: 'DENY', Override: true });
    expect(policy.ContentTypeOptions).toMatchObject({ Override: true });
    expect(policy.ReferrerPolicy).toMatchObject({ ReferrerPolicy: 'no-referrer' });

    s.stateless.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'dashboard/index.html',
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: 'redirect-to-https',
          ResponseHeadersPolicyId: { Ref: policyId },
        }),
        CacheBehaviors: [
          Match.objectLike({
            PathPattern: '/api/*',
            ViewerProtocolPolicy: 'https-only',
            ResponseHeadersPolicyId: { Ref: policyId },
            // CloudFront's managed CachingDisabled and AllViewerExceptHostHeader policies.
            CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
            OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
            AllowedMethods: Match.arrayWith(['PUT', 'PATCH', 'POST', 'DELETE']),
          }),
        ],
      }),
    });
  });

  it('deploys the build under dashboard/ with a config.json for the stack and the issuer', () => {
    const deployments = s.stateless.findResources('Custom::CDKBucketDeployment');
    expect(Object.keys(deployments)).toHaveLength(1);
    const props = Object.values(deployments)[0]!.Properties as Record<string, unknown>;
    expect(props.DestinationBucketKeyPrefix).toBe('dashboard/');
    expect(props.Prune).toBe(true);
    // Two sources: the built web/ and the generated config.json.
    expect(props.SourceObjectKeys).toHaveLength(2);
    const config = s.stacks.stateless.dashboard.pageConfig;
    expect(config.apiUrl).toBe('');
    expect(config.oidc).toMatchObject({
      issuer: s.config.auth.issuer,
      clientId: s.config.dashboard.login.clientId,
      tokenEndpoint: s.config.dashboard.login.tokenEndpoint,
    });
    expect(JSON.stringify(s.stacks.stateless.resolve(config.wsUrl))).toContain(
      logicalIdOf(s.stacks.stateless.webSocketApi),
    );
    s.stateless.hasOutput('*', { Description: Match.stringLikeRegexp('dashboard') });
  });
});

describe('dashboard asset (env=dev, bundled as cdk synth does)', () => {
  it('is the Vite production build: the page and its hashed assets', () => {
    const s = synthesize('dev');
    const outdir = (s.stacks.stateless.node.root as App).outdir;
    const staged = readdirSync(outdir)
      .map((entry) => path.join(outdir, entry))
      .filter((dir) => existsSync(path.join(dir, 'index.html')) && existsSync(path.join(dir, 'assets')));
    expect(staged).toHaveLength(1);
    const assets = readdirSync(path.join(staged[0]!, 'assets'));
    expect(assets.some((file) => /^index-[\w-]+\.js$/.test(file))).toBe(true);
    expect(assets.some((file) => /^index-[\w-]+\.css$/.test(file))).toBe(true);
  }, 180_000);
});
