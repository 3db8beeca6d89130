// Unit tests — shared/contracts: the one declaration of roles, routes, lanes and queues, and the topology
// built on it.
import { describe, expect, it } from 'vitest';
import { topology } from '#infra/topology';
import {
  laneQueues,
  queueContracts,
  type Role,
  roleSatisfies,
  roles,
  routeKeys,
  routes,
} from '#shared/contracts';

describe('contracts', () => {
  it('orders the roles: admin includes operator, which includes viewer; node stands apart', () => {
    const granted: Record<Role, Role[]> = {
      viewer: ['viewer'],
      operator: ['viewer', 'operator'],
      admin: ['viewer', 'operator', 'admin'],
      node: ['node'],
    };
    for (const holder of roles) {
      for (const required of roles) {
        expect(roleSatisfies([holder], required), `${holder} for ${required}`).toBe(
          granted[holder].includes(required),
        );
      }
    }
    expect(roleSatisfies(['superuser', 'constructor'], 'viewer')).toBe(false);
    expect(roleSatisfies([], 'viewer')).toBe(false);
  });

  it('keys every route by `<METHOD> <path>`, and the topology binds each key to one function', () => {
    for (const key of routeKeys) expect(`${routes[key].method} ${routes[key].path}`).toBe(key);
    expect(topology.httpRoutes.map((route) => `${route.method} ${route.path}`)).toEqual(routeKeys);
  });

  it('gives every lane a declared queue, and the topology keeps the receive counts of the contract', () => {
    for (const queue of Object.values(laneQueues)) expect(queueContracts[queue]).toBeDefined();
    for (const [name, contract] of Object.entries(queueContracts)) {
      expect(topology.queues[name]).toMatchObject(contract);
    }
    expect(Object.keys(topology.queues).sort()).toEqual(Object.keys(queueContracts).sort());
  });
});
