/**
 * The dashboard's read view (`GET /api/overview`): freshness per store and
 * source, counts per arrival hour, and the unhandled mail a person has to
 * look at. Read-only; each question is bounded by `messages_received` or
 * `messages_state`.
 */
import type { Db } from './db.ts';
import type { HourRow, OpenRow, SeriesRow } from './rows.ts';
import { FAILED_STATES, sqlList } from './states.ts';
import { HOUR_MS } from '../shared/time.ts';

export class DashboardView {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      series: db.prepare(
        `SELECT store, source, MAX(received_at) AS last_received,
                MAX(CASE WHEN kind = 'reservation' AND state IN ('processed', 'review') THEN processed_at END) AS last_imported,
                SUM(received_at >= @dayAgo) AS received_24h
         FROM messages WHERE received_at >= @since AND quarantined = 0
         GROUP BY store, source ORDER BY store, source`,
      ),
      hourly: db.prepare(
        `SELECT received_at / ${HOUR_MS} AS hour, COUNT(*) AS received,
                SUM(kind = 'reservation' AND state IN ('processed', 'review')) AS imported,
                SUM(state IN ${sqlList(FAILED_STATES)}) AS failed
         FROM messages WHERE received_at >= ? AND received_at < ? GROUP BY hour`,
      ),
      // Unhandled mail a person has to look at (the states are indexed; the sets are small).
      open: db.prepare(
        `SELECT state, kind = 'verification' AS verification, COUNT(*) AS n FROM messages
         WHERE state IN ('review', 'dead') AND handled_at IS NULL GROUP BY state, verification`,
      ),
    };
  }

  /** Per (store, source) with mail since `since`: last arrival, last import, arrivals since `dayAgo`. */
  series(since: number, dayAgo: number): SeriesRow[] {
    return this.stmts.series.all({ since, dayAgo }) as SeriesRow[];
  }

  /** Received, imported and failed counts per arrival hour in [from, to). */
  hourly(from: number, to: number): HourRow[] {
    return this.stmts.hourly.all(from, to) as HourRow[];
  }

  /** Unhandled review and dead mail, verification mails counted apart. */
  open(): OpenRow[] {
    return this.stmts.open.all() as OpenRow[];
  }
}
