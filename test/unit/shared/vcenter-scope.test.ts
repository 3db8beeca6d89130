// Unit tests — the vCenter scope decision (shared/auth): the map's parsing, union of roles and groups, deny by
// default once a map is configured, wildcards matched as whole ids, SQL LIKE patterns escaped.
import { describe, expect, it } from 'vitest';
import { parseVcenterScopes, VcenterScope, vcenterScopeFor } from '../../../shared/auth/vcenter-scope.ts';
import { ConfigError } from '../../../shared/config/index.ts';
import { routes } from '../../../shared/contracts/index.ts';
import { scopedParamOf } from '../../../shared/http/index.ts';

const config = {
  map: parseVcenterScopes('{"team-a":["vc-a-*"],"team-b":["vc-b-1","vc-b-?"],"admin":["*"]}'),
  groupsClaim: 'groups',
};

describe('vCenter scope', () => {
  it('is every vCenter when no map is configured', () => {
    const scope = vcenterScopeFor({ roles: '[viewer]' }, { map: new Map(), groupsClaim: 'groups' });
    expect(scope.all).toBe(true);
    expect(scope.allows('anything')).toBe(true);
  });

  it('unites what the roles and groups grant, from arrays or API Gateway’s flattened strings', () => {
    const scope = vcenterScopeFor({ roles: '[viewer]', groups: '[team-a team-b]' }, config);
    expect(scope.patterns).toEqual(['vc-a-*', 'vc-b-1', 'vc-b-?']);
    expect(scope.allows('vc-a-17')).toBe(true);
    expect(scope.allows('vc-b-2')).toBe(true);
    expect(scope.allows('vc-b-22')).toBe(false);
    expect(scope.allows('xvc-a-1')).toBe(false);
    expect(vcenterScopeFor({ roles: ['admin'] }, config).all).toBe(true);
    expect(vcenterScopeFor({ roles: ['viewer'], groups: ['team-a'] }, config).allows('vc-b-1')).toBe(false);
  });

  it('denies every vCenter to a caller the map does not name', () => {
    const scope = vcenterScopeFor({ roles: ['viewer'], groups: ['other'] }, config);
    expect(scope.all).toBe(false);
    expect(scope.patterns).toEqual([]);
    expect(scope.allows('vc-a-1')).toBe(false);
  });

  it('turns patterns into escaped LIKE patterns and keys that differ per scope', () => {
    const scope = VcenterScope.of(['vc_1.*', 'a?']);
    expect(scope.likePatterns()).toEqual(['a_', 'vc\\_1.%']);
    expect(scope.allows('vcX1.z')).toBe(false);
    expect(scope.allows('vc_1.z')).toBe(true);
    expect(scope.key).not.toBe(VcenterScope.of(['vc_1.*']).key);
    expect(VcenterScope.everything.key).toBe('all');
  });

  it('refuses a malformed map naming the variable', () => {
    expect(() => parseVcenterScopes('[1]')).toThrow(ConfigError);
    expect(() => parseVcenterScopes('{"a":"vc-1"}')).toThrow(/VCENTER_SCOPES/);
    expect(() => parseVcenterScopes('{"a":["vc 1"]}')).toThrow(/VCENTER_SCOPES/);
    expect(() => parseVcenterScopes('not json')).toThrow(/VCENTER_SCOPES/);
  });

  it('covers every route whose {id} names a VM or a vCenter', () => {
    const scoped = Object.entries(routes)
      .filter(([, route]) => scopedParamOf(route.path))
      .map(([key]) => key);
    // Every route with an {id} under /vms or /vcenters, and nothing else.
    const expected = Object.entries(routes)
      .filter(([, route]) => /^\/api\/v1\/(vms|vcenters)\/\{id\}/.test(route.path))
      .map(([key]) => key);
    expect(scoped).toEqual(expected);
    expect(scoped).toContain('POST /api/v1/vms/{id}/console');
    expect(scoped).toContain('GET /api/v1/vcenters/{id}/compute/{cr}/resources');
  });
});
