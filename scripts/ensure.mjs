#!/usr/bin/env node
// Set-up check run before `npm run dev` and `npm test` (plain Node, no dependencies: it runs before
// `npm install`). Installs node_modules when missing or stale (npm ci, exactly what package-lock.json pins; a lock
// file out of sync with package.json stops it, saying how to fix it), and the Debian packages the local services
// need: as root it installs them with apt-get, otherwise it prints the exact command and exits non-zero.
// It only looks at files when everything is present, so it costs a few milliseconds.
import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const log = (message) => console.error(`ensure: ${message}`);

// Install output may name mirrors and registries; this project's logs never do.
const HOST =
  /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>)]+|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:org|com|net|io|dev|edu|gov|cloud|co|uk|de)\b/gi;
const redact = (text) => text.replace(HOST, '<host>');

function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

function mtimeMs(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Newest Debian PostgreSQL: { bin, share } for /usr/lib/postgresql/<v> and /usr/share/postgresql/<v>. */
function postgresInstall() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((entry) => /^\d+(\.\d+)?$/.test(entry))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(base, version, 'bin');
    if (existsSync(join(bin, 'postgres')) && existsSync(join(bin, 'initdb'))) {
      return { version, lib: join(base, version, 'lib'), share: join('/usr/share/postgresql', version) };
    }
  }
  return undefined;
}

/** Major version of the Java runtime on PATH (or JAVA_HOME), from its `release` file, else `java -version`. */
function javaMajor() {
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : onPath('java');
  if (!java || !existsSync(java)) return undefined;
  try {
    const release = readFileSync(join(dirname(dirname(realpathSync(java))), 'release'), 'utf8');
    const version = /^JAVA_VERSION="(\d+)/m.exec(release)?.[1];
    if (version) return Number(version);
  } catch {}
  const probe = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const version = /version "(\d+)/.exec(`${probe.stderr}${probe.stdout}`)?.[1];
  return version ? Number(version) : undefined;
}

/** Debian packages that are missing, each with the reason. */
function missingPackages() {
  const missing = new Map();
  if (!onPath('redis-server')) missing.set('redis-server', 'redis-server not on PATH');
  const pg = postgresInstall();
  if (!pg) {
    missing.set('postgresql', 'no /usr/lib/postgresql/<version>/bin/{postgres,initdb}');
    missing.set('postgresql-contrib', 'pg_trgm comes with the server packages');
  } else if (
    !existsSync(join(pg.share, 'extension', 'pg_trgm.control')) ||
    !existsSync(join(pg.lib, 'pg_trgm.so'))
  ) {
    missing.set('postgresql-contrib', `pg_trgm missing for PostgreSQL ${pg.version}`);
  }
  const java = javaMajor();
  if (java === undefined || java < 17) {
    missing.set('openjdk-17-jre-headless', java ? `Java ${java} is older than 17` : 'no java on PATH');
  }
  if (!onPath('go')) missing.set('golang-go', 'go not on PATH');
  if (!existsSync('/usr/share/gocode/src/github.com/vmware/govmomi/simulator')) {
    missing.set('golang-github-vmware-govmomi-dev', 'govmomi source not under /usr/share/gocode');
  }
  if (!existsSync('/usr/bin/chromium')) missing.set('chromium', 'no /usr/bin/chromium');
  return missing;
}

/**
 * Runs a command with its output passed through `redact`; resolves to its exit code and last output lines.
 * With `quiet`, nothing is shown (dpkg and npm are chatty); callers show the tail when it matters.
 */
function run(command, args, { env = process.env, quiet = false } = {}) {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const kept = [];
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ]) {
      let pending = '';
      const emit = (line) => {
        if (!quiet) to.write(`${redact(line)}\n`);
        if (kept.push(line) > 300) kept.shift();
      };
      from.setEncoding('utf8');
      from.on('data', (chunk) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) emit(line);
      });
      from.on('end', () => pending && emit(pending));
    }
    child.on('error', (error) => {
      log(`${command}: ${error.message}`);
      done({ code: 127, output: kept });
    });
    child.on('close', (code, signal) => {
      const status = code ?? (signal ? 128 : 1);
      done({ code: status, output: kept });
    });
  });
}

/** Prints the last lines a failed quiet command wrote. */
function showTail({ output }) {
  for (const line of output.slice(-40)) process.stderr.write(`${redact(line)}\n`);
}

async function ensureDebianPackages() {
  const missing = missingPackages();
  if (missing.size === 0) return;
  for (const [name, why] of missing) log(`missing ${name} (${why})`);
  const names = [...missing.keys()];
  if (process.getuid?.() !== 0) {
    log('install them with:');
    console.error(
      `sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${names.join(' ')}`,
    );
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lockWait = ['-o', 'DPkg::Lock::Timeout=300'];
  log('apt-get update');
  const update = await run('apt-get', ['-qq', ...lockWait, 'update'], { env, quiet: true });
  if (update.code !== 0) {
    showTail(update);
    log('apt-get update failed');
    process.exit(1);
  }
  log(`apt-get install ${names.join(' ')}`);
  const install = await run(
    'apt-get',
    ['-qq', ...lockWait, 'install', '-y', '--no-install-recommends', ...names],
    {
      env,
      quiet: true,
    },
  );
  const still = missingPackages();
  const { code } = install;
  if (code !== 0 || still.size > 0) {
    showTail(install);
    log(`apt-get install failed (exit ${code}); still missing: ${[...still.keys()].join(' ') || 'none'}`);
    process.exit(1);
  }
  log(`installed ${names.join(' ')}`);
}

async function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  const lockTime = mtimeMs(lock);
  // npm writes node_modules/.package-lock.json after every install, so it is newer than the lock file it
  // installed; an older one means package-lock.json changed since (a pull, a checkout).
  const installed = mtimeMs(join(root, 'node_modules', '.package-lock.json'));
  const stale =
    lockTime === undefined
      ? !existsSync(join(root, 'node_modules'))
      : installed === undefined || installed < lockTime;
  if (!stale) return;
  log('node_modules is missing or older than package-lock.json: installing');
  const flags = ['--no-audit', '--no-fund'];
  // With a lock file, exactly what it pins (npm ci); never a silent fallback that installs something else.
  const command = lockTime === undefined ? 'install' : 'ci';
  const result = await run('npm', [command, ...flags], { quiet: true });
  if (result.code !== 0) {
    showTail(result);
    if (command === 'ci' && result.output.some((line) => line.includes('in sync'))) {
      log(
        'npm ci refused package-lock.json: it is out of sync with package.json. Run `npm install`, then commit the updated package-lock.json.',
      );
      process.exit(1);
    }
    log(`npm ${command} failed (exit ${result.code})`);
    process.exit(result.code);
  }
  for (const line of result.output.filter((text) => /^(added|removed|changed|up to date)\b/.test(text))) {
    log(redact(line));
  }
}

await ensureDebianPackages();
await ensureNodeModules();
