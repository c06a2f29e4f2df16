/**
 * Digests as a completeness check: a site's daily list (食べログ ネット予約一覧,
 * Retty 本日の予約) names the bookings it holds for a store and day; each one
 * we never imported is a notification that got lost somewhere — even when our
 * own pipeline saw nothing. No table of its own: the digest's list lives in
 * the message's `meta` JSON, the bookings in `reservations`; the comparison
 * is recomputed on demand, so a late notification clears its gap by itself.
 */
import type { Db } from './db.ts';
import { UNFINISHED_STATES, sqlList } from './states.ts';

// A digest counts once it is parsed, unless it is a copy of another or held in quarantine.
const NOT_OPEN = sqlList([...UNFINISHED_STATES, 'duplicate', 'quarantined']);

/** One booking as the list names it (AnalysisMeta.digest.entries). */
export interface ListedBooking {
  time: string | null;
  partySize: number | null;
  guestName: string | null;
}

/** The part of a digest the check needs. */
export interface DigestList {
  date: string | null;
  count: number | null;
  entries: ListedBooking[];
}

/** What the check found for one digest. */
export interface DigestGap {
  /** Bookings the list names that match no imported reservation, in list order. */
  missing: ListedBooking[];
  /**
   * How many bookings are missing: the unmatched entries, or — for a list that
   * gives only a count — how many the count exceeds the imported ones by.
   */
  missingCount: number;
  /** Active (not cancelled) reservations imported for that store, site and day. */
  imported: number;
}

/** Per source, how many listed bookings are missing over the open digests. */
export interface MissingBySource {
  source: string;
  missing: number;
}

/**
 * Reads, never writes. The reservations of one store, site and day are few
 * (a restaurant's day), and open digests are the unhandled ones of the
 * recent window, so both queries stay small.
 */
export class DigestChecks {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // A store-less (quarantine) digest compares with store-less reservations.
      imported: db.prepare(
        `SELECT visit_time, party_size FROM reservations
         WHERE source = @source AND store IS @store AND visit_date = @date AND status != 'cancelled'
         ORDER BY visit_time`,
      ),
      openDigests: db.prepare(
        `SELECT id, source, store, meta FROM messages INDEXED BY messages_received
         WHERE received_at >= ? AND kind = 'digest' AND handled_at IS NULL
           AND state NOT IN ${NOT_OPEN}`,
      ),
    };
  }

  /**
   * Compares one digest with the reservations imported for its store, site
   * and day. A listed booking matches an imported one with the same time and
   * party size (either side's party size may be unknown); each imported
   * reservation matches at most one listed booking. Names are not compared:
   * lists abbreviate them (`木村 様`).
   */
  check(source: string, store: string | null, list: DigestList): DigestGap {
    if (list.date === null) return { missing: [], missingCount: 0, imported: 0 };
    const rows = this.stmts.imported.all({ source, store, date: list.date }) as Array<{
      visit_time: string | null;
      party_size: number | null;
    }>;
    if (list.entries.length === 0) {
      const missingCount = list.count !== null ? Math.max(0, list.count - rows.length) : 0;
      return { missing: [], missingCount, imported: rows.length };
    }
    const used = new Set<number>();
    const missing: ListedBooking[] = [];
    for (const entry of list.entries) {
      const i = rows.findIndex(
        (r, k) =>
          !used.has(k) &&
          r.visit_time === entry.time &&
          (entry.partySize === null || r.party_size === null || r.party_size === entry.partySize),
      );
      if (i === -1) missing.push(entry);
      else used.add(i);
    }
    // A count above the list's own length means the list was cut short: that part is missing too.
    const beyond = list.count !== null ? Math.max(0, list.count - list.entries.length) : 0;
    return { missing, missingCount: missing.length + beyond, imported: rows.length };
  }

  /**
   * Missing bookings per source over the digests received since `since` (ms)
   * that no person has handled yet; sources without a gap are left out.
   */
  missingBySource(since: number): MissingBySource[] {
    const totals = new Map<string, number>();
    const rows = this.stmts.openDigests.all(since) as Array<{
      id: string;
      source: string | null;
      store: string | null;
      meta: string | null;
    }>;
    for (const row of rows) {
      if (row.source === null || row.meta === null) continue;
      const list = digestList(row.meta);
      if (list === null) continue;
      const gap = this.check(row.source, row.store, list);
      if (gap.missingCount > 0) totals.set(row.source, (totals.get(row.source) ?? 0) + gap.missingCount);
    }
    return [...totals].map(([source, missing]) => ({ source, missing }));
  }
}

/** The digest list of a message's `meta` JSON (an object or its text); null when it has none. */
export function digestList(meta: string | Record<string, unknown>): DigestList | null {
  let parsed: unknown = meta;
  if (typeof meta === 'string') {
    try {
      parsed = JSON.parse(meta);
    } catch {
      return null;
    }
  }
  const d = (parsed as { digest?: Partial<DigestList> | null } | null)?.digest;
  if (!d || typeof d !== 'object') return null;
  return {
    date: typeof d.date === 'string' ? d.date : null,
    count: typeof d.count === 'number' ? d.count : null,
    entries: Array.isArray(d.entries) ? d.entries : [],
  };
}

/** How a missing booking is named in a review reason: `missing-reservation:19:00 2名 山田 太郎`. */
export function describeMissing(entry: ListedBooking): string {
  return [
    'missing-reservation:' + (entry.time ?? '--:--'),
    entry.partySize !== null ? `${entry.partySize}名` : null,
    entry.guestName,
  ]
    .filter((s) => s !== null)
    .join(' ');
}
