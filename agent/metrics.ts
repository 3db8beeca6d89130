// Node agent — what the reporter measures: CPU from the difference of os.cpus() times between two samples,
// memory from /proc/meminfo (MemAvailable, as `free` shows it; os.freemem() elsewhere), disk from statfs of
// the configured mounts (used / (used + available), as `df` shows it).
import { readFile, statfs } from 'node:fs/promises';
import { cpus, freemem, totalmem } from 'node:os';

export interface MountUsage {
  readonly mount: string;
  readonly total: number;
  readonly used: number;
  readonly free: number;
  readonly percent: number;
}

export interface SystemSample {
  readonly cpu_percent: number;
  readonly memory: { percent: number; total: number; available: number; used: number };
  readonly disk: { percent: number; mounts: MountUsage[] };
}

const round1 = (value: number) => Math.round(value * 10) / 10;
const percentOf = (part: number, whole: number) => (whole > 0 ? round1((part / whole) * 100) : 0);

interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

function cpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

async function memory(): Promise<SystemSample['memory']> {
  let total = totalmem();
  let available = freemem();
  try {
    const text = await readFile('/proc/meminfo', 'utf8');
    const field = (name: string) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
      return match ? Number(match[1]) * 1024 : undefined;
    };
    total = field('MemTotal') ?? total;
    available = field('MemAvailable') ?? available;
  } catch {
    // Not Linux: os.freemem() counts only free pages, an upper bound of "used".
  }
  const used = Math.max(total - available, 0);
  return { percent: percentOf(used, total), total, available, used };
}

async function mountUsage(mount: string): Promise<MountUsage> {
  const stats = await statfs(mount);
  const total = stats.blocks * stats.bsize;
  const used = (stats.blocks - stats.bfree) * stats.bsize;
  const free = stats.bavail * stats.bsize;
  return { mount, total, used, free, percent: percentOf(used, used + free) };
}

/**
 * A sampler: each call measures CPU since the previous call (since boot for the first), memory and the
 * mounts now. A mount that cannot be read is left out (and said once).
 */
export function systemSampler(mounts: readonly string[] = ['/']): () => Promise<SystemSample> {
  let previous: CpuTimes = { busy: 0, total: 0 };
  const unreadable = new Set<string>();
  return async () => {
    const now = cpuTimes();
    const cpu = percentOf(now.busy - previous.busy, now.total - previous.total);
    previous = now;
    const read = await Promise.all(
      mounts.map((mount) =>
        mountUsage(mount).catch((error: Error) => {
          if (!unreadable.has(mount)) console.error(`[agent] cannot read mount ${mount}: ${error.message}`);
          unreadable.add(mount);
          return undefined;
        }),
      ),
    );
    const usable = read.filter((usage): usage is MountUsage => usage !== undefined);
    const used = usable.reduce((sum, usage) => sum + usage.used, 0);
    const free = usable.reduce((sum, usage) => sum + usage.free, 0);
    return {
      cpu_percent: Math.min(cpu, 100),
      memory: await memory(),
      disk: { percent: percentOf(used, used + free), mounts: usable },
    };
  };
}
