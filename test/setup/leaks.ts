// Test harness — the secret-leak scan. Tests (through the harness helpers) plant the secrets they create —
// vCenter passwords, vSphere session cookies, issued JWTs, signing keys — in a registry file; the test
// processes' output, the error bodies they receive and the services' logs are captured (test/setup/capture.ts);
// after the whole run the integration/e2e globalSetup (test/setup/services.ts) looks for every planted secret
// in all of that and in the test Redis's keys and values and the DynamoDB Local tables, and fails the run
// naming where each one was found.
import { appendFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Environment variables the globalSetup sets for the test processes (and their children). */
export const leakEnv = {
  /** JSON lines of planted secrets, appended by {@link plantSecret}. */
  registry: 'VFLEET_LEAK_REGISTRY',
  /** Directory of captured output, one file per test process (test/setup/capture.ts). */
  captureDir: 'VFLEET_LEAK_CAPTURE_DIR',
} as const;

export interface PlantedSecret {
  /** What it is: `vcenter-password`, `vsphere-session`, `jwt`, `private-key`, … */
  readonly kind: string;
  readonly value: string;
}

/** Shorter values match by chance (and are not secrets worth the name); they are listed, not scanned. */
export const minimumSecretLength = 12;

/**
 * Records `value` as a secret the scan must never find. A no-op outside a run with the scan (the unit
 * project), so harness helpers can call it unconditionally.
 */
export function plantSecret(kind: string, value: string): void {
  const registry = process.env[leakEnv.registry];
  if (!registry || value === '') return;
  appendFileSync(registry, `${JSON.stringify({ kind, value } satisfies PlantedSecret)}\n`);
}

/** Plants a key (PEM or other text): the whole of it and each of its base64 lines, which a log may cut apart. */
export function plantKeyMaterial(kind: string, key: string): void {
  plantSecret(kind, key);
  for (const line of key.split('\n')) {
    if (!line.startsWith('-----') && line.trim().length >= minimumSecretLength)
      plantSecret(kind, line.trim());
  }
}

/** Fields of a stored JSON secret that hold the secret part (not its user name or URL). */
const secretField = /password|secret|token|cookie|private|key|^d$/i;

/**
 * Plants every secret of a local file secret store (`SECRET_STORE=file:<path>`): signing keys as they are,
 * JSON documents (vCenter credentials) by their secret fields.
 */
export async function plantSecretStore(path: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const { secrets } = JSON.parse(text) as { secrets?: Record<string, string> };
  const leaves = (value: unknown, field: string): void => {
    if (typeof value === 'string') {
      if (secretField.test(field)) plantKeyMaterial(`secret store: ${field}`, value);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) leaves(v, k);
    }
  };
  for (const [name, value] of Object.entries(secrets ?? {})) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    if (parsed && typeof parsed === 'object') leaves(parsed, name);
    else plantKeyMaterial(`secret store: ${name}`, value);
  }
}

/** Reads the registry: each distinct secret once. */
export function parseRegistry(text: string): PlantedSecret[] {
  const seen = new Map<string, PlantedSecret>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const secret = JSON.parse(line) as PlantedSecret;
    if (!seen.has(secret.value)) seen.set(secret.value, secret);
  }
  return [...seen.values()];
}

/** A body of captured text and where it came from. */
export interface Source {
  readonly name: string;
  readonly text: string;
}

export interface Leak {
  readonly kind: string;
  /** The secret with all but its first 4 characters masked: the report must not leak it either. */
  readonly masked: string;
  readonly source: string;
  /** 1-based line of the first occurrence. */
  readonly line: number;
  /** How it appeared: as is, base64, base64url or URL-encoded. */
  readonly encoding: string;
  /** The line around it, the secret masked. */
  readonly excerpt: string;
}

export const mask = (secret: string): string => `${secret.slice(0, 4)}${'*'.repeat(8)}`;

/** The forms a secret may take when written out. */
function encodings(value: string): { encoding: string; text: string }[] {
  const forms = [
    { encoding: 'as is', text: value },
    { encoding: 'JSON-escaped', text: JSON.stringify(value).slice(1, -1) },
    { encoding: 'URL-encoded', text: encodeURIComponent(value) },
    { encoding: 'base64', text: Buffer.from(value).toString('base64').replace(/=+$/, '') },
    { encoding: 'base64url', text: Buffer.from(value).toString('base64url') },
  ];
  const distinct = new Map<string, { encoding: string; text: string }>();
  for (const form of forms) if (!distinct.has(form.text)) distinct.set(form.text, form);
  return [...distinct.values()];
}

/**
 * Every scannable secret found in `sources` (first occurrence per secret, encoding and source). One pass per
 * source: each position's first {@link keyLength} characters are looked up among the secrets' forms, so the
 * cost follows the captured bytes, not bytes × secrets.
 */
export function findLeaks(secrets: readonly PlantedSecret[], sources: readonly Source[]): Leak[] {
  const byKey = new Map<string, { secret: PlantedSecret; encoding: string; text: string }[]>();
  for (const secret of secrets) {
    if (secret.value.length < minimumSecretLength) continue;
    for (const form of encodings(secret.value)) {
      const key = form.text.slice(0, keyLength);
      byKey.set(key, [...(byKey.get(key) ?? []), { secret, ...form }]);
    }
  }
  const leaks: Leak[] = [];
  if (byKey.size === 0) return leaks;
  for (const source of sources) {
    const text = source.text;
    const reported = new Set<string>();
    for (let at = 0; at + keyLength <= text.length; at++) {
      const candidates = byKey.get(text.slice(at, at + keyLength));
      if (!candidates) continue;
      for (const { secret, encoding, text: form } of candidates) {
        const id = `${secret.value}\u0000${encoding}`;
        if (reported.has(id) || !text.startsWith(form, at)) continue;
        reported.add(id);
        leaks.push(leakAt(secret, encoding, form, source, at));
      }
    }
  }
  return leaks;
}

/** Characters of each form used to find candidates (≤ {@link minimumSecretLength}, which every form is at least). */
const keyLength = 10;

function leakAt(secret: PlantedSecret, encoding: string, form: string, source: Source, at: number): Leak {
  const text = source.text;
  const lineStart = text.lastIndexOf('\n', at) + 1;
  const lineEnd = text.indexOf('\n', at);
  const wholeLine = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  const offset = at - lineStart;
  const before = wholeLine.slice(Math.max(0, offset - 80), offset);
  const after = wholeLine.slice(offset + form.length, offset + form.length + 80);
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) line++;
  return {
    kind: secret.kind,
    masked: mask(secret.value),
    source: source.name,
    line,
    encoding,
    excerpt: `${before}${mask(form)}${after}`,
  };
}

/** A report of the leaks, for the error that fails the run. */
export function describeLeaks(leaks: readonly Leak[]): string {
  return leaks
    .map((l) => `- ${l.kind} ${l.masked} (${l.encoding}) in ${l.source}:${l.line}: ${l.excerpt}`)
    .join('\n');
}

/** Every file under `dir` (recursively) as a source named by its path, skipping what is not text-sized. */
export async function filesUnder(dir: string, maxBytes = 256 * 1024 * 1024): Promise<Source[]> {
  const found: Source[] = [];
  const walk = async (path: string): Promise<void> => {
    const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && (await stat(full)).size <= maxBytes) {
        found.push({ name: full, text: await readFile(full, 'utf8') });
      }
    }
  };
  await walk(dir);
  return found;
}
