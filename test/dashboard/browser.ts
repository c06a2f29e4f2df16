/**
 * A real browser for the dashboard tests and the screenshot script:
 * Debian's Chromium driven by playwright-core, headless, everything that
 * would phone home switched off (the tests must pass offline). Every page
 * gets its own context (fresh storage) with the browser language and time
 * zone asked for: the dashboard picks its language from the browser.
 */
import { chromium, type Browser as PwBrowser, type BrowserContext, type Page } from 'playwright-core';

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

export interface PageOptions {
  /** The browser's language (`navigator.languages`, Accept-Language); default the browser's. */
  locale?: string;
  /** The browser's time zone; default the browser's. */
  timezoneId?: string;
  /** Reuse this context (its localStorage) instead of a fresh one. */
  context?: BrowserContext;
}

export interface Browser {
  browser: PwBrowser;
  /** A new tab in a new context; console errors, page errors and CSP violations are collected in `problems`. */
  page(viewport?: { width: number; height: number }, opts?: PageOptions): Promise<Page>;
  problems: string[];
  /** Closes every page and context opened so far (call before stopping the node they show). */
  closePages(): Promise<void>;
  close(): Promise<void>;
}

/** `locale`/`timezoneId`: the defaults of every page (en-US, Asia/Tokyo unless given). */
export async function launchBrowser(
  opts: { deviceScaleFactor?: number; locale?: string; timezoneId?: string } = {},
): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  const closePages = async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
  };
  return {
    browser,
    problems,
    async page(viewport = DESKTOP, po = {}) {
      let context = po.context;
      if (!context) {
        context = await browser.newContext({
          viewport,
          deviceScaleFactor: opts.deviceScaleFactor ?? 1,
          locale: po.locale ?? opts.locale ?? 'en-US',
          timezoneId: po.timezoneId ?? opts.timezoneId ?? 'Asia/Tokyo',
        });
        contexts.push(context);
      }
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
    closePages,
    async close() {
      await closePages();
      await browser.close();
    },
  };
}

/** True when the page is wider than the viewport (a horizontal scrollbar). */
export function hasHorizontalScroll(page: Page): Promise<boolean> {
  // A string: it runs in the page (this project compiles without the DOM types).
  return page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
}
