// Unit tests — the dashboard's wire shapes: log cursors round-trip and refuse tampering with a 400 naming the
// field; reporter control pairs set_interval with its interval; node ids and reports are checked.
import { describe, expect, it } from 'vitest';
import { nodeIdPattern } from '#shared/contracts';
import {
  controlServiceSchema,
  decodeCursor,
  encodeCursor,
  logBatchSchema,
  reporterControlSchema,
} from '#shared/dashboard';
import { BadRequestError } from '#shared/http';

describe('log cursors', () => {
  it('round-trip node → sequence maps', () => {
    const cursor = { 'node-1': 42, 'node-2': 0 };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it('refuse text that is not a cursor, with a field error', () => {
    for (const text of ['not-a-cursor', encodeCursor({ a: -1 }), Buffer.from('[1]').toString('base64url')]) {
      let error: unknown;
      try {
        decodeCursor(text);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).fields).toHaveProperty('cursor');
    }
  });
});

describe('commands', () => {
  it('pairs set_interval with interval_seconds (30-300), and only with it', () => {
    expect(reporterControlSchema.safeParse({ action: 'set_interval', interval_seconds: 120 }).success).toBe(
      true,
    );
    expect(reporterControlSchema.safeParse({ action: 'set_interval' }).success).toBe(false);
    expect(reporterControlSchema.safeParse({ action: 'set_interval', interval_seconds: 301 }).success).toBe(
      false,
    );
    expect(reporterControlSchema.safeParse({ action: 'stop', interval_seconds: 60 }).success).toBe(false);
    expect(reporterControlSchema.safeParse({ action: 'report_now' }).success).toBe(true);
  });

  it('accepts start, stop and restart of a named service on a valid node id', () => {
    expect(
      controlServiceSchema.safeParse({ worker_id: 'w-1', service_name: 'web', action: 'restart' }).success,
    ).toBe(true);
    expect(
      controlServiceSchema.safeParse({ worker_id: 'w-1', service_name: 'web', action: 'kill' }).success,
    ).toBe(false);
    expect(
      controlServiceSchema.safeParse({ worker_id: '../x', service_name: 'web', action: 'stop' }).success,
    ).toBe(false);
  });
});

describe('reports', () => {
  it('checks node ids and log lines', () => {
    expect(nodeIdPattern.test('worker-001')).toBe(true);
    expect(nodeIdPattern.test('{slot}')).toBe(false);
    // One rule for placement and the dashboard: a DNS label.
    expect(nodeIdPattern.test('Worker_1')).toBe(false);
    const line = {
      seq: 1,
      timestamp: '2026-12-02T10:00:00.000Z',
      level: 'INFO',
      logger_name: 'a',
      message: 'm',
    };
    expect(logBatchSchema.safeParse({ logs: [line] }).success).toBe(true);
    expect(logBatchSchema.safeParse({ logs: [{ ...line, seq: 0 }] }).success).toBe(false);
    expect(logBatchSchema.safeParse({ logs: [{ ...line, level: 'LOUD' }] }).success).toBe(false);
    expect(logBatchSchema.safeParse({ logs: [] }).success).toBe(false);
  });
});
