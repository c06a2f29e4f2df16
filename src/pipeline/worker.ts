/**
 * Parser worker thread: raw bytes in, extraction out. Runs mailparser and the
 * extraction engine off the main event loop (see pool.ts for the limits).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { parseMessage } from '../parse/index.ts';
import { extract, type SiteDefinition } from '../extract/index.ts';
import type { Outcome } from '../store/index.ts';
import {
  Authenticator,
  applySiteVerdict,
  reuseAuth,
  type AuthEnvelope,
  type AuthResult,
  type AuthSettings,
} from '../auth/index.ts';

export interface WorkerTask {
  id: string;
  raw: Uint8Array;
  /** SMTP facts for sender authentication (from the message row). */
  envelope?: AuthEnvelope;
  /** A stored authentication result to reuse on replay (see Authenticator.run). */
  priorAuth?: AuthResult | null;
  /** `decode`: only the readable text (dashboard); default: the full processing. */
  mode?: 'process' | 'decode';
  /** Run alone on a worker: the message was in flight when a worker died, and may be why. */
  exclusive?: boolean;
}

export type WorkerResult =
  | { id: string; ok: true; outcome: Omit<Outcome, 'id'> }
  | { id: string; ok: false; code: 'PARSE_FAILED'; message: string };

/** A message decoded for a person to read (dashboard), without extraction. */
export interface DecodedText {
  subject: string;
  from: { address: string; name: string } | null;
  date: string | null;
  forwarded: boolean;
  htmlDerived: boolean;
  warnings: string[];
  text: string;
}
export type DecodeResult =
  { id: string; ok: true; decoded: DecodedText } | { id: string; ok: false; code: 'PARSE_FAILED'; message: string };

/**
 * Parsing yields the CPU to the SMTP front end: on Linux a thread has its own
 * nice value, so the worker lowers its own priority. The spool absorbs a burst
 * the parsers cannot keep up with; the 250s must not wait for them.
 */
const WORKER_NICE = 10;
try {
  const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid)) os.setPriority(tid, WORKER_NICE);
} catch {
  // Not Linux, or not permitted: run at normal priority.
}

const { sites, auth: authSettings } = workerData as { sites: SiteDefinition[]; auth?: AuthSettings };
const authenticator = authSettings ? new Authenticator(authSettings) : null;

async function handle(task: WorkerTask): Promise<WorkerResult> {
  try {
    const raw = Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength);
    // Authentication waits on DNS while parsing uses the CPU: run them together.
    const [parsed, auth] = await Promise.all([
      parseMessage(raw),
      authenticator && task.envelope
        ? authenticator.run(raw, task.envelope, task.priorAuth ?? null)
        : Promise.resolve(task.priorAuth ? reuseAuth(task.priorAuth) : null),
    ]);
    const analysis = extract(parsed, sites);
    if (auth) analysis.extraction = applySiteVerdict(analysis.extraction, auth, sites);
    const date = analysis.meta.date ? Date.parse(analysis.meta.date) : NaN;
    const text = parsed.text;
    return {
      id: task.id,
      ok: true,
      outcome: {
        messageId: analysis.meta.messageId ?? null,
        sentAt: Number.isFinite(date) ? date : null,
        // Hash of the site, the relevant Date and the normalised inner text: the
        // same mail reaching us through two forwarding paths (different outer
        // headers) is recognised as one, while a later mail with the same text
        // (a change back to an earlier value: A → B → A) is not — its Date differs.
        contentHash: text
          ? createHash('sha256')
              .update(analysis.extraction.source ?? '')
              .update('\0')
              .update(Number.isFinite(date) ? String(date) : '')
              .update('\0')
              .update(text.replace(/\s+/g, ' ').trim())
              .digest('hex')
          : null,
        subject: analysis.meta.subject ?? null,
        extraction: analysis.extraction,
        meta: analysis.meta as unknown as Record<string, unknown>,
        auth,
      },
    };
  } catch (err) {
    return parseFailed(task, err);
  }
}

async function decode(task: WorkerTask): Promise<DecodeResult> {
  try {
    const p = await parseMessage(Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength));
    return {
      id: task.id,
      ok: true,
      decoded: {
        subject: p.subject,
        from: p.from,
        date: p.date ? p.date.toISOString() : null,
        forwarded: p.forwarded,
        htmlDerived: p.htmlDerived,
        warnings: p.warnings,
        text: p.text,
      },
    };
  } catch (err) {
    return parseFailed(task, err);
  }
}

parentPort!.on('message', (task: WorkerTask) => {
  void (task.mode === 'decode' ? decode(task) : handle(task)).then((r) => parentPort!.postMessage(r));
});

/** Longest error text sent back from a worker: enough to diagnose, bounded for the database. */
const MAX_ERROR_TEXT_CHARS = 500;

/** The failed result of a task whose parse threw. */
function parseFailed(task: WorkerTask, err: unknown) {
  return {
    id: task.id,
    ok: false as const,
    code: 'PARSE_FAILED' as const,
    message: String((err as Error)?.message ?? err).slice(0, MAX_ERROR_TEXT_CHARS),
  };
}
