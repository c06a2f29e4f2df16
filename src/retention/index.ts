/**
 * Retention: how long raw mail and guests' personal data are kept.
 *
 * Raw bytes live in journal segments. A segment is deleted once every message
 * in it is settled and old enough: processed, duplicate and ignored mail past
 * `retention.rawDays` is purged with it; mail a person may still need (failed,
 * dead, needs-review, quarantined — and review mail not yet marked handled) is
 * first copied to `spool/kept/<id>.eml`, so it is never purged. Pending mail
 * keeps its segment. Personal fields (guest name, kana, phone, notes) are
 * erased from the database `retention.personalDays` after the visit date (or
 * after receipt when there is none).
 */
import fsp from 'node:fs/promises';
import type { Spool } from '../spool/index.ts';
import { rawLocation, type MessageRow, type Store } from '../store/index.ts';
import { DAY_MS } from '../shared/index.ts';

/** Settled states whose raw bytes may go once old enough. */
const PURGEABLE = new Set(['processed', 'duplicate', 'ignored']);
/** States a person may still act on: raw bytes are kept (moved out of the segment). */
const KEEP = new Set(['review', 'quarantined', 'failed', 'dead']);
const PERSONAL_FIELDS = ['guestName', 'guestNameKana', 'phone', 'notes'] as const;

export interface RetentionPolicy {
  rawDays: number;
  personalDays: number;
}

export interface PurgeReport {
  segmentsDeleted: number;
  rawPurged: number;
  rawKept: number;
  keptFilesDeleted: number;
  personalErased: number;
  segmentsWaiting: number;
}

type Row = Pick<
  MessageRow,
  | 'id'
  | 'state'
  | 'processed_at'
  | 'handled_at'
  | 'spool_segment'
  | 'spool_offset'
  | 'header_length'
  | 'size'
  | 'raw_path'
  | 'raw_purged_at'
>;

/** Purges what the policy allows; with `dryRun` only counts. Safe to run while the server runs. */
export async function purge(
  store: Store,
  spool: Spool,
  policy: RetentionPolicy,
  opts: { now?: number; dryRun?: boolean } = {},
): Promise<PurgeReport> {
  const now = opts.now ?? Date.now();
  const rawCutoff = now - policy.rawDays * DAY_MS;
  const report: PurgeReport = {
    segmentsDeleted: 0,
    rawPurged: 0,
    rawKept: 0,
    keptFilesDeleted: 0,
    personalErased: 0,
    segmentsWaiting: 0,
  };
  const db = store.db;
  const cursor = store.cursor();
  // Only segments the database fully covers and the journal no longer writes.
  const limit = Math.min(spool.journal.currentSegment, cursor.segment);
  const rowsOf = db.prepare(
    'SELECT id, state, processed_at, handled_at, spool_segment, spool_offset, header_length, size, raw_path, raw_purged_at FROM messages WHERE spool_segment = ? AND raw_path IS NULL AND raw_purged_at IS NULL',
  );
  const setKept = db.prepare('UPDATE messages SET raw_path = ? WHERE id = ?');
  const setPurged = db.prepare('UPDATE messages SET raw_purged_at = ? WHERE id = ?');

  for (const segment of await spool.journal.segments()) {
    if (segment >= limit) break;
    const rows = rowsOf.all(segment) as Row[];
    const settledAt = (r: Row) => r.handled_at ?? r.processed_at ?? now;
    const purgeable = (r: Row) =>
      (PURGEABLE.has(r.state) || (r.state === 'review' && r.handled_at !== null)) && settledAt(r) < rawCutoff;
    if (rows.some((r) => r.state === 'pending') || rows.some((r) => !purgeable(r) && !KEEP.has(r.state))) {
      report.segmentsWaiting += 1;
      continue;
    }
    const toKeep = rows.filter((r) => !purgeable(r));
    const toPurge = rows.filter(purgeable);
    if (opts.dryRun) {
      report.rawKept += toKeep.length;
      report.rawPurged += toPurge.length;
      report.segmentsDeleted += 1;
      continue;
    }
    for (const r of toKeep) {
      setKept.run(await spool.keep(rawLocation(r)), r.id);
      report.rawKept += 1;
    }
    store.transaction(() => {
      for (const r of toPurge) setPurged.run(now, r.id);
    });
    report.rawPurged += toPurge.length;
    await spool.journal.removeSegment(segment);
    report.segmentsDeleted += 1;
  }

  // Kept files whose message has since been settled and aged (e.g. review marked handled).
  const keptRows = db
    .prepare(
      `SELECT id, raw_path, state, processed_at, handled_at FROM messages WHERE raw_path IS NOT NULL AND raw_purged_at IS NULL`,
    )
    .all() as Row[];
  for (const r of keptRows) {
    const settled =
      (PURGEABLE.has(r.state) || (r.state === 'review' && r.handled_at !== null)) &&
      (r.handled_at ?? r.processed_at ?? now) < rawCutoff;
    if (!settled) continue;
    report.keptFilesDeleted += 1;
    if (opts.dryRun) continue;
    await fsp.rm(r.raw_path!, { force: true });
    setPurged.run(now, r.id);
  }

  report.personalErased = erasePersonalData(store, policy.personalDays, now, opts.dryRun ?? false);
  return report;
}

/** Erases guest names, phones and notes older than the window; returns the reservations touched. */
function erasePersonalData(store: Store, personalDays: number, now: number, dryRun: boolean): number {
  const cutoffMs = now - personalDays * DAY_MS;
  // visit_date is a Japanese local date; a day of slack keeps this simple and never early.
  const cutoffDate = new Date(cutoffMs - DAY_MS).toISOString().slice(0, 10);
  const db = store.db;
  const where = `(visit_date IS NOT NULL AND visit_date < @date) OR (visit_date IS NULL AND updated_at < @ms)`;
  const personal = `(guest_name IS NOT NULL OR guest_name_kana IS NOT NULL OR phone IS NOT NULL OR notes IS NOT NULL)`;
  const count = (
    db
      .prepare(`SELECT COUNT(*) AS n FROM reservations WHERE (${where}) AND ${personal}`)
      .get({ date: cutoffDate, ms: cutoffMs }) as { n: number }
  ).n;
  if (dryRun || count === 0) return count;
  const scrub = (col: string) =>
    `${col} = CASE WHEN ${col} IS NULL THEN NULL ELSE json_set(${col}, ${PERSONAL_FIELDS.map((f) => `'$.${f}', NULL`).join(', ')}) END`;
  store.transaction(() => {
    const ids = db
      .prepare(`SELECT id FROM reservations WHERE (${where}) AND ${personal}`)
      .all({ date: cutoffDate, ms: cutoffMs }) as { id: number }[];
    const clear = db.prepare(
      `UPDATE reservations SET guest_name = NULL, guest_name_kana = NULL, phone = NULL, notes = NULL WHERE id = ?`,
    );
    const events = db.prepare(
      `UPDATE reservation_events SET ${scrub('extraction')}, changes = '{}' WHERE reservation = ?`,
    );
    const messages = db.prepare(
      `UPDATE messages SET ${scrub('extraction')} WHERE id IN (SELECT message FROM reservation_events WHERE reservation = ?)`,
    );
    for (const { id } of ids) {
      clear.run(id);
      events.run(id);
      messages.run(id);
    }
  });
  return count;
}
