// Unit tests — ElastiCache is encrypted in transit and authenticated in every environment: the cache (serverless
// or replication group) requires TLS and carries the functions' RBAC user group; the user logs in with a
// password that the template holds only as a Secrets Manager dynamic reference, under the shared ACL; every
// Redis function gets a rediss:// URL, the login's ARN (never the value) and read access to that one secret.
import { beforeAll, describe, expect, it } from 'vitest';
import { type EnvironmentConfig, envNamesList } from '../../../infra/config.ts';
import { functions } from '../../../infra/topology.ts';
import { redisAccessString } from '../../../shared/contracts/index.ts';
import { logicalIdOf, onlyResource, type Synthesized, synthesize } from './cdk-synth.ts';

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
}

// Every environment, and prod with a replication group (no environment's default since prod went serverless).
const replicationGroup = (config: EnvironmentConfig): EnvironmentConfig => ({
  ...config,
  redis: { kind: 'replication-group', nodeType: 'cache.r7g.large', shards: 2, replicasPerShard: 1 },
});
const variants = [
  ...envNamesList.map((envName) => [envName, envName, undefined] as const),
  ['prod with a replication group', 'prod', replicationGroup] as const,
];

describe.each(variants)('ElastiCache auth and TLS, env=%s', (_label, envName, configure) => {
  let s: Synthesized;
  let secretId: string;
  beforeAll(() => {
    s = synthesize(envName, { bundle: false, ...(configure ? { configure } : {}) });
    secretId = logicalIdOf(s.stacks.stateful.redis.authSecret);
  }, 240_000);

  it('attaches a Valkey user group holding one password user under the shared ACL to the cache', () => {
    const { logicalId: groupId, resource: group } = onlyResource(s.stateful, 'AWS::ElastiCache::UserGroup', {
      Engine: 'valkey',
    });
    const { logicalId: userId, resource: user } = onlyResource(s.stateful, 'AWS::ElastiCache::User', {
      Engine: 'valkey',
    });
    expect(user.Properties.AccessString).toBe(redisAccessString);
    expect(user.Properties.NoPasswordRequired).toBeUndefined();
    const auth = user.Properties.AuthenticationMode as { Type: string; Passwords: unknown[] };
    expect(auth.Type).toBe('password');
    // The password is a dynamic reference to the generated secret: no value in the template.
    expect(auth.Passwords).toHaveLength(1);
    const password = JSON.stringify(auth.Passwords[0]);
    expect(password).toContain('{{resolve:secretsmanager:');
    expect(password).toContain(secretId);
    expect(password).toContain(':SecretString:password::}}');
    // The group names the user by its id, and is created after it.
    expect(group.Properties.UserIds).toEqual([user.Properties.UserId]);
    expect(s.stateful.toJSON().Resources[groupId].DependsOn).toContain(userId);

    // The cache names the group by its id, and is created after it.
    const groupRef = group.Properties.UserGroupId;
    expect(groupRef).toMatch(/^[a-z][a-z0-9-]*[a-z0-9]$/);
    const cacheType =
      s.config.redis.kind === 'serverless'
        ? 'AWS::ElastiCache::ServerlessCache'
        : 'AWS::ElastiCache::ReplicationGroup';
    const [cacheLogicalId] = Object.keys(s.stateful.findResources(cacheType));
    expect(s.stateful.toJSON().Resources[cacheLogicalId as string].DependsOn).toContain(groupId);
    if (s.config.redis.kind === 'serverless') {
      const { resource } = onlyResource(s.stateful, 'AWS::ElastiCache::ServerlessCache', {
        Engine: 'valkey',
      });
      // Serverless always requires TLS (it has no setting for it); RBAC is its only access control.
      expect(resource.Properties.UserGroupId).toEqual(groupRef);
    } else {
      const { resource } = onlyResource(s.stateful, 'AWS::ElastiCache::ReplicationGroup', {
        Engine: 'valkey',
      });
      expect(resource.Properties).toMatchObject({
        TransitEncryptionEnabled: true,
        TransitEncryptionMode: 'required',
        AtRestEncryptionEnabled: true,
        UserGroupIds: [groupRef],
      });
      // RBAC, not the legacy shared AUTH token (a group cannot have both).
      expect(resource.Properties.AuthToken).toBeUndefined();
    }
  });

  it('generates the login as JSON with the user name, and keeps every acknowledgement on it reasoned', () => {
    const secret = s.stateful.toJSON().Resources[secretId];
    const generate = secret.Properties.GenerateSecretString as Record<string, unknown>;
    expect(generate.GenerateStringKey).toBe('password');
    const { resource: user } = onlyResource(s.stateful, 'AWS::ElastiCache::User', { Engine: 'valkey' });
    expect(JSON.parse(generate.SecretStringTemplate as string)).toEqual({
      username: user.Properties.UserName,
    });
    expect(secret.Properties.SecretString).toBeUndefined();
    const onRedis = s.acknowledgements.filter((a) => /RedisUserSecret|\/Redis$/.test(a.path));
    expect(onRedis.map((a) => a.id.replace('Annotation::', '')).sort()).toEqual(
      s.config.redis.kind === 'serverless'
        ? ['AwsSolutions-SMG4']
        : ['AwsSolutions-AEC6', 'AwsSolutions-SMG4'],
    );
    for (const ack of onRedis) expect(ack.reason.length, ack.id).toBeGreaterThan(80);
    expect(s.nagViolations).toEqual([]);
  });

  it('gives every Redis function a rediss:// URL, the login ARN and read access to that secret only', () => {
    const redisFunctions = Object.entries(functions).filter(([, spec]) =>
      (spec.needs as readonly string[]).includes('redis'),
    );
    expect(redisFunctions.length).toBeGreaterThan(3);
    const policies = Object.values(s.stateless.findResources('AWS::IAM::Policy')) as {
      Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } };
    }[];
    for (const [name, spec] of Object.entries(functions)) {
      const fn = s.stacks.stateless.functions[name];
      if (!fn?.role) throw new Error(`no function ${name}`);
      const resource = s.stateless.toJSON().Resources[logicalIdOf(fn)];
      const env = resource.Properties.Environment.Variables as Record<string, unknown>;
      const roleId = logicalIdOf(fn.role);
      const readsLogin = policies
        .filter((p) => p.Properties.Roles.some((r) => r.Ref === roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .some(
          (st) =>
            [st.Action].flat().includes('secretsmanager:GetSecretValue') &&
            JSON.stringify(st.Resource).includes(secretId),
        );
      if (!(spec.needs as readonly string[]).includes('redis')) {
        expect(env.REDIS_AUTH_SECRET_ARN, name).toBeUndefined();
        expect(readsLogin, name).toBe(false);
        continue;
      }
      expect(JSON.stringify(env.REDIS_URL), name).toMatch(/^\{"Fn::Join":\["",\["rediss:\/\//);
      expect(JSON.stringify(env.REDIS_AUTH_SECRET_ARN), name).toContain(secretId);
      expect(env.REDIS_CLUSTER, name).toBe('true');
      expect(readsLogin, name).toBe(true);
    }
  });
});
