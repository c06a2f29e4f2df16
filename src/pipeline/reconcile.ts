/**
 * The reconciler (anti-entropy): proves that the journal and the database
 * agree, independently of how the hand-off works. Every journal record before
 * the cursor must have a message row, and every row must still have its raw
 * bytes — its record in the journal (same id, same place), a kept file, or a
 * recorded purge. What it finds is reported; with `repair`, journal records
 * without a row are recorded again (they become pending and are processed like
 * any mail), and rows whose bytes are gone while they still wait for
 * processing are dead-lettered `SPOOL_MISSING` so that a person sees them.
 *
 * It reads each segment once (frames and headers only, through the journal's
 * read-ahead) and the rows of that segment by index, one segment at a time, so
 * memory stays bounded by one segment's index whatever the database's size.
 */
import fs from 'node:fs';
import { recordEnd, type DamagedSpan, type Journal, type SpoolCursor, type SpoolRecord } from '../spool/index.ts';
import { CodedError } from '../errors.ts';
import type { Store } from '../store/index.ts';

export interface ReconcileReport {
  segments: number;
  records: number;
  rows: number;
  /** Journal records before the cursor that have no message row. */
  missingRows: string[];
  /** Rows whose raw bytes are neither in the journal at their place, nor kept, nor purged. */
  missingBytes: string[];
  /** Damaged journal spans (new or already known), by `segment:offset`. */
  damaged: string[];
  /** Rows whose record lies in a damaged span: their bytes are kept but cannot be read (not counted as unreconciled). */
  damagedRows: string[];
  /** With repair: rows recorded again, and waiting rows dead-lettered for missing bytes. */
  repaired: { recorded: number; deadLettered: number };
  durationMs: number;
}

/** The messages the last pass found out of step (the `ota_inbound_spool_unreconciled` gauge). */
export function unreconciled(r: ReconcileReport): number {
  return r.missingRows.length + r.missingBytes.length;
}

const before = (a: SpoolCursor, b: SpoolCursor) =>
  a.segment < b.segment || (a.segment === b.segment && a.offset <= b.offset);

/** One reconciliation pass over the whole journal and database. */
export async function reconcile(
  store: Store,
  journal: Journal,
  opts: { repair?: boolean } = {},
): Promise<ReconcileReport> {
  const started = performance.now();
  const report: ReconcileReport = {
    segments: 0,
    records: 0,
    rows: 0,
    missingRows: [],
    missingBytes: [],
    damaged: [],
    damagedRows: [],
    repaired: { recorded: 0, deadLettered: 0 },
    durationMs: 0,
  };
  const cursor = store.cursor();
  const onDisk = new Set(await journal.segments());
  const segments = [...new Set([...onDisk, ...store.segmentsWithRows()])].sort((a, b) => a - b);
  for (const segment of segments) {
    report.segments += 1;
    const records = new Map<number, string>();
    const spans: DamagedSpan[] = [];
    const lost: SpoolRecord[] = [];
    if (onDisk.has(segment)) {
      for await (const e of journal.scan({ segment, offset: 0 }, { onlySegment: true })) {
        if (e.kind === 'damage') {
          report.damaged.push(`${e.segment}:${e.offset}`);
          spans.push(e);
          if (opts.repair) store.recordDamage(e);
          continue;
        }
        report.records += 1;
        records.set(e.ref.offset, e.id);
        if (before(recordEnd(e.ref), cursor)) lost.push(e);
      }
    }
    const rows = store.rowsInSegment(segment);
    report.rows += rows.length;
    const rowIds = new Set(rows.map((r) => r.id));
    const missing = lost.filter((r) => !rowIds.has(r.id));
    for (const r of missing) report.missingRows.push(r.id);
    if (opts.repair && missing.length > 0) {
      store.recordSpooled(missing, store.cursor());
      report.repaired.recorded += missing.length;
    }
    for (const row of rows) {
      if (row.raw_purged_at !== null || row.header_length === 0) continue; // purged, or a damaged span's row
      const present = row.raw_path !== null ? fs.existsSync(row.raw_path) : records.get(row.spool_offset) === row.id;
      if (present) continue;
      // Damaged after its row was written: the bytes are there but unreadable. A processed
      // row keeps its outcome; one still waiting can never be processed and is dead-lettered.
      const span = row.raw_path === null && spans.find((d) => d.offset <= row.spool_offset && row.spool_offset < d.end);
      const err = span
        ? new CodedError(
            'SPOOL_CORRUPT',
            `reconciler: its journal record at ${segment}:${span.offset} is damaged; the bytes are kept in the segment`,
          )
        : new CodedError('SPOOL_MISSING', `reconciler: no journal record or kept file holds ${row.id}`);
      (span ? report.damagedRows : report.missingBytes).push(row.id);
      if (opts.repair && (row.state === 'pending' || row.state === 'failed')) {
        store.recordFailure(row.id, { state: 'dead', code: err.code, message: err.message });
        report.repaired.deadLettered += 1;
      }
    }
  }
  report.durationMs = Math.round(performance.now() - started);
  return report;
}
