// vSphere adapter — which endpoints vfleet may connect to (VCENTER_ALLOWED_TARGETS): networks (CIDR) and host name
// patterns. Checked at registration (the URL's host, resolved) and again at every connection against the address
// actually connected to: the transport resolves once through {@link policyLookup} and connects to the address it
// checked, so a DNS answer that changes after registration cannot lead a worker inside the VPC to an internal host.
import dns from 'node:dns';
import net from 'node:net';
import { ConfigError, optionalEnv } from '#shared/config';

/** The environment variable of the allow-list: comma-separated CIDRs, addresses and host patterns. */
export const allowedTargetsEnvName = 'VCENTER_ALLOWED_TARGETS';

/** One resolved address. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to its addresses (the system resolver by default; tests inject one). */
export type TargetResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Why a target was refused, in words safe to show to the admin who registered it. */
export class TargetRefusedError extends Error {
  override readonly name = 'TargetRefusedError';
  readonly code = 'ETARGETREFUSED';
}

const hostPatternText = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are checked as the IPv4 address they carry. */
function unmapped(address: string): { address: string; type: 'ipv4' | 'ipv6' } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped && net.isIPv4(mapped)) return { address: mapped, type: 'ipv4' };
  const family = net.isIP(address);
  if (family === 0) return undefined;
  return { address, type: family === 4 ? 'ipv4' : 'ipv6' };
}

/** The allow-list: empty allows every target. */
export class TargetPolicy {
  private readonly networks = new net.BlockList();

  constructor(
    /** The entries as configured (CIDRs, addresses, host patterns). */
    readonly entries: readonly string[],
    private readonly cidrs: readonly { address: string; prefix: number; type: 'ipv4' | 'ipv6' }[],
    private readonly hostPatterns: readonly string[],
  ) {
    for (const cidr of cidrs) this.networks.addSubnet(cidr.address, cidr.prefix, cidr.type);
  }

  /** No entries: every target is allowed (the docs warn about it). */
  get open(): boolean {
    return this.cidrs.length === 0 && this.hostPatterns.length === 0;
  }

  /** Whether the host name matches a host pattern (`vc01.corp.example`, or `*.vc.corp.example`: any name below). */
  allowsHostName(hostname: string): boolean {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    return this.hostPatterns.some((pattern) =>
      pattern.startsWith('*.')
        ? name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1
        : name === pattern,
    );
  }

  /** Whether an address lies in one of the networks. */
  allowsAddress(address: string): boolean {
    const ip = unmapped(address);
    return ip !== undefined && this.networks.check(ip.address, ip.type);
  }

  /**
   * The addresses of `hostname` that may be connected to: every resolved one for an open list or a host name the
   * patterns allow, else those inside the networks. @throws TargetRefusedError when none is left
   */
  async allowedAddresses(hostname: string, resolve: TargetResolver): Promise<ResolvedAddress[]> {
    const literal = unmapped(hostname.replace(/^\[|\]$/g, ''));
    if (literal) {
      const address = { address: literal.address, family: literal.type === 'ipv4' ? 4 : 6 } as const;
      if (this.open || this.allowsAddress(literal.address)) return [address];
      throw new TargetRefusedError(`${literal.address} is not in ${allowedTargetsEnvName}`);
    }
    let addresses: readonly ResolvedAddress[];
    try {
      addresses = await resolve(hostname);
    } catch (error) {
      throw new TargetRefusedError(
        `${hostname} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    if (this.open || this.allowsHostName(hostname)) return [...addresses];
    const allowed = addresses.filter((entry) => this.allowsAddress(entry.address));
    if (allowed.length === 0) {
      throw new TargetRefusedError(
        `${hostname} resolves to ${addresses.map((entry) => entry.address).join(', ') || 'nothing'}, not in ${allowedTargetsEnvName}`,
      );
    }
    return allowed;
  }
}

/**
 * Parses the allow-list: comma- or space-separated entries, each a CIDR (`10.20.0.0/16`, `fd00::/8`), an address
 * (`10.20.30.40`) or a host pattern (`vc01.corp.example`, `*.vc.corp.example`). @throws ConfigError naming `name`
 */
export function parseTargetPolicy(text: string, name: string = allowedTargetsEnvName): TargetPolicy {
  const entries = text
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter(Boolean);
  const cidrs: { address: string; prefix: number; type: 'ipv4' | 'ipv6' }[] = [];
  const hosts: string[] = [];
  for (const entry of entries) {
    const [address = '', prefixText, extra] = entry.split('/');
    const ip = unmapped(address);
    if (ip) {
      const max = ip.type === 'ipv4' ? 32 : 128;
      const prefix = prefixText === undefined ? max : Number(prefixText);
      if (
        extra !== undefined ||
        !Number.isInteger(prefix) ||
        prefix < 0 ||
        prefix > max ||
        !/^\d*$/.test(prefixText ?? '')
      ) {
        throw new ConfigError(`${name}: "${entry}" is not a network (address/prefix, prefix 0-${max})`);
      }
      cidrs.push({ address: ip.address, prefix, type: ip.type });
    } else if (prefixText === undefined && hostPatternText.test(entry.toLowerCase())) {
      hosts.push(entry.toLowerCase());
    } else {
      throw new ConfigError(
        `${name}: "${entry}" is neither a network (CIDR), an address nor a host name pattern`,
      );
    }
  }
  return new TargetPolicy(entries, cidrs, hosts);
}

let memo: { text: string; policy: TargetPolicy } | undefined;

/** The allow-list of this process's environment, read once (and again if it changes). */
export function targetPolicyFromEnv(): TargetPolicy {
  const text = optionalEnv(allowedTargetsEnvName, '');
  if (memo?.text !== text) memo = { text, policy: parseTargetPolicy(text) };
  return memo.policy;
}

const systemResolver: TargetResolver = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((entry) => ({
    address: entry.address,
    family: entry.family === 6 ? 6 : 4,
  }));

// Process-wide, on globalThis so that every copy of this module (a test runner may load two) sees the same one.
const resolverKey = Symbol.for('vfleet.vsphere.targetResolver');
type WithResolver = typeof globalThis & { [resolverKey]?: TargetResolver };

/** Replaces the resolver of every check and connection in this process (tests); undefined restores DNS. */
export function setTargetResolver(resolver: TargetResolver | undefined): void {
  (globalThis as WithResolver)[resolverKey] = resolver;
}

/** The resolver in use: the one set by {@link setTargetResolver}, else the system's. */
export function targetResolver(): TargetResolver {
  return (globalThis as WithResolver)[resolverKey] ?? systemResolver;
}

/**
 * Checks a registration's URL against the allow-list (its host, resolved once). Resolves to a refusal reason, or
 * undefined when allowed. An open list does not resolve anything.
 */
export async function targetRefusal(
  url: string,
  policy: TargetPolicy = targetPolicyFromEnv(),
): Promise<string | undefined> {
  if (policy.open) return undefined;
  try {
    await policy.allowedAddresses(new URL(url).hostname, targetResolver());
    return undefined;
  } catch (error) {
    if (error instanceof TargetRefusedError) return error.message;
    throw error;
  }
}

/**
 * The `lookup` of the transport's sockets: resolves the host once, keeps only addresses the policy allows and
 * hands those to the connection, which connects to exactly what was checked. A refusal fails the connection
 * with code `ETARGETREFUSED` before any packet leaves.
 */
export function policyLookup(policy: TargetPolicy): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    policy.allowedAddresses(hostname, targetResolver()).then(
      (addresses) => {
        const family = typeof options.family === 'number' ? options.family : 0;
        const usable = addresses.filter((entry) => family === 0 || entry.family === family);
        if (usable.length === 0) {
          callback(new TargetRefusedError(`${hostname}: no allowed IPv${family} address`));
          return;
        }
        if (options.all)
          callback(
            null,
            usable.map((entry) => ({ address: entry.address, family: entry.family })),
          );
        else callback(null, usable[0]?.address, usable[0]?.family);
      },
      (error: unknown) => callback(error),
    );
  }) as net.LookupFunction;
}
