/**
 * Replay: run chosen messages through parsing and persistence again, from the
 * spool. Used after a parser fix or an outage, by `ota-inbound replay` and
 * `ota-inbound rebuild`.
 *
 * Idempotent: a settled message whose new extraction equals the stored one is
 * left alone; one whose extraction changed is updated and, for reservations,
 * gets a new event whose reason says so. Outcomes are applied in received
 * order whatever order the workers finish in, so a rebuild reproduces the live
 * database (duplicates and "older never rolls back" depend on that order).
 */
import type { Config } from '../config/index.ts';
import type { Spool } from '../spool/index.ts';
import { SETTLED_STATES, inStates, rawLocation, type Outcome, type Store } from '../store/index.ts';
import { CodedError, ERROR_CODES, errorCode } from '../errors.ts';
import type { SiteDefinition } from '../extract/index.ts';
import { ParserPool } from './pool.ts';
import { authTaskFields } from '../auth/index.ts';
import type { WorkerResult } from './worker.ts';
import type { MessageSelection } from '../store/index.ts';
import type { EventOutbox } from './index.ts';

/** Which messages to replay (the store's selection). */
export type ReplaySelection = MessageSelection;

const INFLIGHT_PER_WORKER = 8;

export interface ReplayChange {
  id: string;
  from: { state: string; kind: string | null; source: string | null; event: string | null };
  to: { state: string; kind: string | null; source: string | null; event: string | null };
  /** Extraction fields whose values differ (empty when only the state changes). */
  fields: string[];
}

export interface ReplayReport {
  selected: number;
  unchanged: number;
  changed: number;
  failed: number;
  changes: ReplayChange[];
  seconds: number;
}

export interface ReplayOptions {
  store: Store;
  spool: Spool;
  sites: SiteDefinition[];
  /** Pool size and limits, from the `pipeline.*` settings. */
  settings: Pick<Config['pipeline'], 'workers' | 'parseTimeoutMs' | 'workerMaxMemoryMb'>;
  selection: ReplaySelection;
  /** Where recorded events' webhook deliveries are written, in the same transaction; none: no deliveries. */
  outbox?: EventOutbox;
  dryRun?: boolean;
  /** At most this many changes are listed in the report (all are counted). */
  listLimit?: number;
  onProgress?: (done: number, total: number) => void;
}

function summary(row: { state: string; kind: string | null; source: string | null; event: string | null }) {
  return { state: row.state, kind: row.kind, source: row.source, event: row.event };
}

function diffFields(before: string | null, after: unknown): string[] {
  const a = (before ? JSON.parse(before) : {}) as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return Object.keys(b).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** Replays the selection; see the module comment for the rules. */
export async function replay(o: ReplayOptions): Promise<ReplayReport> {
  const started = performance.now();
  const rows = o.store.selectMessages(o.selection);
  const report: ReplayReport = { selected: rows.length, unchanged: 0, changed: 0, failed: 0, changes: [], seconds: 0 };
  const listLimit = o.listLimit ?? 1_000;
  if (rows.length === 0) return report;
  const pool = new ParserPool({
    size: o.settings.workers,
    timeoutMs: o.settings.parseTimeoutMs,
    maxOldGenerationSizeMb: o.settings.workerMaxMemoryMb,
    workerData: { sites: o.sites },
  });
  const results = new Array<WorkerResult | CodedError | undefined>(rows.length);
  let nextToApply = 0;
  let nextToStart = 0;
  let done = 0;

  // Applies, in one transaction, every outcome that is next in received order.
  const applyReady = () => {
    const ready: number[] = [];
    while (nextToApply < rows.length && results[nextToApply] !== undefined) ready.push(nextToApply++);
    if (ready.length === 0) return;
    const apply = () => {
      for (const i of ready) {
        const row = rows[i]!;
        const r = results[i]!;
        results[i] = undefined; // free the memory
        if (r instanceof CodedError || !r.ok) {
          report.failed += 1;
          const err = r instanceof CodedError ? r : new CodedError('PARSE_FAILED', r.message);
          if (!o.dryRun)
            o.store.recordFailure(row.id, {
              state: ERROR_CODES[err.code].transient ? 'failed' : 'dead',
              code: err.code,
              message: err.message,
              nextAttemptAt: 0,
            });
          continue;
        }
        const outcome: Outcome = { id: row.id, ...r.outcome };
        const fields = diffFields(row.extraction, outcome.extraction);
        const settled = inStates(SETTLED_STATES, row.state);
        if (settled && fields.length === 0) {
          report.unchanged += 1;
          continue;
        }
        report.changed += 1;
        let to = {
          state: row.state as string,
          kind: outcome.extraction.kind,
          source: outcome.extraction.source,
          event: outcome.extraction.event,
        };
        if (!o.dryRun) {
          const res = o.store.applyOutcome(
            row,
            outcome,
            settled ? { replayReason: `replay: extraction changed (${fields.join(', ')})` } : {},
          );
          for (const e of res.events) o.outbox?.write(e);
          to = { ...to, state: res.state };
        } else to = { ...to, state: settled ? row.state : '(re-evaluated)' };
        if (report.changes.length < listLimit) report.changes.push({ id: row.id, from: summary(row), to, fields });
      }
    };
    if (o.dryRun) apply();
    else o.store.transaction(apply);
  };

  // A store failure while applying rejects the replay rather than leaving it waiting.
  await new Promise<void>((resolve, reject) => {
    const startNext = () => {
      while (nextToStart < rows.length && nextToStart - nextToApply < o.settings.workers * INFLIGHT_PER_WORKER) {
        const i = nextToStart++;
        const row = rows[i]!;
        o.spool
          .readRaw(rawLocation(row))
          .then((raw) => {
            const copy = new Uint8Array(raw);
            return pool.run(
              { id: row.id, raw: copy, exclusive: row.error_code === 'PARSE_WORKER_CRASHED', ...authTaskFields(row) },
              [copy.buffer],
            );
          })
          .then(
            (r) => (results[i] = r),
            (err: unknown) =>
              (results[i] = err instanceof CodedError ? err : new CodedError(errorCode(err), (err as Error).message)),
          )
          .then(() => {
            done += 1;
            o.onProgress?.(done, rows.length);
            applyReady();
            if (done === rows.length) resolve();
            else startNext();
          })
          .catch(reject);
      }
    };
    startNext();
  });
  await pool.close();
  report.seconds = (performance.now() - started) / 1000;
  return report;
}
