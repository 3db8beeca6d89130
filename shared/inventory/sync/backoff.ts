// Inventory sync — domain (pure): when a vCenter is due again, and what a failure may say about itself.
import { redact } from '#shared/vsphere';

/** Longest wait between attempts at a failing vCenter. */
export const maxBackoffSeconds = 3_600;

/**
 * Seconds until the next attempt after `failures` consecutive failures: the vCenter's interval doubled per
 * failure (at least 30 s), capped at an hour, with ±20 % jitter so a fleet that failed together (a network
 * blip) does not retry in lockstep. `random` is injectable for tests.
 */
export function backoffSeconds(
  failures: number,
  intervalSeconds: number,
  random: () => number = Math.random,
): number {
  const base = Math.max(30, intervalSeconds) * 2 ** Math.max(0, Math.min(failures - 1, 16));
  const capped = Math.min(maxBackoffSeconds, base);
  return Math.round(capped * (0.8 + 0.4 * random()));
}

/**
 * What a failure records as `last_error`: its kind and message, without the password or anything that looks
 * like a session cookie, at most 500 characters.
 */
export function describeFailure(error: unknown, secrets: readonly (string | undefined)[]): string {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  let cleaned = redact(`${name}: ${message}`, secrets);
  // redact() leaves secrets under 4 characters alone (too likely to be ordinary text); a password is never.
  for (const secret of secrets) if (secret) cleaned = cleaned.split(secret).join('***');
  return cleaned.length > 500 ? `${cleaned.slice(0, 497)}...` : cleaned;
}
