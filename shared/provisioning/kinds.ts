// Provisioning — domain: the levels of a provisioning form (datacenters → compute resources → pools, networks,
// datastores, templates), the items of each kind, how a kind's answer is reported, and the query the resources
// route accepts. Both sources (the inventory in PostgreSQL and a live vCenter) produce these same items.
import * as z from 'zod';
import { moidPattern } from '#shared/contracts';

/** The kinds of one compute resource's resources, in the order answers list them. */
export const resourceKinds = ['pools', 'networks', 'datastores', 'templates'] as const;
export type ResourceKind = (typeof resourceKinds)[number];

/** Every cached kind: the two upper levels and the resources. */
export const kinds = ['datacenters', 'compute', ...resourceKinds] as const;
export type Kind = (typeof kinds)[number];

export const isKind = (value: string): value is Kind => (kinds as readonly string[]).includes(value);

export interface DatacenterItem {
  readonly id: string;
  readonly name: string;
}

export interface ComputeItem {
  readonly id: string;
  readonly name: string;
  /** A cluster, or a standalone host's compute resource. */
  readonly type: 'cluster' | 'standalone';
  readonly hosts: number;
}

export interface PoolItem {
  readonly id: string;
  readonly name: string;
  /** The parent pool; null for the compute resource's root pool. */
  readonly parentId: string | null;
  /** Names from the root pool down, joined by `/` (e.g. `Resources/web/front`). */
  readonly path: string;
}

export interface NetworkItem {
  readonly id: string;
  readonly name: string;
  readonly type: 'standard' | 'distributed' | 'opaque';
  /** The distributed switch of a distributed port group; null otherwise. */
  readonly switch: { readonly id: string; readonly name: string | null } | null;
}

export interface DatastoreItem {
  readonly id: string;
  readonly name: string;
  readonly type: string | null;
  readonly capacityBytes: number | null;
  readonly freeBytes: number | null;
  readonly accessible: boolean | null;
  /** `normal`, `enteringMaintenance` or `inMaintenance`. */
  readonly maintenanceMode: string | null;
}

export interface TemplateItem {
  readonly id: string;
  readonly name: string;
  readonly guestFullName: string | null;
  readonly numCpu: number | null;
  readonly memoryMb: number | null;
}

/** The items of each kind. */
export interface KindItems {
  readonly datacenters: DatacenterItem;
  readonly compute: ComputeItem;
  readonly pools: PoolItem;
  readonly networks: NetworkItem;
  readonly datastores: DatastoreItem;
  readonly templates: TemplateItem;
}

/** Where a kind's value came from when it was loaded. */
export type LoadSource = 'inventory' | 'live';

/** Templates kept per compute resource (the route's `limit` is at most this). */
export const maxTemplates = 500;
export const defaultTemplateLimit = 50;

/**
 * A kind's value as cached: its items (templates: the first {@link maxTemplates} by name), how many there are
 * in all, where they were loaded from, and the cache tags of the objects they were built from (selective
 * invalidation: the compute resource, the items, their hosts and switches).
 */
export interface KindValue<K extends Kind = Kind> {
  readonly items: readonly KindItems[K][];
  readonly total: number;
  readonly source: LoadSource;
  readonly tags: readonly string[];
  /** The server left some objects' properties out (e.g. no permission): the items are incomplete. */
  readonly partial?: boolean;
}

/** How one kind of an answer was served. */
export type KindStatus = 'ok' | 'partial' | 'timeout' | 'error' | 'stale';

/** One kind of an answer. */
export interface KindAnswer<K extends Kind = Kind> {
  readonly status: KindStatus;
  /** `cache` when served from the tiered cache, else the source it was just loaded from. */
  readonly source: 'inventory' | 'live' | 'cache';
  /** Seconds since the value was loaded; null when there is none (timeout or error without a last value). */
  readonly ageSeconds: number | null;
  readonly items: readonly KindItems[K][];
  /** Why the kind has no fresh value (`timeout`, `unreachable`, …), when it has none. */
  readonly error?: string;
  /** Templates only: the `limit` applied, whether items were cut to it, and how many there are. */
  readonly limit?: number;
  readonly truncated?: boolean;
  readonly total?: number;
}

/** An answer of any of the three routes: its kinds, and whether all came from cache or any is stale. */
export interface ProvisioningAnswer {
  readonly vcenterId: string;
  readonly kinds: Partial<Record<Kind, KindAnswer>>;
  readonly cached: boolean;
  readonly stale: boolean;
}

/** A managed object id in a path (`{dc}`, `{cr}`). */
export const moidParam = z.string().regex(moidPattern, 'must be a managed object id such as domain-c7');

/** The resources route's query: `kinds` (comma-separated, default all) and the templates `limit`. */
export const resourcesQuerySchema = z.object({
  kinds: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return [...resourceKinds];
      const asked = text.split(',').map((kind) => kind.trim());
      const unknown = asked.filter((kind) => !(resourceKinds as readonly string[]).includes(kind));
      if (unknown.length > 0 || asked.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a comma-separated list of ${resourceKinds.join(', ')}${unknown.length > 0 ? `; unknown: ${unknown.join(', ').slice(0, 60)}` : ''}`,
        });
        return z.NEVER;
      }
      return resourceKinds.filter((kind) => asked.includes(kind));
    })
    .describe(`Comma-separated: ${resourceKinds.join(', ')} (default all)`),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(maxTemplates)
    .default(defaultTemplateLimit)
    .describe(`Templates returned, 1-${maxTemplates} (default ${defaultTemplateLimit})`),
});
export type ResourcesQuery = z.output<typeof resourcesQuerySchema>;

/**
 * Pools with their paths from the root pool, from (id, name, parent) triples: a pool whose parent is not a
 * pool of the set is a root. Ordered by path, so both sources list them alike.
 */
export function poolTree(pools: readonly { id: string; name: string; parent: string | null }[]): PoolItem[] {
  const byId = new Map(pools.map((pool) => [pool.id, pool]));
  const pathOf = (id: string, seen = new Set<string>()): string => {
    const pool = byId.get(id);
    if (!pool) return '';
    const parent =
      pool.parent !== null && byId.has(pool.parent) && !seen.has(pool.parent) ? pool.parent : null;
    seen.add(id);
    return parent === null ? pool.name : `${pathOf(parent, seen)}/${pool.name}`;
  };
  return pools
    .map((pool) => ({
      id: pool.id,
      name: pool.name,
      parentId: pool.parent !== null && byId.has(pool.parent) ? pool.parent : null,
      path: pathOf(pool.id),
    }))
    .sort((a, b) => compareText(a.path, b.path) || compareText(a.id, b.id));
}

/** Byte order (as PostgreSQL's COLLATE "C"), so both sources sort names alike. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Items sorted by name, then id. */
export function byName<T extends { id: string; name: string }>(items: T[]): T[] {
  return items.sort((a, b) => compareText(a.name, b.name) || compareText(a.id, b.id));
}
