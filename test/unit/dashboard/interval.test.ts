// Unit tests — the report interval the control plane suggests: long while a node is stable, short while it
// moves, linear in between, 60 s until there is anything to compare.
import { describe, expect, it } from 'vitest';
import { suggestInterval } from '#shared/dashboard';

const sample = (cpu: number, memory = 40, disk = 50) => ({
  cpu_percent: cpu,
  memory_percent: memory,
  disk_percent: disk,
});

describe('suggestInterval', () => {
  it('answers 60 s with fewer than two samples', () => {
    expect(suggestInterval([])).toBe(60);
    expect(suggestInterval([sample(10)])).toBe(60);
  });

  it('answers 300 s for a stable node and 30 s for a moving one', () => {
    expect(suggestInterval([sample(10), sample(10.5), sample(10)])).toBe(300);
    expect(suggestInterval([sample(10), sample(35)])).toBe(30);
  });

  it('takes the largest step of CPU, memory or disk, mapping linearly in between', () => {
    // A step of 10.5 points is half-way between 1 (stable) and 20 (moving).
    expect(suggestInterval([sample(10, 40), sample(10, 50.5)])).toBe(165);
    expect(suggestInterval([sample(10, 40, 50), sample(10, 40, 60.5)])).toBe(165);
  });
});
