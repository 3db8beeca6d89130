// Unit tests — ops settings (presets, overrides, refusal naming the variable), lane headroom, wait percentiles,
// job parsing and deduplication ids. Pure: no network.
import { describe, expect, it } from 'vitest';
import { BadRequestError, parseIdParam } from '#shared/http';
import { deduplicationId, parseJob } from '../../../shared/ops/jobs.ts';
import { laneCapacity } from '../../../shared/ops/lanes.ts';
import { loadOpsSettings, opsEnvironment, opsPresets } from '../../../shared/ops/settings.ts';
import { emptyCounters, quantileMs, waitBucketBoundsMs } from '../../../shared/ops/wait-stats.ts';

describe('ops settings', () => {
  it('defaults to the small preset and takes each variable over it', () => {
    expect(loadOpsSettings({})).toEqual(opsPresets.small);
    expect(loadOpsSettings({ OPS_PRESET: 'large', ESXI_MIN_INTERVAL: '0.1' })).toEqual({
      ...opsPresets.large,
      minIntervalSeconds: 0.1,
    });
  });

  it('has the presets of the original design', () => {
    expect(opsPresets).toEqual({
      small: {
        maxConcurrent: 8,
        minIntervalSeconds: 0.05,
        vmListCacheTtlSeconds: 30,
        thumbnailCacheTtlSeconds: 120,
      },
      medium: {
        maxConcurrent: 12,
        minIntervalSeconds: 0.05,
        vmListCacheTtlSeconds: 45,
        thumbnailCacheTtlSeconds: 180,
      },
      large: {
        maxConcurrent: 16,
        minIntervalSeconds: 0.05,
        vmListCacheTtlSeconds: 60,
        thumbnailCacheTtlSeconds: 300,
      },
    });
  });

  it.each([
    ['ESXI_MAX_CONCURRENT', 'eight'],
    ['ESXI_MAX_CONCURRENT', '2'],
    ['ESXI_MAX_CONCURRENT', '8.5'],
    ['ESXI_MIN_INTERVAL', '-0.05'],
    ['VM_LIST_CACHE_TTL', '0'],
    ['THUMBNAIL_CACHE_TTL', '1e9'],
    ['OPS_PRESET', 'huge'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadOpsSettings({ [name]: value })).toThrow(new RegExp(`^${name} must`));
  });

  it('round-trips through the environment CDK sets', () => {
    expect(loadOpsSettings(opsEnvironment(opsPresets.medium))).toEqual(opsPresets.medium);
  });
});

describe('lane headroom', () => {
  it('leaves CRITICAL at least one slot and keeps LOW off the last ones', () => {
    expect(
      [8, 12, 16, 3].map((max) =>
        ['CRITICAL', 'HIGH', 'NORMAL', 'LOW'].map((l) => laneCapacity(l as never, max)),
      ),
    ).toEqual([
      [8, 7, 7, 6],
      [12, 10, 10, 9],
      [16, 14, 14, 12],
      [3, 2, 2, 1],
    ]);
  });
});

describe('wait percentiles', () => {
  it('interpolates p99 inside its bucket and never reports more than the max', () => {
    const c = emptyCounters();
    // 98 waits of ≤ 1 ms, 2 waits between 50 and 75 ms (max 60).
    c.buckets[0] = 98;
    c.buckets[waitBucketBoundsMs.indexOf(75)] = 2;
    c.count = 100;
    c.maxMs = 60;
    expect(quantileMs(c, 0.5)).toBeLessThanOrEqual(1);
    expect(quantileMs(c, 0.99)).toBeGreaterThan(50);
    expect(quantileMs(c, 0.99)).toBeLessThanOrEqual(60);
    expect(quantileMs(emptyCounters(), 0.99)).toBe(0);
  });
});

describe('jobs', () => {
  it('gives identical requests in one window the same deduplication id, and the next window a new one', () => {
    const a = deduplicationId('NORMAL', 'thumb:vc-1:vm-1', 5_000, 10_000);
    expect(deduplicationId('NORMAL', 'thumb:vc-1:vm-1', 5_000, 14_999)).toBe(a);
    expect(deduplicationId('NORMAL', 'thumb:vc-1:vm-1', 5_000, 15_000)).not.toBe(a);
    expect(deduplicationId('LOW', 'thumb:vc-1:vm-1', 5_000, 10_000)).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('parses only well-formed jobs', () => {
    const job = { v: 1, type: 'thumbnail', vmId: 'vc-1:vm-1', lane: 'LOW', enqueuedAt: 1 };
    expect(parseJob(JSON.stringify(job))).toEqual(job);
    expect(parseJob(JSON.stringify({ ...job, lane: 'URGENT' }))).toBeUndefined();
    expect(parseJob('not json')).toBeUndefined();
  });

  it('parses VM ids with the inventory rules and refuses malformed ones with a field error', () => {
    // The ops routes and jobs parse ids with the one parser (shared/contracts/ids.ts), through parseIdParam.
    expect(parseIdParam('vc-1:vm-42')).toEqual({ vcenterId: 'vc-1', moid: 'vm-42' });
    expect(() => parseIdParam('vm-42')).toThrow('Invalid VM id');
    // Stricter than the parser ops had before: a moid starts with a letter or digit.
    expect(() => parseIdParam('vc-1:-vm-42')).toThrow('Invalid VM id');
    expect(() => parseIdParam('vc-1:.vm')).toThrow(BadRequestError);
  });
});
