/**
 * Builds a real ota-inbound node for a test: its own temp data and certs
 * directories, SMTP and HTTP on port 0 (loopback), silent logs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { startApp, type App, type AppOptions } from '../../src/app.ts';
import type { MessageRow } from '../../src/store/index.ts';

export interface TestApp extends App {
  dir: string;
  cleanup(): Promise<void>;
}

export function tempDir(prefix = 'ota-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Configuration overrides by dotted path (see src/config/settings.ts). */
export async function startTestApp(
  overrides: Record<string, unknown> = {},
  opts: Partial<AppOptions> & { dir?: string } = {},
): Promise<TestApp> {
  const dir = opts.dir ?? tempDir();
  const config = loadConfig({
    env: {},
    file: null,
    overrides: {
      dataDir: path.join(dir, 'data'),
      certsDir: path.join(dir, 'certs'),
      'smtp.host': '127.0.0.1',
      'smtp.port': 0,
      'smtp.hostname': 'mx.test.example',
      'http.host': '127.0.0.1',
      'http.port': 0,
      domains: ['intake.example'],
      routes: ['{store}@intake.example'],
      'pipeline.workers': 1,
      'pipeline.retryBaseMs': 50,
      'log.level': 'silent',
      // No DNS in tests: sender authentication is off unless a test turns it on
      // with a zone file (test/security/).
      'auth.resolver': 'none',
      ...overrides,
    },
  });
  const app = await startApp(config, { log: createLogger({ level: config.log.level }), ...opts });
  return Object.assign(app, {
    dir,
    async cleanup() {
      await app.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
}

/**
 * Waits until `predicate` holds, re-checking after each batch the pipeline
 * persists (its own progress signal, never a timer). The test timeout bounds it.
 */
export async function waitFor<T>(app: App, predicate: () => T | undefined | null | false): Promise<T> {
  for (;;) {
    const v = predicate();
    if (v) return v;
    await once(app.pipeline, 'persisted');
  }
}

/** Waits until the message with this spool id has left the pending/failed states. */
export function waitProcessed(app: App, id: string): Promise<MessageRow> {
  return waitFor(app, () => {
    const row = app.store.message(id);
    return row && row.state !== 'pending' && row.state !== 'failed' ? row : undefined;
  });
}
