/**
 * Retention's repository: the rows src/retention judges (where a message's
 * raw bytes are, whether it is settled) and the writes it decides on —
 * marking raw bytes kept or purged, erasing guests' personal data. The policy
 * (what is old enough, what a person may still need) stays in src/retention.
 */
import type { Db } from './db.ts';
import type { RetentionRow } from './rows.ts';

/** Extraction JSON fields erased with the reservation columns of the same data. */
const PERSONAL_FIELDS = ['guestName', 'guestNameKana', 'phone', 'notes'] as const;

/** Reservations past the window: a visit date before the cutoff date, or (without one) last updated before the cutoff. */
const PAST_WINDOW = `((visit_date IS NOT NULL AND visit_date < @date) OR (visit_date IS NULL AND updated_at < @ms))`;
const HAS_PERSONAL = `(guest_name IS NOT NULL OR guest_name_kana IS NOT NULL OR phone IS NOT NULL OR notes IS NOT NULL)`;
const scrub = (col: string) =>
  `${col} = CASE WHEN ${col} IS NULL THEN NULL ELSE json_set(${col}, ${PERSONAL_FIELDS.map((f) => `'$.${f}', NULL`).join(', ')}) END`;

/** The personal-data window's end: a visit date (Japanese local, `YYYY-MM-DD`) and a time (ms). */
export interface PersonalCutoff {
  date: string;
  ms: number;
}

export class RetentionRepo {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      segmentRows: db.prepare(
        'SELECT id, state, processed_at, handled_at, spool_segment, spool_offset, header_length, size, raw_path, raw_purged_at FROM messages WHERE spool_segment = ? AND raw_path IS NULL AND raw_purged_at IS NULL',
      ),
      keptRows: db.prepare(
        `SELECT id, state, processed_at, handled_at, spool_segment, spool_offset, header_length, size, raw_path, raw_purged_at FROM messages WHERE raw_path IS NOT NULL AND raw_purged_at IS NULL`,
      ),
      setKept: db.prepare('UPDATE messages SET raw_path = ? WHERE id = ?'),
      setPurged: db.prepare('UPDATE messages SET raw_purged_at = ? WHERE id = ?'),
      countPersonal: db.prepare(`SELECT COUNT(*) AS n FROM reservations WHERE ${PAST_WINDOW} AND ${HAS_PERSONAL}`),
      personal: db.prepare(`SELECT id FROM reservations WHERE ${PAST_WINDOW} AND ${HAS_PERSONAL}`),
      clear: db.prepare(
        `UPDATE reservations SET guest_name = NULL, guest_name_kana = NULL, phone = NULL, notes = NULL WHERE id = ?`,
      ),
      clearEvents: db.prepare(
        `UPDATE reservation_events SET ${scrub('extraction')}, changes = '{}' WHERE reservation = ?`,
      ),
      clearMessages: db.prepare(
        `UPDATE messages SET ${scrub('extraction')} WHERE id IN (SELECT message FROM reservation_events WHERE reservation = ?)`,
      ),
    };
  }

  /** Messages whose raw bytes are still in journal segment `segment` (not moved to kept/, not purged). */
  segmentRows(segment: number): RetentionRow[] {
    return this.stmts.segmentRows.all(segment) as RetentionRow[];
  }

  /** Messages whose raw bytes were moved to a kept file and not purged yet. */
  keptRows(): RetentionRow[] {
    return this.stmts.keptRows.all() as RetentionRow[];
  }

  /** The message's raw bytes now live in the file `rawPath`. */
  markKept(id: string, rawPath: string): void {
    this.stmts.setKept.run(rawPath, id);
  }

  /** The messages' raw bytes are gone (segment deleted or kept file removed), in one transaction. */
  markPurged(ids: readonly string[], now: number): void {
    this.db.transaction(() => {
      for (const id of ids) this.stmts.setPurged.run(now, id);
    })();
  }

  /** How many reservations past the window still hold personal data. */
  countPersonal(cutoff: PersonalCutoff): number {
    return (this.stmts.countPersonal.get(cutoff) as { n: number }).n;
  }

  /**
   * Erases guest names, kana, phones and notes from the reservations past the
   * window, their events and their messages' stored extractions, in one
   * transaction; returns the reservations touched.
   */
  erasePersonal(cutoff: PersonalCutoff): number {
    return this.db.transaction(() => {
      const ids = this.stmts.personal.all(cutoff) as { id: number }[];
      for (const { id } of ids) {
        this.stmts.clear.run(id);
        this.stmts.clearEvents.run(id);
        this.stmts.clearMessages.run(id);
      }
      return ids.length;
    })();
  }
}
