// Unit tests — sync queue deduplication ids: repeated "sync now" requests collapse, but a request after a
// completed pass is never swallowed by one that pass already served.
import { describe, expect, it } from 'vitest';
import {
  parseSyncMessage,
  requestedDedupId,
  scheduledDedupId,
} from '../../../shared/inventory/sync/queue.ts';

describe('requestedDedupId', () => {
  const t0 = 1_800_000_000_000;

  it('collapses repeats within the same 5 s while no pass has completed in between', () => {
    const pass = '2026-11-23T10:00:00.000Z';
    expect(requestedDedupId('vc-1', false, t0, pass)).toBe(requestedDedupId('vc-1', false, t0 + 4_000, pass));
  });

  it('lets a request through once a pass has completed, even within the same 5 s', () => {
    expect(requestedDedupId('vc-1', false, t0, '2026-11-23T10:00:00.000Z')).not.toBe(
      requestedDedupId('vc-1', false, t0 + 1_000, '2026-11-23T10:00:01.000Z'),
    );
  });

  it('keeps full and incremental requests, other vCenters and later slots apart', () => {
    const id = requestedDedupId('vc-1', false, t0);
    expect(requestedDedupId('vc-1', true, t0)).not.toBe(id);
    expect(requestedDedupId('vc-2', false, t0)).not.toBe(id);
    expect(requestedDedupId('vc-1', false, t0 + 5_000)).not.toBe(id);
    expect(scheduledDedupId('vc-1', 1)).not.toBe(scheduledDedupId('vc-1', 2));
  });
});

describe('parseSyncMessage', () => {
  it('keeps the reason and the slot a pass was due for', () => {
    expect(
      parseSyncMessage(JSON.stringify({ vcenterId: 'vc-1', reason: 'registered', dueAt: 1_800_000_000_000 })),
    ).toEqual({
      vcenterId: 'vc-1',
      reason: 'registered',
      dueAt: 1_800_000_000_000,
    });
  });

  it('drops a malformed slot and treats an unknown reason as scheduled', () => {
    expect(parseSyncMessage(JSON.stringify({ vcenterId: 'vc-1', reason: 'bogus', dueAt: 'soon' }))).toEqual({
      vcenterId: 'vc-1',
      reason: 'scheduled',
    });
    expect(parseSyncMessage(JSON.stringify({ vcenterId: 'vc-1', dueAt: -5, full: true }))).toEqual({
      vcenterId: 'vc-1',
      reason: 'scheduled',
      full: true,
    });
    expect(parseSyncMessage('not json')).toBeUndefined();
  });

  it('gives every claimed slot of a vCenter its own deduplication id', () => {
    expect(scheduledDedupId('vc-1', 1_800_000_000_000)).not.toBe(scheduledDedupId('vc-1', 1_800_000_001_000));
  });
});
