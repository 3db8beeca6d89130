// Auth — domain: which vCenters a caller may see and act on. The one place that decides it: every route that
// reads or acts on a vCenter's objects asks the caller's scope (shared/http builds it from the token's claims),
// single objects outside it are answered 404 and lists filter it in SQL, with the scope in their cache keys.
import { createHash } from 'node:crypto';
import { ConfigError, optionalEnv } from '#shared/config';

/** The environment variables of the scope map and of the claim that carries groups. */
export const vcenterScopeEnvNames = {
  /** JSON object: role or group → vCenter ids or `*` patterns (`{"team-eu":["vc-eu-*"],"admin":["*"]}`). */
  scopes: 'VCENTER_SCOPES',
  /** The claim that lists the caller's groups (Cognito: `cognito:groups`). @default groups */
  groupsClaim: 'VCENTER_SCOPE_CLAIM',
} as const;

/** Role or group → the vCenter id patterns it grants. Empty: no restriction at all. */
export type VcenterScopeMap = ReadonlyMap<string, readonly string[]>;

const patternText = /^[A-Za-z0-9*?._-]{1,64}$/;

/** What a caller may see: every vCenter, or those whose id matches one of `patterns` (`*`, `?` wildcards). */
export class VcenterScope {
  private readonly matchers: readonly RegExp[];

  private constructor(
    /** True when the caller is not restricted. */
    readonly all: boolean,
    /** Sorted, unique; empty (with `all` false) means no vCenter. */
    readonly patterns: readonly string[],
  ) {
    this.matchers = patterns.map(
      (pattern) =>
        new RegExp(
          `^${pattern.replace(/[.]/g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.')}$`,
          // vCenter ids are matched as written: no case folding, no partial matches.
        ),
    );
  }

  static readonly everything = new VcenterScope(true, []);

  static of(patterns: Iterable<string>): VcenterScope {
    const unique = [...new Set(patterns)].sort();
    return unique.includes('*') ? VcenterScope.everything : new VcenterScope(false, unique);
  }

  allows(vcenterId: string): boolean {
    return this.all || this.matchers.some((matcher) => matcher.test(vcenterId));
  }

  /** The patterns as SQL `LIKE` patterns (for `vcenter_id LIKE ANY($n)`); meaningless when `all`. */
  likePatterns(): string[] {
    return this.patterns.map((pattern) =>
      pattern
        .replace(/[\\%_]/g, (char) => `\\${char}`)
        .replace(/\*/g, '%')
        .replace(/\?/g, '_'),
    );
  }

  /** A short stable name of the scope for cache keys and fingerprints: `all`, or a digest of the patterns. */
  get key(): string {
    if (this.all) return 'all';
    return createHash('sha256').update(this.patterns.join('\n')).digest('base64url').slice(0, 22);
  }
}

/**
 * Parses the scope map (`VCENTER_SCOPES`). @throws ConfigError naming the variable for anything but an object
 * of arrays of id patterns.
 */
export function parseVcenterScopes(
  text: string,
  name: string = vcenterScopeEnvNames.scopes,
): VcenterScopeMap {
  if (text.trim() === '') return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`${name} must be a JSON object of role or group to vCenter id patterns`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${name} must be a JSON object of role or group to vCenter id patterns`);
  }
  const map = new Map<string, readonly string[]>();
  for (const [claim, patterns] of Object.entries(parsed)) {
    if (!Array.isArray(patterns) || !patterns.every((p) => typeof p === 'string' && patternText.test(p))) {
      throw new ConfigError(
        `${name}: "${claim}" must list vCenter ids or patterns (letters, digits, . _ - and the wildcards * ?)`,
      );
    }
    map.set(claim, patterns as string[]);
  }
  return map;
}

let memo: { text: string; claim: string; map: VcenterScopeMap } | undefined;

/** The scope map and groups claim of this process's environment, read once (and again if it changes). */
export function loadVcenterScopes(): { readonly map: VcenterScopeMap; readonly groupsClaim: string } {
  const text = optionalEnv(vcenterScopeEnvNames.scopes, '');
  const claim = optionalEnv(vcenterScopeEnvNames.groupsClaim, 'groups');
  if (memo?.text !== text || memo.claim !== claim) memo = { text, claim, map: parseVcenterScopes(text) };
  return { map: memo.map, groupsClaim: memo.claim };
}

/** A claim's values: an array, or API Gateway's flattened `[a b]` string, or one value. */
function claimValues(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.map(String);
  if (typeof claim !== 'string') return [];
  return claim
    .replace(/^\[|\]$/g, '')
    .split(/[\s,]+/)
    .filter(Boolean);
}

/**
 * The caller's scope from the token's claims: with no map configured, every vCenter; otherwise the union of
 * what the map grants the caller's roles (as the token lists them) and groups. A caller that no entry names
 * sees no vCenter: a configured map denies by default.
 */
export function vcenterScopeFor(
  claims: Readonly<Record<string, unknown>> | undefined,
  config: { readonly map: VcenterScopeMap; readonly groupsClaim: string } = loadVcenterScopes(),
): VcenterScope {
  if (config.map.size === 0) return VcenterScope.everything;
  const names = [...claimValues(claims?.roles), ...claimValues(claims?.[config.groupsClaim])];
  return VcenterScope.of(names.flatMap((name) => config.map.get(name) ?? []));
}
