// Unit tests — the agent's supervisor: only configured services can be acted on; supervised processes start,
// stop and restart (a new pid), hand their output lines over with stream and line number, and show `error`
// after a crash; systemd units go through `systemctl` (a stand-in script here, run through execFile as the
// real one would be) with `is-active` for the state, `control: false` and a polkit refusal as `not_permitted`.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputRecord } from '../../../agent/dashboard.ts';
import { type OutputLine, ServiceError, Supervisor } from '../../../agent/supervisor.ts';

let dir: string;
let systemctl: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vfleet-supervisor-'));
  systemctl = join(dir, 'systemctl');
  // Keeps each unit's state in a file; refuses `locked.service` as polkit would.
  await writeFile(
    systemctl,
    `#!/bin/sh
echo "$1 $2" >> "${dir}/calls"
case "$1" in
  is-active) if [ -f "${dir}/$2" ]; then cat "${dir}/$2"; else echo inactive; fi
             [ -f "${dir}/$2" ] && [ "$(cat "${dir}/$2")" = active ] && exit 0; exit 3 ;;
  start|restart) if [ "$2" = locked.service ]; then echo "Failed to $1 $2: Access denied" >&2; exit 4; fi
                 echo active > "${dir}/$2" ;;
  stop) echo inactive > "${dir}/$2" ;;
esac
`,
  );
  await chmod(systemctl, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const node = (code: string) => ({ command: process.execPath, args: ['-e', code] });

describe('Supervisor, processes', () => {
  it('starts, restarts and stops a configured process, and forwards its output lines', async () => {
    const lines: OutputLine[] = [];
    const supervisor = new Supervisor(
      {
        talker: {
          ...node("console.log('hello'); console.error('WARN careful'); setInterval(() => {}, 1000)"),
          autostart: false,
        },
      },
      { onLine: (line) => lines.push(line) },
    );
    expect(await supervisor.statuses()).toEqual({ talker: 'stopped' });
    expect(await supervisor.act('talker', 'start')).toBe('running');
    const pid = supervisor.pid('talker');
    while (lines.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(lines.map((l) => [l.service, l.stream, l.text, l.lineno])).toEqual(
      expect.arrayContaining([
        ['talker', 'stdout', 'hello', 1],
        ['talker', 'stderr', 'WARN careful', 1],
      ]),
    );
    expect(outputRecord(lines.find((l) => l.stream === 'stderr')!)).toMatchObject({
      level: 'WARNING',
      logger: 'service.talker',
      module: 'talker',
      funcName: 'stderr',
      lineno: 1,
    });
    expect(outputRecord(lines.find((l) => l.stream === 'stdout')!).level).toBe('INFO');

    expect(await supervisor.act('talker', 'restart')).toBe('running');
    expect(supervisor.pid('talker')).not.toBe(pid);
    expect(() => process.kill(pid!, 0)).toThrow();
    expect(await supervisor.act('talker', 'stop')).toBe('stopped');
    expect(supervisor.pid('talker')).toBeUndefined();
  });

  it('shows error after a crash and a clean stop after exit 0, with no restart behind the operator', async () => {
    const events: string[] = [];
    const supervisor = new Supervisor(
      { crash: node('process.exit(3)'), done: node('process.exit(0)') },
      { onEvent: (_level, _service, message) => events.push(message) },
    );
    await supervisor.startAll();
    while (events.filter((e) => e.includes('exited')).length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await supervisor.statuses()).toEqual({ crash: 'error', done: 'stopped' });
    expect(events).toContain('crash exited with code 3');
  });

  it('refuses services outside its configuration, and reports a command that cannot run', async () => {
    const supervisor = new Supervisor({ ghost: { command: join(dir, 'no-such-binary'), autostart: false } });
    await expect(supervisor.act('other', 'start')).rejects.toMatchObject({ code: 'unknown_service' });
    await expect(supervisor.status('other')).rejects.toBeInstanceOf(ServiceError);
    await expect(supervisor.act('ghost', 'start')).rejects.toMatchObject({ code: 'failed' });
    expect(await supervisor.status('ghost')).toBe('error');
  });

  it('refuses a configuration with a bad name or shape', () => {
    expect(() => new Supervisor({ 'bad name': node('') })).toThrow();
    expect(() => new Supervisor({ x: { command: 'a', shell: true } as never })).toThrow();
  });
});

describe('Supervisor, systemd units', () => {
  it('drives a unit through systemctl and reads its state with is-active', async () => {
    const supervisor = new Supervisor({ nginx: { systemd: 'nginx.service' } }, { systemctl });
    expect(await supervisor.status('nginx')).toBe('stopped');
    expect(await supervisor.act('nginx', 'start')).toBe('running');
    expect(await supervisor.act('nginx', 'restart')).toBe('running');
    expect(await supervisor.act('nginx', 'stop')).toBe('stopped');
    const calls = (await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n');
    expect(calls.filter((call) => !call.startsWith('is-active'))).toEqual([
      'start nginx.service',
      'restart nginx.service',
      'stop nginx.service',
    ]);
    await supervisor.act('nginx', 'start');
    const before = await readFile(join(dir, 'calls'), 'utf8');
    // stopAll leaves units alone: they live on without the agent.
    await supervisor.stopAll();
    expect(await readFile(join(dir, 'calls'), 'utf8')).toBe(before);
    expect(await supervisor.status('nginx')).toBe('running');
  });

  it('answers not_permitted for a watched-only unit and for a refusal, failed without systemctl', async () => {
    const supervisor = new Supervisor(
      { watched: { systemd: 'db.service', control: false }, locked: { systemd: 'locked.service' } },
      { systemctl },
    );
    await expect(supervisor.act('watched', 'restart')).rejects.toMatchObject({ code: 'not_permitted' });
    await expect(supervisor.act('locked', 'start')).rejects.toMatchObject({
      code: 'not_permitted',
      message: expect.stringContaining('Access denied'),
    });
    const missing = new Supervisor({ u: { systemd: 'u.service' } }, { systemctl: join(dir, 'absent') });
    await expect(missing.act('u', 'start')).rejects.toMatchObject({ code: 'failed' });
    expect(await missing.status('u')).toBe('error');
  });
});
