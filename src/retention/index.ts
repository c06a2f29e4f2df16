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
import { rawLocation, type RetentionRow as Row, type Store } from '../store/index.ts';
import { DAY_MS } from '../shared/index.ts';

/** Settled states whose raw bytes may go once old enough. */
const PURGEABLE = new Set(['processed', 'duplicate', 'ignored']);
/** States a person may still act on: raw bytes are kept (moved out of the segment). */
const KEEP = new Set(['review', 'quarantined', 'failed', 'dead']);

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
  const repo = store.retention;
  const cursor = store.cursor();
  // Only segments the database fully covers and the journal no longer writes.
  const limit = Math.min(spool.journal.currentSegment, cursor.segment);

  for (const segment of await spool.journal.segments()) {
    if (segment >= limit) break;
    const rows = repo.segmentRows(segment);
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
      repo.markKept(r.id, await spool.keep(rawLocation(r)));
      report.rawKept += 1;
    }
    repo.markPurged(
      toPurge.map((r) => r.id),
      now,
    );
    report.rawPurged += toPurge.length;
    await spool.journal.removeSegment(segment);
    report.segmentsDeleted += 1;
  }

  // Kept files whose message has since been settled and aged (e.g. review marked handled).
  for (const r of repo.keptRows()) {
    const settled =
      (PURGEABLE.has(r.state) || (r.state === 'review' && r.handled_at !== null)) &&
      (r.handled_at ?? r.processed_at ?? now) < rawCutoff;
    if (!settled) continue;
    report.keptFilesDeleted += 1;
    if (opts.dryRun) continue;
    await fsp.rm(r.raw_path!, { force: true });
    repo.markPurged([r.id], now);
  }

  report.personalErased = erasePersonalData(store, policy.personalDays, now, opts.dryRun ?? false);
  return report;
}

/** Erases guest names, phones and notes older than the window; returns the reservations touched (or, dry, that would be). */
function erasePersonalData(store: Store, personalDays: number, now: number, dryRun: boolean): number {
  const cutoffMs = now - personalDays * DAY_MS;
  // visit_date is a Japanese local date; a day of slack keeps this simple and never early.
  const cutoff = { date: new Date(cutoffMs - DAY_MS).toISOString().slice(0, 10), ms: cutoffMs };
  return dryRun ? store.retention.countPersonal(cutoff) : store.retention.erasePersonal(cutoff);
}
