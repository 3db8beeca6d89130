// Test harness — Debian's Chromium driven by playwright-core (no browser download: the project installs
// the `chromium` package, as the README's set-up says).
import { type Browser, chromium } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Root in CI containers cannot use Chromium's user-namespace sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}
