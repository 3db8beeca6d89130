// Test harness — Debian's Chromium driven by playwright-core (no browser download: the project installs
// the `chromium` package, as the README's set-up says).
import { type Browser, chromium, type Page } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Root in CI containers cannot use Chromium's user-namespace sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** Opens the dashboard at `hash` and logs in through the dev issuer's page as `user` with `role`. */
export async function logInToDashboard(
  browser: Browser,
  base: string,
  user: string,
  role: string,
  hash = '#overview',
): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${base}/dashboard/${hash}`);
  await page.waitForURL(/\/dev-issuer\/authorize\?/);
  await page.fill('input[name=username]', user);
  await page.selectOption('select[name=role]', role);
  await page.click('button[type=submit]');
  await page.waitForSelector('[role=tablist]');
  return page;
}
