/**
 * Headless Chromium for the web chat's browser test and screenshot script
 * (playwright-core with the system Chromium; nothing is downloaded).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** The system Chromium (Debian's `chromium` package). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** True when {@link CHROMIUM_PATH} exists. */
export function hasChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Launches headless Chromium with no network side traffic (no updates, sync or QUIC). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
