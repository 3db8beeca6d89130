// Unit tests — the per-environment infra config: chosen by `-c env=…`, validated with the setting named,
// and the helpers that turn it into removal policies and reserved concurrency.

import { RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import {
  type EnvironmentConfig,
  environments,
  envNamesList,
  loadConfig,
  removalPolicyFor,
  scaledReservedConcurrency,
  validateConfig,
} from '../../../infra/config.ts';

describe('loadConfig', () => {
  it.each(envNamesList)('returns a valid config for %s', (envName) => {
    const config = loadConfig(envName);
    expect(config.envName).toBe(envName);
    expect(config.availabilityZones.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a missing or unknown environment and says how to pick one', () => {
    expect(() => loadConfig(undefined)).toThrow(
      /context "env" must be one of dev\|staging\|prod .*-c env=dev/,
    );
    expect(() => loadConfig('qa')).toThrow(/got "qa"/);
  });

  it('applies context overrides and validates them', () => {
    expect(loadConfig('prod', { alarmEmail: 'oncall@example.com' }).alarmEmail).toBe('oncall@example.com');
    expect(loadConfig('dev', { account: '123456789012' }).account).toBe('123456789012');
    expect(() => loadConfig('dev', { account: '42' })).toThrow(/account must be 12 digits/);
    expect(() => loadConfig('dev', { alarmEmail: 'nobody' })).toThrow(/alarmEmail is not an e-mail address/);
    expect(loadConfig('dev', { alarmEmail: '' }).alarmEmail).toBeUndefined();
  });
});

describe('validateConfig', () => {
  const withChange =
    (patch: Partial<EnvironmentConfig>): (() => void) =>
    () =>
      validateConfig({ ...environments.dev, ...patch });

  it('names the setting that is wrong', () => {
    expect(withChange({ region: 'Ireland' })).toThrow(/region is not a region name/);
    expect(withChange({ availabilityZones: ['eu-west-1a'] })).toThrow(/availabilityZones needs at least 2/);
    expect(withChange({ availabilityZones: ['eu-west-1a', 'us-east-1b'] })).toThrow(
      /us-east-1b, outside eu-west-1/,
    );
    expect(withChange({ natGateways: 0 })).toThrow(/natGateways must be an integer/);
    expect(withChange({ aurora: { ...environments.dev.aurora, minAcu: 8, maxAcu: 4 } })).toThrow(
      /aurora.minAcu\/maxAcu/,
    );
    expect(withChange({ aurora: { ...environments.dev.aurora, backupRetentionDays: 40 } })).toThrow(
      /backupRetentionDays must be an integer in 1..35/,
    );
    expect(
      withChange({
        redis: { kind: 'replication-group', nodeType: 'cache.r7g.large', shards: 1, replicasPerShard: 0 },
      }),
    ).toThrow(/redis.replicasPerShard/);
    expect(withChange({ auth: { ...environments.dev.auth, issuer: 'http://insecure/' } })).toThrow(
      /auth.issuer must be an https URL/,
    );
    expect(withChange({ reservedConcurrencyScale: -1 })).toThrow(/reservedConcurrencyScale must be in 0..10/);
    const access = environments.dev.vcenterAccess;
    expect(withChange({ vcenterAccess: { ...access, scopes: { 'team-a': ['vc a'] } } })).toThrow(
      /vcenterAccess.scopes is invalid/,
    );
    expect(withChange({ vcenterAccess: { ...access, allowedTargets: ['10.0.0.0/40'] } })).toThrow(
      /vcenterAccess.allowedTargets is invalid/,
    );
    expect(
      withChange({
        vcenterAccess: {
          ...access,
          scopes: { admin: ['*'] },
          allowedTargets: ['10.20.0.0/16', '*.vc.example'],
        },
      }),
    ).not.toThrow();
  });
});

describe('config helpers', () => {
  it('maps the removal policy, falling back to RETAIN where a resource cannot snapshot', () => {
    expect(removalPolicyFor(environments.dev, true)).toBe(RemovalPolicy.DESTROY);
    expect(removalPolicyFor(environments.staging, true)).toBe(RemovalPolicy.SNAPSHOT);
    expect(removalPolicyFor(environments.staging, false)).toBe(RemovalPolicy.RETAIN);
    expect(removalPolicyFor(environments.prod, true)).toBe(RemovalPolicy.RETAIN);
  });

  it('scales reserved concurrency, reserving nothing when the scale is 0 and at least 1 otherwise', () => {
    expect(scaledReservedConcurrency(environments.dev, 10)).toBeUndefined();
    expect(scaledReservedConcurrency(environments.staging, 10)).toBe(5);
    expect(scaledReservedConcurrency(environments.staging, 1)).toBe(1);
    expect(scaledReservedConcurrency(environments.prod, 10)).toBe(10);
    expect(scaledReservedConcurrency(environments.prod, undefined)).toBeUndefined();
  });
});
