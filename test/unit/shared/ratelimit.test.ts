// Unit tests — shared/ratelimit without Redis: the in-memory bucket (the fallback) on an injected clock, the
// principal's key part, the RATE_LIMIT_* settings refused with the variable named, and the routes that spend
// tokens, each also throttled at the gateway in every environment.
import { describe, expect, it } from 'vitest';
import { environments } from '../../../infra/config.ts';
import { topology } from '../../../infra/topology.ts';
import { routes } from '../../../shared/contracts/index.ts';
import {
  defaultRateLimits,
  loadRateLimits,
  MemoryBuckets,
  principalKey,
  rateLimitEnvironment,
  upstreamRoutes,
} from '../../../shared/ratelimit/index.ts';

describe('MemoryBuckets', () => {
  const limit = { perMinute: 60, burst: 3 };

  it('allows the burst, then refuses with the seconds until the next token, and refills at the rate', () => {
    let now = 1_000_000;
    const buckets = new MemoryBuckets(() => now);
    const takes = Array.from({ length: 4 }, () => buckets.take('a', limit));
    expect(takes.map((t) => t.allowed)).toEqual([true, true, true, false]);
    expect(takes[3]).toEqual({ allowed: false, retryAfterSeconds: 1 });
    now += 999;
    expect(buckets.take('a', limit).allowed).toBe(false);
    now += 1;
    expect(buckets.take('a', limit).allowed).toBe(true);
    // Never more than the burst, however long the bucket sat idle.
    now += 3_600_000;
    expect(Array.from({ length: 4 }, () => buckets.take('a', limit).allowed)).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('says how long a slow bucket takes to refill', () => {
    const now = 0;
    const buckets = new MemoryBuckets(() => now);
    const slow = { perMinute: 2, burst: 1 };
    expect(buckets.take('s', slow).allowed).toBe(true);
    expect(buckets.take('s', slow)).toEqual({ allowed: false, retryAfterSeconds: 30 });
  });

  it('keeps each key apart and forgets the least recently used one beyond its bound', () => {
    const buckets = new MemoryBuckets(() => 0, 2);
    const one = { perMinute: 1, burst: 1 };
    expect(buckets.take('a', one).allowed).toBe(true);
    expect(buckets.take('b', one).allowed).toBe(true);
    expect(buckets.take('a', one).allowed).toBe(false);
    expect(buckets.take('c', one).allowed).toBe(true); // evicts b, the least recently used
    expect(buckets.take('a', one).allowed).toBe(false);
    expect(buckets.take('b', one).allowed).toBe(true);
  });
});

describe('principalKey', () => {
  it('is a short hash that names neither the subject nor the issuer, and differs per principal', () => {
    const key = principalKey({ subject: 'alice@example.com', issuer: 'https://idp.example.com/' });
    expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(key).not.toContain('alice');
    expect(principalKey({ subject: 'alice@example.com', issuer: 'https://idp.example.com/' })).toBe(key);
    expect(principalKey({ subject: 'bob@example.com', issuer: 'https://idp.example.com/' })).not.toBe(key);
    expect(principalKey({ subject: 'alice@example.com', issuer: 'https://other.example.com/' })).not.toBe(
      key,
    );
  });
});

describe('rate-limit settings', () => {
  it('default each class, and take <per minute>/<burst> overrides from RATE_LIMIT_<CLASS>', () => {
    expect(loadRateLimits({})).toEqual(defaultRateLimits);
    const loaded = loadRateLimits({ RATE_LIMIT_VM_REFRESH: '6/2', RATE_LIMIT_THUMBNAIL_LOAD: ' 0.5 / 1 ' });
    expect(loaded['vm-refresh']).toEqual({ perMinute: 6, burst: 2 });
    expect(loaded['thumbnail-load']).toEqual({ perMinute: 0.5, burst: 1 });
    expect(loaded.console).toEqual(defaultRateLimits.console);
    expect(loadRateLimits(rateLimitEnvironment(loaded))).toEqual(loaded);
  });

  it('apply RATE_LIMIT_DEFAULT to every class without its own setting', () => {
    const loaded = loadRateLimits({ RATE_LIMIT_DEFAULT: '600/100', RATE_LIMIT_CONSOLE: '6/2' });
    expect(loaded['vm-refresh']).toEqual({ perMinute: 600, burst: 100 });
    expect(loaded.sync).toEqual({ perMinute: 600, burst: 100 });
    expect(loaded.console).toEqual({ perMinute: 6, burst: 2 });
    expect(() => loadRateLimits({ RATE_LIMIT_DEFAULT: '1/0' })).toThrow(/RATE_LIMIT_DEFAULT: the burst/);
  });

  it('refuse a malformed or out-of-range value, naming the variable', () => {
    expect(() => loadRateLimits({ RATE_LIMIT_CONSOLE: 'lots' })).toThrow(
      /RATE_LIMIT_CONSOLE must be <per minute>\/<burst>/,
    );
    expect(() => loadRateLimits({ RATE_LIMIT_SYNC: '0/5' })).toThrow(/RATE_LIMIT_SYNC: the rate/);
    expect(() => loadRateLimits({ RATE_LIMIT_SYNC: '5/0' })).toThrow(/RATE_LIMIT_SYNC: the burst/);
  });
});

describe('routes that spend tokens', () => {
  it('are routes of the contract that need a human role, each throttled at the gateway in every environment', () => {
    for (const key of Object.keys(upstreamRoutes) as (keyof typeof upstreamRoutes)[]) {
      expect(routes[key].role, key).toMatch(/^(viewer|operator|admin)$/);
      for (const config of Object.values(environments)) {
        expect(config.apiThrottle.httpRoutes[key], `${config.envName} ${key}`).toBeDefined();
      }
    }
    // Served by functions that reach Redis (REDIS_URL and the RATE_LIMIT_* settings are bound with that need).
    for (const key of Object.keys(upstreamRoutes)) {
      const route = topology.httpRoutes.find((r) => `${r.method} ${r.path}` === key);
      expect(topology.functions[route?.function ?? '']?.needs, key).toContain('redis');
    }
    // And the gateway throttles nothing more tightly that the buckets leave alone.
    for (const config of Object.values(environments)) {
      expect(Object.keys(config.apiThrottle.httpRoutes).sort()).toEqual(Object.keys(upstreamRoutes).sort());
    }
  });
});
