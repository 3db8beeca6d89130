// Unit tests — the agent's adaptive report interval: an operator's interval wins, then the control plane's
// suggestion; without an answer, shorter at once when values move and longer step by step while stable,
// always within the bounds (30-300 s unless configured narrower).
import { describe, expect, it } from 'vitest';
import { intervalBounds, largestStep, nextInterval } from '../../../agent/interval.ts';

const bounds = intervalBounds();
const sample = (cpu: number, memory = 40, disk = 50) => ({
  cpu_percent: cpu,
  memory_percent: memory,
  disk_percent: disk,
});

describe('nextInterval', () => {
  it('takes an operator interval over the suggestion and the local view', () => {
    expect(nextInterval({ current: 60, step: 50, suggested: 30, override: 120 }, bounds)).toBe(120);
  });

  it("honours the control plane's suggestion, within the bounds", () => {
    expect(nextInterval({ current: 60, step: 50, suggested: 250 }, bounds)).toBe(250);
    expect(nextInterval({ current: 60, suggested: 1_000 }, bounds)).toBe(300);
    expect(nextInterval({ current: 60, suggested: 5 }, bounds)).toBe(30);
    const narrow = intervalBounds({ minSeconds: 60, maxSeconds: 120 });
    expect(nextInterval({ current: 90, suggested: 300 }, narrow)).toBe(120);
  });

  it('without an answer: drops to the minimum when values jump, grows by half per stable report', () => {
    expect(nextInterval({ current: 200, step: 35 }, bounds)).toBe(30);
    const grown: number[] = [];
    let current = 30;
    for (let i = 0; i < 8; i++) {
      current = nextInterval({ current, step: 0.2 }, bounds);
      grown.push(current);
    }
    expect(grown).toEqual([45, 68, 102, 153, 230, 300, 300, 300]);
    // Half-way movement aims half-way, and never grows faster than by half.
    expect(nextInterval({ current: 300, step: 10.5 }, bounds)).toBe(165);
    expect(nextInterval({ current: 100, step: 10.5 }, bounds)).toBe(150);
  });

  it('keeps the current interval for the first sample', () => {
    expect(nextInterval({ current: 60 }, bounds)).toBe(60);
  });

  it('refuses bounds outside the protocol, or inverted', () => {
    expect(() => intervalBounds({ minSeconds: 10 })).toThrow(RangeError);
    expect(() => intervalBounds({ maxSeconds: 301 })).toThrow(RangeError);
    expect(() => intervalBounds({ minSeconds: 200, maxSeconds: 100 })).toThrow(RangeError);
  });
});

describe('largestStep', () => {
  it('is the largest change of CPU, memory or disk', () => {
    expect(largestStep(sample(10), sample(12))).toBe(2);
    expect(largestStep(sample(10, 40), sample(10, 55))).toBe(15);
    expect(largestStep(sample(10, 40, 50), sample(10, 40, 30))).toBe(20);
  });
});
