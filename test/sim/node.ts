/**
 * One simulated ota-inbound node: the real app (SMTP on loopback, the journal on
 * a real directory behind the fault seam, the real SQLite file, real parser
 * workers, the real webhook dispatcher) and a crash that drops every piece of
 * in-memory state the way a killed process would.
 */
import path from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { startApp, type App } from '../../src/app.ts';
import type { FaultIo } from './faults.ts';

/** Small segments: schedules rotate through several, so damage and power cuts meet segment ends. */
const SEGMENT_BYTES = 16 * 1024;

export async function startNode(dir: string, certsDir: string, io: FaultIo, webhookUrl: string): Promise<App> {
  const config = loadConfig({
    env: {},
    file: null,
    overrides: {
      dataDir: path.join(dir, 'data'),
      certsDir,
      'smtp.host': '127.0.0.1',
      'smtp.port': 0,
      'smtp.hostname': 'mx.sim.example',
      'http.host': '127.0.0.1',
      'http.port': 0,
      domains: ['intake.example'],
      routes: ['{store}@intake.example'],
      'pipeline.workers': 1,
      'pipeline.retryBaseMs': 20,
      'webhook.url': webhookUrl,
      'webhook.secret': 'sim-webhook-secret-0123456789abcdef',
      'webhook.retryBaseMs': 20,
      'webhook.retryMaxMs': 200,
      'log.level': 'silent',
      'auth.resolver': 'none',
    },
  });
  return startApp(config, { log: createLogger({ level: 'silent' }), spoolIo: io, spoolSegmentBytes: SEGMENT_BYTES });
}

/**
 * Kills the node: its file handles die first (nothing it still has in flight
 * reaches the journal), the pipeline stops without persisting what it holds,
 * then the rest is closed so the next node can take the data directory.
 */
export async function crashNode(app: App, io: FaultIo): Promise<void> {
  io.kill();
  await app.pipeline.halt();
  // Parts that touch the dead files fail to close cleanly, as they would: the node goes anyway.
  await app.stop().catch(() => undefined);
}
