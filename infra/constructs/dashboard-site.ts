// Infra construct: the dashboard (web/) in AWS. Its built assets go to a private S3 bucket under
// `dashboard/`, read by CloudFront through origin access control; the same distribution forwards `/api/*`
// to the HTTP API uncached, so the page and its API share one origin (no CORS, and the CSP's connect-src
// stays small). `config.json` is written at deploy time with the stack's WebSocket URL and the issuer.
// Every answer carries the security headers of infra/dashboard-site.ts (CSP, HSTS, no framing).

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { AssetHashType, CfnOutput, DockerImage, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { HttpApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  Function as EdgeFunction,
  FunctionCode,
  FunctionEventType,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginRequestPolicy,
  ResponseHeadersPolicy,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import type { DashboardConfig } from '../../shared/contracts/index.ts';
import type { AuthConfig, DashboardLoginConfig } from '../config.ts';
import {
  dashboardBasePath,
  dashboardContentSecurityPolicy,
  dashboardSecurityHeaders,
} from '../dashboard-site.ts';
import { acknowledge, nagReference } from './nag.ts';
import { repoRoot } from './vfleet-function.ts';

export interface DashboardSiteProps {
  readonly envName: string;
  readonly auth: AuthConfig;
  readonly login: DashboardLoginConfig;
  readonly httpApi: HttpApi;
  readonly webSocketStage: WebSocketStage;
}

/** Runs the dashboard's production build into CDK's staging directory (local bundling, no Docker). */
function buildInto(outputDir: string): boolean {
  const vite = path.join(repoRoot, 'node_modules/vite/bin/vite.js');
  const child = spawnSync(
    process.execPath,
    [
      vite,
      'build',
      '--config',
      path.join(repoRoot, 'web/vite.config.ts'),
      '--outDir',
      outputDir,
      '--emptyOutDir',
    ],
    { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 },
  );
  if (child.status !== 0)
    throw new Error(`dashboard build failed: ${child.stderr || child.stdout || child.error}`);
  return true;
}

/**
 * `/dashboard/` and `/dashboard` are the page itself: S3 has no directory index, so the viewer request is
 * rewritten to the object (the tabs live in the URL's hash; no other deep links exist).
 */
const indexRewrite = `function handler(event) {
  var uri = event.request.uri;
  if (uri === '${dashboardBasePath.slice(0, -1)}' || uri === '${dashboardBasePath}') event.request.uri = '${dashboardBasePath}index.html';
  return event.request;
}`;

export class DashboardSite extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  readonly responseHeaders: ResponseHeadersPolicy;
  /** What the page reads as config.json (URLs may be CDK tokens). */
  readonly pageConfig: DashboardConfig;

  constructor(scope: Construct, id: string, props: DashboardSiteProps) {
    super(scope, id);
    this.pageConfig = {
      // Same origin: the distribution forwards /api/* to the HTTP API.
      apiUrl: '',
      wsUrl: props.webSocketStage.url,
      oidc: {
        issuer: props.auth.issuer,
        authorizationEndpoint: props.login.authorizationEndpoint,
        tokenEndpoint: props.login.tokenEndpoint,
        clientId: props.login.clientId,
        scope: props.login.scope ?? 'openid profile',
        idTokenSigningAlg: props.login.idTokenSigningAlg,
      },
    };

    this.bucket = new Bucket(this, 'Assets', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Only build output lives here: every deploy rewrites it, so nothing is lost with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    acknowledge(
      this.bucket,
      'The bucket holds only the build output of web/, rewritten by every deploy; access logs of the distribution cover who read it.',
      'AwsSolutions-S1',
    );

    this.responseHeaders = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `vfleet ${props.envName} dashboard: CSP, HSTS, no framing`,
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: dashboardContentSecurityPolicy(this.pageConfig),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.seconds(dashboardSecurityHeaders.strictTransportSecuritySeconds),
          includeSubdomains: true,
          override: true,
        },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    // The API's host, out of its endpoint URL `https://<id>.execute-api.<region>.amazonaws.com`.
    const apiHost = Fn.select(2, Fn.split('/', props.httpApi.apiEndpoint));
    this.distribution = new Distribution(this, 'Distribution', {
      comment: `vfleet ${props.envName} dashboard`,
      httpVersion: HttpVersion.HTTP2_AND_3,
      minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
      defaultRootObject: `${dashboardBasePath.slice(1)}index.html`,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: this.responseHeaders,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        functionAssociations: [
          {
            eventType: FunctionEventType.VIEWER_REQUEST,
            function: new EdgeFunction(this, 'IndexRewrite', { code: FunctionCode.fromInline(indexRewrite) }),
          },
        ],
      },
      additionalBehaviors: {
        '/api/*': {
          origin: new HttpOrigin(apiHost),
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          // Answers depend on the caller's token: never cached here.
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: this.responseHeaders,
        },
      },
    });
    acknowledge(
      this.distribution,
      'No custom domain yet: the default CloudFront certificate serves TLS 1.2+ (SNI); a custom domain brings its own ACM certificate.',
      'AwsSolutions-CFR4',
    );
    acknowledge(
      this.distribution,
      'A dashboard for one organisation with its own login; geo restrictions would block on-call engineers abroad.',
      'AwsSolutions-CFR1',
    );
    acknowledge(
      this.distribution,
      'WAF belongs with the environment-wide edge protection of issue 15 (throttles and rules in one place); the API behind it authenticates every call.',
      'AwsSolutions-CFR2',
    );
    acknowledge(
      this.distribution,
      'Access logging needs a log bucket with ACLs enabled, which the environment does not have yet; the API logs every request itself.',
      'AwsSolutions-CFR3',
    );

    const deployment = new BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      destinationKeyPrefix: dashboardBasePath.slice(1),
      sources: [
        Source.asset(path.join(repoRoot, 'web'), {
          assetHashType: AssetHashType.OUTPUT,
          bundling: {
            local: { tryBundle: buildInto },
            // Never used: local bundling always succeeds or throws (no Docker on these machines).
            image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
          },
        }),
        Source.jsonData('config.json', this.pageConfig),
      ],
      // The page is small; a new deploy replaces it at once (hashed assets make old pages keep working).
      distribution: this.distribution,
      distributionPaths: [`${dashboardBasePath}index.html`, `${dashboardBasePath}config.json`],
      prune: true,
      memoryLimit: 256,
    });
    // CDK puts the deployment's handler at the stack's root (one per stack), not under `deployment`.
    const handler = Stack.of(this)
      .node.children.filter((child) => child.node.id.startsWith('Custom::CDKBucketDeployment'))
      .concat(deployment);
    const stack = Stack.of(this);
    const stagingObjects = `arn:aws:s3:::cdk-hnb659fds-assets-${stack.account}-${stack.region}/*`;
    acknowledge(
      handler,
      "CDK's BucketDeployment handler, used only at deploy time: its runtime and basic execution policy are CDK's own, and it copies the asset from CDK's staging bucket into this bucket's objects.",
      'AwsSolutions-L1',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      ...['s3:GetBucket*', 's3:GetObject*', 's3:List*', 's3:Abort*', 's3:DeleteObject*'].map(
        (action) => `AwsSolutions-IAM5[Action::${action}]`,
      ),
      `AwsSolutions-IAM5[Resource::${nagReference(this, `${this.bucket.bucketArn}/*`)}]`,
      `AwsSolutions-IAM5[Resource::${nagReference(this, stagingObjects)}]`,
      // The CloudFront invalidation after the copy: CreateInvalidation takes no resource narrower than *.
      'AwsSolutions-IAM5[Resource::*]',
    );

    new CfnOutput(this, 'Url', {
      value: `https://${this.distribution.distributionDomainName}${dashboardBasePath}`,
      description: 'The dashboard; register this as the login client redirect URI',
    });
  }
}
