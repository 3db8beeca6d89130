// Configuration — read once at start-up, checked, failing fast with the variable's name.
import { AsyncLocalStorage } from 'node:async_hooks';

const functionEnvironment = new AsyncLocalStorage<Readonly<Record<string, string>>>();

/**
 * Runs `work` with `env` laid over `process.env` for every setting read through this module. Lambda gives each
 * function a process of its own; the local runtime runs them all in one, and gives each invocation the variables
 * that differ per function (its database login, the tables it declares) this way. An empty string reads as unset.
 */
export function withFunctionEnvironment<T>(env: Readonly<Record<string, string>>, work: () => T): T {
  return functionEnvironment.run(env, work);
}

function read(name: string): string | undefined {
  return functionEnvironment.getStore()?.[name] ?? process.env[name];
}

/** Thrown when a setting is missing or invalid; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A required string setting. */
export function requireEnv(name: string): string {
  const value = read(name);
  if (value === undefined || value.trim() === '') throw new ConfigError(`${name} is required but not set`);
  return value;
}

/** An optional string setting with a default. */
export function optionalEnv(name: string, fallback: string): string {
  const value = read(name);
  return value === undefined || value.trim() === '' ? fallback : value;
}

/** A boolean setting: `true`/`false`/`1`/`0`; anything else is refused. */
export function boolEnv(name: string, fallback: boolean): boolean {
  const value = read(name);
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${value}"`);
}

/** A numeric setting within [min, max]; non-numbers and out-of-range values are refused. */
export function numberEnv(
  name: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
  const raw = read(name);
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY } = range;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a number between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}
