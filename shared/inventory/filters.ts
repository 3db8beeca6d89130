// Inventory — domain: the query language of the list endpoints. Turns raw query-string parameters into
// validated, normalised filters (one canonical form per meaning), which the SQL builder, the cursor
// fingerprint and the cache key all derive from — never from the raw input.
import * as z from 'zod';
import { VcenterScope } from '#shared/auth';
import { BadRequestError, parseInput } from '#shared/http';
import { decodeCursor, InvalidCursorError, queryFingerprint, type SortKey } from './cursor.ts';
import { parseId, vcenterIdPattern } from './ids.ts';

/** The inventory lists the API serves. */
export type ListKind = 'vms' | 'hosts' | 'datastores' | 'clusters';

export const powerStates = ['poweredOn', 'poweredOff', 'suspended'] as const;
export type PowerState = (typeof powerStates)[number];

export const hostConnectionStates = ['connected', 'disconnected', 'notResponding'] as const;

/** Validated filters; every field is optional and absent means "any". */
export interface Filters {
  /** The one vCenter the query is confined to: given directly, or implied by a datacenter/cluster/host. */
  readonly vcenterId?: string;
  readonly datacenterMoid?: string;
  readonly clusterMoid?: string;
  readonly hostMoid?: string;
  readonly powerState?: PowerState;
  readonly guestOs?: string;
  /** Lower-cased name substring, at least 3 characters. */
  readonly q?: string;
  /** VMs only: `exclude` (the default) lists VMs, `only` lists templates (`template=true`). */
  readonly template?: 'exclude' | 'only';
  readonly connectionState?: (typeof hostConnectionStates)[number];
  readonly datastoreType?: string;
  /**
   * The caller's vCenter scope as SQL LIKE patterns (`vcenter_id LIKE ANY`), set when the caller is restricted
   * and the query is not confined to one vCenter inside the scope; empty matches nothing. Part of the
   * normalised filters, so of the cache key and the cursor's fingerprint: answers never cross scopes.
   */
  readonly vcenterPatterns?: readonly string[];
}

/**
 * The filters as `scope` lets the caller see them: unchanged for an unrestricted caller or a query confined to
 * one vCenter in scope (such answers are the same for everyone who may see them, so they share cache entries).
 */
export function scopeFilters(filters: Filters, scope: VcenterScope): Filters {
  if (scope.all) return filters;
  if (filters.vcenterId !== undefined) {
    return scope.allows(filters.vcenterId) ? filters : { ...filters, vcenterPatterns: [] };
  }
  return { ...filters, vcenterPatterns: scope.likePatterns() };
}

/** A parsed list request. */
export interface ListQuery {
  readonly kind: ListKind;
  readonly filters: Filters;
  readonly limit: number;
  /** The cursor as sent (its signature is checked where the key is: the pager, {@link openCursor}). */
  readonly cursor?: string;
  /** Position to continue after (the opened cursor); undefined for the first page. */
  readonly after: SortKey | undefined;
  /** Fingerprint of kind + filters; cursors carry it so they only continue the query they came from. */
  readonly fingerprint: string;
}

export const defaultLimit = 100;
export const maxLimit = 1000;
export const minSearchLength = 3;

const idText = z.string().max(200);
const common = {
  vcenter: z.string().regex(vcenterIdPattern, 'must be a vCenter id').optional(),
  datacenter: idText.optional(),
  q: z
    .string()
    .trim()
    .min(
      minSearchLength,
      `Name search uses trigram indexes, which need at least ${minSearchLength} characters`,
    )
    .max(200)
    .optional(),
  limit: z
    .string()
    .regex(/^\d+$/, `must be a whole number from 1 to ${maxLimit}`)
    .transform(Number)
    .pipe(
      z.number().int().min(1, `must be from 1 to ${maxLimit}`).max(maxLimit, `must be from 1 to ${maxLimit}`),
    )
    .optional(),
  // Shape only here; its signature and query are checked where the key is (openCursor).
  cursor: z
    .string()
    .max(2048)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/, 'is not a cursor this API issued')
    .optional(),
};

const schemas = {
  vms: z.object({
    ...common,
    cluster: idText.optional(),
    host: idText.optional(),
    power_state: z.enum(powerStates, { error: `must be one of ${powerStates.join(', ')}` }).optional(),
    guest_os: z.string().min(1).max(128).optional(),
    // No "both": the two lists have separate partial indexes, and mixing them could not be paged by index.
    template: z
      .enum(['true', 'false'], { error: 'must be true (templates) or false (VMs, the default)' })
      .optional(),
  }),
  hosts: z.object({
    ...common,
    cluster: idText.optional(),
    connection_state: z
      .enum(hostConnectionStates, { error: `must be one of ${hostConnectionStates.join(', ')}` })
      .optional(),
  }),
  datastores: z.object({ ...common, type: z.string().min(1).max(32).optional() }),
  clusters: z.object({ ...common }),
} as const;

/** Parameters the summary accepts. */
const summarySchema = z.object({ vcenter: common.vcenter });

/** The query strings the list routes and the summary parse with (the API document shows the same). */
export { schemas as listQuerySchemas, summarySchema as summaryQuerySchema };

function rejectUnknown(params: Record<string, string | undefined>, allowed: readonly string[]): void {
  const unknown = Object.keys(params).filter((key) => !allowed.includes(key));
  if (unknown.length === 0) return;
  const fields = Object.fromEntries(
    unknown.map((key) => [key, `is not a filter here; use one of ${allowed.join(', ')}`]),
  );
  throw new BadRequestError(`Unknown query parameter: ${unknown.join(', ')}`, fields);
}

/**
 * Resolves the vCenter scope: `vcenter`, and the vCenter each `<vcenterId>:<moid>` reference names, must
 * agree, because a moid means nothing outside its vCenter.
 */
function resolveRefs(
  vcenter: string | undefined,
  refs: Readonly<Record<string, string | undefined>>,
): { vcenterId?: string; moids: Record<string, string> } {
  let vcenterId = vcenter;
  let scopeField = 'vcenter';
  const moids: Record<string, string> = {};
  const fields: Record<string, string> = {};
  for (const [field, value] of Object.entries(refs)) {
    if (value === undefined) continue;
    const ref = parseId(value);
    if (!ref) {
      fields[field] =
        `must be an id of the form <vcenterId>:<moid>, e.g. vc-1:${field === 'host' ? 'host-12' : 'domain-c7'}`;
      continue;
    }
    if (vcenterId !== undefined && ref.vcenterId !== vcenterId) {
      fields[field] = `is in vCenter ${ref.vcenterId}, but ${scopeField} selects vCenter ${vcenterId}`;
      continue;
    }
    vcenterId = ref.vcenterId;
    scopeField = field;
    moids[field] = ref.moid;
  }
  if (Object.keys(fields).length) {
    throw new BadRequestError(`Invalid query: ${Object.keys(fields).join(', ')}`, fields);
  }
  return { vcenterId, moids };
}

/** The canonical text of a query's meaning: fixed key order, no absent keys. */
export function normaliseFilters(kind: ListKind | 'summary', filters: Filters): string {
  const ordered: [string, unknown][] = [
    ['kind', kind],
    ['vcenterId', filters.vcenterId],
    ['datacenterMoid', filters.datacenterMoid],
    ['clusterMoid', filters.clusterMoid],
    ['hostMoid', filters.hostMoid],
    ['powerState', filters.powerState],
    ['guestOs', filters.guestOs],
    ['q', filters.q],
    ['template', filters.template],
    ['connectionState', filters.connectionState],
    ['datastoreType', filters.datastoreType],
    ['vcenterPatterns', filters.vcenterPatterns],
  ];
  return JSON.stringify(Object.fromEntries(ordered.filter(([, value]) => value !== undefined)));
}

/**
 * Parses a list request's query string.
 * @throws BadRequestError naming each offending parameter (unknown ones included).
 */
export function parseListQuery(
  kind: ListKind,
  params: Record<string, string | undefined> = {},
  scope: VcenterScope = VcenterScope.everything,
): ListQuery {
  const schema = schemas[kind];
  rejectUnknown(params, Object.keys(schema.shape));
  const input = parseInput(schema, params, 'query') as z.infer<(typeof schemas)['vms']> &
    z.infer<(typeof schemas)['hosts']> &
    z.infer<(typeof schemas)['datastores']>;
  const { vcenterId, moids } = resolveRefs(input.vcenter, {
    datacenter: input.datacenter,
    cluster: input.cluster,
    host: input.host,
  });
  const filters: Filters = scopeFilters(
    {
      vcenterId,
      datacenterMoid: moids.datacenter,
      clusterMoid: moids.cluster,
      hostMoid: moids.host,
      powerState: input.power_state,
      guestOs: input.guest_os,
      q: input.q?.toLowerCase(),
      template: kind === 'vms' ? (input.template === 'true' ? 'only' : 'exclude') : undefined,
      connectionState: input.connection_state,
      datastoreType: input.type,
    },
    scope,
  );
  const fingerprint = queryFingerprint(normaliseFilters(kind, filters));
  return {
    kind,
    filters,
    limit: input.limit ?? defaultLimit,
    ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    after: undefined,
    fingerprint,
  };
}

/**
 * The query positioned at its cursor: the signature and the query it belongs to are checked with the
 * signing key. A query without a cursor is returned as it is.
 * @throws BadRequestError naming `cursor` when it is not one this API issued for these filters.
 */
export function openCursor(query: ListQuery, signingKey: Uint8Array): ListQuery {
  if (query.cursor === undefined || query.after !== undefined) return query;
  try {
    return { ...query, after: decodeCursor(query.cursor, query.fingerprint, signingKey) };
  } catch (error) {
    if (!(error instanceof InvalidCursorError)) throw error;
    throw new BadRequestError(`Invalid query: cursor ${error.message}`, { cursor: error.message });
  }
}

/** Parses the summary's query string (`vcenter` only), within the caller's scope. */
export function parseSummaryQuery(
  params: Record<string, string | undefined> = {},
  scope: VcenterScope = VcenterScope.everything,
): Filters {
  rejectUnknown(params, Object.keys(summarySchema.shape));
  const input = parseInput(summarySchema, params, 'query');
  return scopeFilters({ vcenterId: input.vcenter }, scope);
}
