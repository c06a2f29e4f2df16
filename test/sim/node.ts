/**
 * One simulated ota-inbound node: the real app (SMTP on loopback, the journal on
 * a real directory behind the fault seam, the real SQLite file, real parser
 * workers, the real webhook dispatcher) and a crash that drops every piece of
 * in-memory state the way a killed process would.
 */
import type { App } from '../../src/app.ts';
import { startTestApp } from '../helpers/app.ts';
import type { FaultIo } from './faults.ts';

/** Small segments: schedules rotate through several, so damage and power cuts meet segment ends. */
const SEGMENT_BYTES = 16 * 1024;

/** A test node on `dir` (the same data directory across restarts) with the webhook pointing at the receiver. */
export function startNode(dir: string, certsDir: string, io: FaultIo, webhookUrl: string): Promise<App> {
  return startTestApp(
    {
      certsDir,
      'pipeline.retryBaseMs': 20,
      'webhook.url': webhookUrl,
      'webhook.secret': 'sim-webhook-secret-0123456789abcdef',
      'webhook.retryBaseMs': 20,
      'webhook.retryMaxMs': 200,
    },
    { dir, spoolIo: io, spoolSegmentBytes: SEGMENT_BYTES },
  );
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
