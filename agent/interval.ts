// Node agent — the reporter's adaptive interval (30-300 s): an operator's interval wins, then the control
// plane's suggestion (it sees the node's last ten points), and without an answer the agent's own view of the
// last step: shorter at once when values move, longer step by step while they are stable.

/** The protocol's bounds (the control plane refuses reporter statistics outside them). */
export const protocolMinSeconds = 30;
export const protocolMaxSeconds = 300;

export interface IntervalBounds {
  /** @default 30 */
  readonly minSeconds: number;
  /** @default 300 */
  readonly maxSeconds: number;
}

export interface Sample {
  readonly cpu_percent: number;
  readonly memory_percent: number;
  readonly disk_percent: number;
}

/** Percentage points between two samples that count as "stable" and as "moving" (as the control plane's). */
const stableBelow = 1;
const movingAbove = 20;
/** How much longer the interval may grow per report while stable (shrinking is immediate). */
const growthPerReport = 1.5;

/** Checks and fills the bounds: within 30-300 s, min ≤ max. */
export function intervalBounds(options: { minSeconds?: number; maxSeconds?: number } = {}): IntervalBounds {
  const minSeconds = options.minSeconds ?? protocolMinSeconds;
  const maxSeconds = options.maxSeconds ?? protocolMaxSeconds;
  const inProtocol = (value: number) => value >= protocolMinSeconds && value <= protocolMaxSeconds;
  if (!inProtocol(minSeconds) || !inProtocol(maxSeconds) || minSeconds > maxSeconds) {
    throw new RangeError(
      `reporter interval bounds must satisfy 30 ≤ min ≤ max ≤ 300 s, got ${minSeconds}-${maxSeconds}`,
    );
  }
  return { minSeconds, maxSeconds };
}

export function clampInterval(seconds: number, bounds: IntervalBounds): number {
  return Math.min(Math.max(Math.round(seconds), bounds.minSeconds), bounds.maxSeconds);
}

/** The largest change of CPU, memory or disk between two samples, in percentage points. */
export function largestStep(previous: Sample, current: Sample): number {
  return Math.max(
    Math.abs(previous.cpu_percent - current.cpu_percent),
    Math.abs(previous.memory_percent - current.memory_percent),
    Math.abs(previous.disk_percent - current.disk_percent),
  );
}

export interface NextIntervalInput {
  /** The interval the reporter runs at now. */
  readonly current: number;
  /** The step between the last two samples (undefined for the first). */
  readonly step?: number;
  /** `suggested_interval_seconds` of the control plane's answer, if it answered. */
  readonly suggested?: number;
  /** The interval an operator set (`set_interval`). */
  readonly override?: number;
}

/** The interval until the next report, in seconds within the bounds. */
export function nextInterval(input: NextIntervalInput, bounds: IntervalBounds): number {
  if (input.override !== undefined) return clampInterval(input.override, bounds);
  if (input.suggested !== undefined) return clampInterval(input.suggested, bounds);
  if (input.step === undefined) return clampInterval(input.current, bounds);
  const moved = Math.min(Math.max((input.step - stableBelow) / (movingAbove - stableBelow), 0), 1);
  const target = bounds.maxSeconds - moved * (bounds.maxSeconds - bounds.minSeconds);
  return clampInterval(Math.min(target, input.current * growthPerReport), bounds);
}
