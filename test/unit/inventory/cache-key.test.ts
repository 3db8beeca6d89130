// Unit tests — inventory cache keys: derived from the normalised query and the scope's generation, never
// from raw input. (That an entry's lock shares its slot is the tiered cache's: test/integration/ops-limiter-cache.)
import { describe, expect, it } from 'vitest';
import { parseListQuery } from '../../../shared/inventory/filters.ts';
import { cacheKey, generationKey } from '../../../shared/inventory/query-cache.ts';

const request = (kind: string, vcenterId: string | undefined, normalisedQuery: string) => ({
  kind,
  vcenterId,
  normalisedQuery,
});

describe('inventory cache keys', () => {
  it('names the generation of a vCenter, or the global one', () => {
    expect(generationKey('vc-1')).toBe('inv:gen:{vc-1}');
    expect(generationKey(undefined)).toBe('inv:gen:{global}');
  });

  it('names the scope, generation and kind of an entry, with a digest of the query', () => {
    const key = cacheKey(request('vms', 'vc-1', 'x'), '17');

    expect(key).toMatch(/^inv:q:v2:\{vc-1\}:17:vms:[A-Za-z0-9_-]{43}$/);
  });

  it('changes with the generation, so a bump orphans old entries', () => {
    expect(cacheKey(request('vms', 'vc-1', 'x'), '1')).not.toBe(cacheKey(request('vms', 'vc-1', 'x'), '2'));
  });

  it('never contains the raw search text', () => {
    const query = parseListQuery('vms', { q: 'secret-project' });
    const key = cacheKey(
      request('vms', undefined, JSON.stringify([query.fingerprint, query.limit, null])),
      '1',
    );

    expect(key).not.toContain('secret');
  });

  it('is the same for the same meaning, written differently', () => {
    const keyOf = (params: Record<string, string>) => {
      const query = parseListQuery('vms', params);
      return cacheKey(
        request('vms', query.filters.vcenterId, JSON.stringify([query.fingerprint, query.limit, null])),
        '5',
      );
    };

    expect(keyOf({ q: 'Web ', vcenter: 'vc-1' })).toBe(keyOf({ vcenter: 'vc-1', q: 'web', limit: '100' }));
    expect(keyOf({ q: 'web', vcenter: 'vc-1' })).not.toBe(keyOf({ q: 'web', vcenter: 'vc-1', limit: '50' }));
  });
});
