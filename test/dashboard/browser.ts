/**
 * A real browser for the dashboard tests and the screenshot script:
 * Debian's Chromium driven by playwright-core, headless, with a fresh profile
 * in a temp dir and everything that would phone home switched off (the
 * tests must pass offline).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.OTA_INBOUND_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DESKTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

export interface Browser {
  context: BrowserContext;
  /** A new tab; console errors, page errors and CSP violations are collected in `problems`. */
  page(viewport?: { width: number; height: number }): Promise<Page>;
  problems: string[];
  close(): Promise<void>;
}

export async function launchBrowser(opts: { deviceScaleFactor?: number } = {}): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: DESKTOP,
    deviceScaleFactor: opts.deviceScaleFactor ?? 1,
    locale: 'ja-JP',
    timezoneId: 'Asia/Tokyo',
  });
  const problems: string[] = [];
  return {
    context,
    problems,
    async page(viewport = DESKTOP) {
      const page = await context.newPage();
      await page.setViewportSize(viewport);
      page.on('console', (m) => {
        // Chromium logs every 4xx API answer as a failed resource; the page handles
        // those (sign-in, a purged or damaged raw message). Anything else is a problem.
        if (
          m.type() === 'error' &&
          !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())
        )
          problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      return page;
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** True when the page is wider than the viewport (a horizontal scrollbar). */
export function hasHorizontalScroll(page: Page): Promise<boolean> {
  // A string: it runs in the page (this project compiles without the DOM types).
  return page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
}
