// Dashboard — domain: the report interval the control plane suggests to an agent (30-300 s): short while
// the node's values move, long while they are stable. An operator's interval overrides it.

export const minIntervalSeconds = 30;
export const maxIntervalSeconds = 300;

interface Sample {
  readonly cpu_percent: number;
  readonly memory_percent: number;
  readonly disk_percent: number;
}

/** Percentage points of change between consecutive samples that count as "stable" and as "moving". */
const stableBelow = 1;
const movingAbove = 20;

/**
 * From the node's recent samples (any order of time, consecutive), the largest step of CPU, memory or disk
 * maps linearly from 300 s (at most 1 point) to 30 s (20 points or more). Fewer than two samples: 60 s.
 */
export function suggestInterval(samples: readonly Sample[]): number {
  if (samples.length < 2) return 60;
  let step = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    step = Math.max(
      step,
      Math.abs(a.cpu_percent - b.cpu_percent),
      Math.abs(a.memory_percent - b.memory_percent),
      Math.abs(a.disk_percent - b.disk_percent),
    );
  }
  const moved = Math.min(Math.max((step - stableBelow) / (movingAbove - stableBelow), 0), 1);
  return Math.round(maxIntervalSeconds - moved * (maxIntervalSeconds - minIntervalSeconds));
}
