// Node agent — the metrics reporter: samples CPU, memory, disk and the configured services' states, POSTs
// them to /api/v1/nodes/{id}/metrics with its own statistics, and waits an adaptive 30-300 s before the next
// report (./interval.ts). Operators drive it through the control connection: stop, start, status,
// report_now, set_interval. Reports run one at a time; a control action never overlaps a report.
import type { PostNodeRoute } from './http.ts';
import {
  clampInterval,
  type IntervalBounds,
  intervalBounds,
  largestStep,
  nextInterval,
  type Sample,
} from './interval.ts';
import type { SystemSample } from './metrics.ts';
import type { ServiceState } from './supervisor.ts';

/** What `reporter_ack` and each report carry (the protocol's `reporter` object). */
export interface ReporterStats {
  readonly active: boolean;
  readonly total_reports: number;
  readonly failed_reports: number;
  readonly success_rate_percent: number;
  readonly current_interval_seconds: number;
  readonly last_report_status: string | null;
}

export interface ReporterOptions {
  /** Sends to the control plane (./http.ts `nodeRoutePoster`). */
  readonly post: PostNodeRoute;
  /** Measures the node (./metrics.ts `systemSampler`; tests give scripted values). */
  readonly sample: () => Promise<SystemSample>;
  /** The configured services' states now. */
  readonly services: () => Promise<Record<string, ServiceState>>;
  /** @default 30 */
  readonly minIntervalSeconds?: number;
  /** @default 300 */
  readonly maxIntervalSeconds?: number;
  /** The interval until the control plane first suggests one. @default 60 */
  readonly initialIntervalSeconds?: number;
  /**
   * How long one interval second lasts, in ms. Intervals stay in the protocol's 30-300 s (the control plane
   * checks them); tests shrink the second so 30-300 s pass in a fraction of that. @default 1000
   */
  readonly secondMs?: number;
  /** Where the reporter says what went wrong (the agent's log shipper). */
  readonly log?: (level: 'WARNING' | 'ERROR', message: string) => void;
}

export class Reporter {
  private readonly bounds: IntervalBounds;
  private readonly secondMs: number;
  private interval: number;
  private override: number | undefined;
  private previous: Sample | undefined;
  private active = true;
  private closed = false;
  private total = 0;
  private failed = 0;
  private lastStatus: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** The report running or last run; the next waits for it. */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: ReporterOptions) {
    this.bounds = intervalBounds({
      minSeconds: options.minIntervalSeconds,
      maxSeconds: options.maxIntervalSeconds,
    });
    this.secondMs = options.secondMs ?? 1000;
    this.interval = clampInterval(options.initialIntervalSeconds ?? 60, this.bounds);
  }

  /** Reports at once, then at the adaptive interval. */
  begin(): void {
    void this.reportNow();
  }

  stats(): ReporterStats {
    return {
      active: this.active,
      total_reports: this.total,
      failed_reports: this.failed,
      success_rate_percent:
        this.total === 0 ? 100 : Math.round(((this.total - this.failed) / this.total) * 1000) / 10,
      current_interval_seconds: this.interval,
      last_report_status: this.lastStatus,
    };
  }

  /** Stops the periodic reports (a report already under way completes). */
  stop(): ReporterStats {
    this.active = false;
    clearTimeout(this.timer);
    return this.stats();
  }

  /** Resumes periodic reports: the next one after the current interval. */
  start(): ReporterStats {
    if (!this.active && !this.closed) {
      this.active = true;
      this.schedule();
    }
    return this.stats();
  }

  /** One report now (also while stopped: an operator asked); the periodic schedule restarts from it. */
  async reportNow(): Promise<ReporterStats> {
    clearTimeout(this.timer);
    await this.run();
    return this.stats();
  }

  /** An operator's interval: it wins over the control plane's suggestion and the agent's own. */
  setInterval(seconds: number): ReporterStats {
    this.override = seconds;
    this.interval = clampInterval(seconds, this.bounds);
    this.schedule();
    return this.stats();
  }

  close(): void {
    this.closed = true;
    this.active = false;
    clearTimeout(this.timer);
  }

  /** Waits for the report under way, if any (tests, and a clean stop). */
  settled(): Promise<void> {
    return this.chain;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (!this.active || this.closed) return;
    this.timer = setTimeout(() => void this.run(), this.interval * this.secondMs);
    this.timer.unref();
  }

  private run(): Promise<void> {
    const report = this.chain.then(() => (this.closed ? undefined : this.reportOnce()));
    this.chain = report.catch((error: Error) =>
      this.options.log?.('ERROR', `report failed: ${error.message}`),
    );
    return this.chain.then(() => this.schedule());
  }

  private async reportOnce(): Promise<void> {
    const [sample, services] = await Promise.all([this.options.sample(), this.options.services()]);
    const body = {
      timestamp: new Date().toISOString(),
      ...sample,
      services,
      reporter: this.stats(),
    };
    this.total++;
    let suggested: number | undefined;
    try {
      const answer = await this.options.post('metrics', body);
      this.lastStatus = String(answer.status);
      if (answer.status === 200) {
        const told = (answer.body as { suggested_interval_seconds?: unknown }).suggested_interval_seconds;
        suggested = typeof told === 'number' && Number.isFinite(told) ? told : undefined;
      } else {
        this.failed++;
        this.options.log?.('WARNING', `metrics report answered ${answer.status}`);
      }
    } catch (error) {
      this.failed++;
      this.lastStatus = `unreachable: ${(error as Error).message}`.slice(0, 200);
    }
    const point: Sample = {
      cpu_percent: sample.cpu_percent,
      memory_percent: sample.memory.percent,
      disk_percent: sample.disk.percent,
    };
    const step = this.previous ? largestStep(this.previous, point) : undefined;
    this.previous = point;
    this.interval = nextInterval(
      { current: this.interval, step, suggested, override: this.override },
      this.bounds,
    );
  }
}
