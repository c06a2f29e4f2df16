/**
 * The hooks every browser test file shares: one browser for the file, fresh
 * pages per test, the nodes a test started stopped after it, and no script
 * error, failed request or CSP violation left behind by any test.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { TestApp } from '../helpers/app.ts';
import { launchBrowser, type Browser } from './browser.ts';

export interface BrowserSuite {
  /** The file's browser (launched before its first test). */
  readonly browser: Browser;
  /** Stops `app` after the current test; returns it. */
  track(app: TestApp): TestApp;
}

export function browserSuite(): BrowserSuite {
  let browser: Browser | undefined;
  let apps: TestApp[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(() => {
    browser!.problems.length = 0;
  });
  afterEach(async () => {
    await browser!.closePages();
    for (const a of apps) await a.cleanup();
    apps = [];
    expect(browser!.problems).toEqual([]);
  });
  return {
    get browser() {
      return browser!;
    },
    track(app) {
      apps.push(app);
      return app;
    },
  };
}
