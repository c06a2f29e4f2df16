/**
 * Parser worker thread: raw bytes in, extraction out. Runs mailparser and the
 * extraction engine off the main event loop (see pool.ts for the limits).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { parseMessage } from '../parse/index.ts';
import { extract, type SiteDefinition } from '../extract/index.ts';
import type { Outcome } from '../store/index.ts';

export interface WorkerTask {
  id: string;
  raw: Uint8Array;
}

export type WorkerResult = { id: string; ok: true; outcome: Omit<Outcome, 'id'> } | { id: string; ok: false; code: 'PARSE_FAILED'; message: string };

const sites = (workerData as { sites: SiteDefinition[] }).sites;

async function handle(task: WorkerTask): Promise<WorkerResult> {
  try {
    const parsed = await parseMessage(Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength));
    const analysis = extract(parsed, sites);
    const date = analysis.meta.date ? Date.parse(analysis.meta.date) : NaN;
    const text = parsed.text;
    return {
      id: task.id,
      ok: true,
      outcome: {
        messageId: analysis.meta.messageId ?? null,
        sentAt: Number.isFinite(date) ? date : null,
        // Hash of the normalised inner text: the same mail reaching us through two
        // forwarding paths (different outer headers) is recognised as one.
        contentHash: text ? createHash('sha256').update(analysis.extraction.source ?? '').update('\0').update(text.replace(/\s+/g, ' ').trim()).digest('hex') : null,
        subject: analysis.meta.subject ?? null,
        extraction: analysis.extraction,
        meta: analysis.meta as unknown as Record<string, unknown>,
      },
    };
  } catch (err) {
    return { id: task.id, ok: false, code: 'PARSE_FAILED', message: String((err as Error)?.message ?? err).slice(0, 500) };
  }
}

parentPort!.on('message', (task: WorkerTask) => {
  void handle(task).then((r) => parentPort!.postMessage(r));
});
