// Unit tests — API Gateway throttles from the environment config: the HTTP and WebSocket stages' default route
// settings, the tighter per-route settings on the routes that cause vCenter calls or queued work (each stage
// deployed after the routes its settings name), and the refusal of bad values at config check and at synth.
import { beforeAll, describe, expect, it } from 'vitest';
import { apiThrottle, type EnvironmentConfig, environments, validateConfig } from '../../../infra/config.ts';
import { topology } from '../../../infra/topology.ts';
import { onlyResource, type Synthesized, synthesize } from './cdk-synth.ts';

type StageProps = {
  DefaultRouteSettings?: { ThrottlingRateLimit?: number; ThrottlingBurstLimit?: number };
  RouteSettings?: Record<string, { ThrottlingRateLimit?: number; ThrottlingBurstLimit?: number }>;
};

const upstreamRoutes = [
  'POST /api/v1/vms/{id}/refresh',
  'GET /api/v1/vms/{id}/thumbnail',
  'POST /api/v1/vms/{id}/console',
  'POST /api/v1/vcenters/{id}/sync',
  'POST /api/v1/vcenters',
  'PUT /api/v1/vcenters/{id}/credentials/me',
  'GET /api/v1/vcenters/{id}/datacenters',
  'GET /api/v1/vcenters/{id}/datacenters/{dc}/compute',
  'GET /api/v1/vcenters/{id}/compute/{cr}/resources',
] as const;

describe('CDK app: API Gateway throttles (env=prod)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize('prod', { bundle: false });
  }, 120_000);

  const stage = (name: string) =>
    onlyResource(s.stateless, 'AWS::ApiGatewayV2::Stage', { StageName: name }) as {
      logicalId: string;
      resource: { Properties: StageProps; DependsOn?: string[] };
    };

  it('sets the HTTP stage default from the config', () => {
    const { http } = s.config.apiThrottle;
    expect(stage('$default').resource.Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: http.rateLimit,
      ThrottlingBurstLimit: http.burstLimit,
    });
  });

  it('gives every upstream route its own, tighter throttle, and deploys the stage after those routes', () => {
    const { resource } = stage('$default');
    const settings = resource.Properties.RouteSettings ?? {};
    expect(Object.keys(settings).sort()).toEqual([...upstreamRoutes].sort());
    for (const key of upstreamRoutes) {
      const configured = s.config.apiThrottle.httpRoutes[key];
      expect(configured, key).toBeDefined();
      expect(settings[key]).toEqual({
        ThrottlingRateLimit: configured?.rateLimit,
        ThrottlingBurstLimit: configured?.burstLimit,
      });
      expect(configured!.rateLimit).toBeLessThan(s.config.apiThrottle.http.rateLimit);
      const [method, path] = key.split(' ');
      const route = onlyResource(s.stateless, 'AWS::ApiGatewayV2::Route', { RouteKey: `${method} ${path}` });
      expect(resource.DependsOn ?? [], key).toContain(route.logicalId);
    }
  });

  it('sets the WebSocket stage default and a tighter $connect', () => {
    const { webSocket, webSocketRoutes } = s.config.apiThrottle;
    const { resource } = stage('prod');
    expect(resource.Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: webSocket.rateLimit,
      ThrottlingBurstLimit: webSocket.burstLimit,
    });
    expect(resource.Properties.RouteSettings?.$connect).toEqual({
      ThrottlingRateLimit: webSocketRoutes.$connect?.rateLimit,
      ThrottlingBurstLimit: webSocketRoutes.$connect?.burstLimit,
    });
    expect(webSocketRoutes.$connect!.rateLimit).toBeLessThan(webSocket.rateLimit);
    const connect = onlyResource(s.stateless, 'AWS::ApiGatewayV2::Route', { RouteKey: '$connect' });
    expect(resource.DependsOn ?? []).toContain(connect.logicalId);
  });
});

describe('API Gateway throttle settings', () => {
  const withThrottle = (patch: Partial<EnvironmentConfig['apiThrottle']>) => () =>
    validateConfig({ ...environments.dev, apiThrottle: { ...environments.dev.apiThrottle, ...patch } });

  it('are set in every environment, tighter on the upstream routes than the stage default', () => {
    for (const config of Object.values(environments)) {
      expect(() => validateConfig(config)).not.toThrow();
      for (const key of upstreamRoutes) {
        expect(config.apiThrottle.httpRoutes[key]?.rateLimit).toBeLessThan(config.apiThrottle.http.rateLimit);
      }
    }
  });

  it('refuses a bad rate or burst, and a route the contract does not have, naming the setting', () => {
    expect(withThrottle({ http: { rateLimit: 0, burstLimit: 10 } })).toThrow(/apiThrottle.http.rateLimit/);
    expect(withThrottle({ webSocket: { rateLimit: 10, burstLimit: 1.5 } })).toThrow(
      /apiThrottle.webSocket.burstLimit/,
    );
    expect(
      withThrottle({ httpRoutes: { 'POST /api/v1/vms/{id}/refresh': { rateLimit: 20_000, burstLimit: 1 } } }),
    ).toThrow(/apiThrottle.httpRoutes\["POST \/api\/v1\/vms\/\{id\}\/refresh"\].rateLimit/);
    expect(
      withThrottle({
        httpRoutes: {
          'POST /nope': { rateLimit: 1, burstLimit: 1 },
        } as EnvironmentConfig['apiThrottle']['httpRoutes'],
      }),
    ).toThrow(/apiThrottle.httpRoutes\["POST \/nope"\] is not a route of the contract/);
  });

  it('derive the upstream routes and $connect from the given limits', () => {
    const t = apiThrottle({
      http: { rateLimit: 100, burstLimit: 200 },
      upstream: { rateLimit: 20, burstLimit: 40 },
      webSocket: { rateLimit: 40, burstLimit: 80 },
    });
    expect(t.httpRoutes['POST /api/v1/vms/{id}/refresh']).toEqual({ rateLimit: 20, burstLimit: 40 });
    expect(t.httpRoutes['POST /api/v1/vcenters']).toEqual({ rateLimit: 2, burstLimit: 4 });
    expect(t.webSocketRoutes.$connect).toEqual({ rateLimit: 10, burstLimit: 20 });
  });

  it('refuse at synth an override for a route the topology does not bind', () => {
    const withoutRefresh = {
      ...topology,
      httpRoutes: topology.httpRoutes.filter((r) => !(r.method === 'POST' && r.path.endsWith('/refresh'))),
    };
    expect(() => synthesize('dev', { topology: withoutRefresh, bundle: false })).toThrow(
      /apiThrottle.httpRoutes: no such route in the topology: POST \/api\/v1\/vms\/\{id\}\/refresh/,
    );
  }, 120_000);
});
