// Unit tests — infra/topology: the one declaration is internally consistent.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { topology } from '#infra/topology';

const root = resolve(import.meta.dirname, '../../..');

describe('topology', () => {
  it('names an existing handler module for every function', () => {
    for (const [name, spec] of Object.entries(topology.functions)) {
      expect(existsSync(resolve(root, spec.entry)), `${name}: ${spec.entry}`).toBe(true);
    }
  });

  it('points every route, event source and schedule at a declared function', () => {
    const declared = new Set(Object.keys(topology.functions));
    const targets = [
      ...topology.httpRoutes.map((route) => route.function),
      ...topology.wsRoutes.map((route) => route.function),
      ...topology.eventSources.map((source) => source.function),
      ...topology.schedules.map((schedule) => schedule.function),
      topology.wsAuthorizerFunction,
    ];
    for (const target of targets) expect(declared.has(target), target).toBe(true);
  });

  it('declares every HTTP route once, and only /health and the API document without a role', () => {
    const keys = topology.httpRoutes.map((route) => `${route.method} ${route.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    const publicRoutes = topology.httpRoutes.filter((route) => route.role === null).map((r) => r.path);
    expect(publicRoutes).toEqual(['/health', '/api/v1/openapi.json']);
  });

  it('lets every function serving a node route read the node registry (IAM callers are mapped to nodes there)', () => {
    // Locally every table's name is in the one process environment; in AWS only the declared ones are, so a
    // missing declaration fails only there (shared/placement's callerIsNode reads placement-nodes).
    const nodeRouteFunctions = new Set(
      topology.httpRoutes.filter((route) => route.role === 'node').map((route) => route.function),
    );
    expect(nodeRouteFunctions.size).toBeGreaterThan(1);
    for (const name of nodeRouteFunctions) {
      const tables = (topology.functions[name]?.tables ?? {}) as Record<string, string>;
      expect(tables['placement-nodes'], name).toMatch(/^(read|write)$/);
    }
  });

  it('has the four priority lanes and the sync queue, each redriving after a bounded number of receives', () => {
    expect(Object.keys(topology.queues).sort()).toEqual([
      'ops-critical',
      'ops-high',
      'ops-low',
      'ops-normal',
      'sync',
    ]);
    for (const spec of Object.values(topology.queues)) {
      expect(spec.maxReceiveCount).toBeGreaterThan(0);
      expect(spec.maxReceiveCount).toBeLessThanOrEqual(10);
    }
  });

  it('gives event sources a queue that exists and a maxConcurrency AWS accepts', () => {
    for (const source of topology.eventSources) {
      expect(topology.queues[source.queue], source.queue).toBeDefined();
      expect(source.maxConcurrency).toBeGreaterThanOrEqual(2);
      expect(source.batchSize).toBeLessThanOrEqual(10);
    }
  });
});
