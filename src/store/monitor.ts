/**
 * The monitor's read view: the read-only questions the watchdogs (and the
 * metrics seeded at start-up) ask the database. They never write, and each is
 * bounded by an index (`messages_received`, `messages_state`); the hot ones
 * are pinned by test/store/plans.test.ts.
 */
import type { Db } from './db.ts';
import type { ActivityRow, SourceOutcomeRow } from './rows.ts';
import { UNFINISHED_STATES, WAITING_STATES, sqlList } from './states.ts';
import { HOUR_MS } from '../shared/time.ts';

export class MonitorView {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      first: db.prepare('SELECT MIN(received_at) AS t FROM messages WHERE quarantined = 0'),
      hourly: db.prepare(
        `SELECT source, store, state IN ${sqlList(WAITING_STATES)} AS waiting, received_at / ${HOUR_MS} AS hour, COUNT(*) AS n, MAX(received_at) AS last
         FROM messages WHERE received_at >= ? AND received_at < ? AND quarantined = 0 GROUP BY source, store, waiting, hour`,
      ),
      recent: db.prepare(
        `SELECT source, store, state IN ${sqlList(WAITING_STATES)} AS waiting, NULL AS hour, COUNT(*) AS n, MAX(received_at) AS last
         FROM messages WHERE received_at >= ? AND quarantined = 0 GROUP BY source, store, waiting`,
      ),
      lastProcessedBySource: db.prepare(
        `SELECT source, MAX(processed_at) AS t FROM messages WHERE source IS NOT NULL AND processed_at IS NOT NULL AND state NOT IN ${sqlList(UNFINISHED_STATES)} GROUP BY source`,
      ),
      oldestWaiting: db.prepare(`SELECT MIN(received_at) AS t FROM messages WHERE state IN ${sqlList(WAITING_STATES)}`),
      deadUnhandled: db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE state = 'dead' AND handled_at IS NULL`),
      // Not a complete reservation: a reservation mail that needs review, or a
      // mail from the site that no rule recognised. Digests, verifications,
      // duplicates and quarantined mail are neither success nor failure.
      sourceOutcomes: db.prepare(
        `SELECT source, COUNT(*) AS total,
                SUM(CASE WHEN (kind = 'reservation' AND state = 'review') OR kind = 'unknown' THEN 1 ELSE 0 END) AS failed
         FROM messages INDEXED BY messages_received -- the window, not every row of a site (no ANALYZE statistics here)
         WHERE received_at >= ? AND source IS NOT NULL AND kind IN ('reservation', 'unknown') AND state NOT IN ('pending', 'failed', 'duplicate', 'quarantined')
         GROUP BY source`,
      ),
      canary: db.prepare(
        `SELECT MAX(received_at) AS t FROM messages
         WHERE received_at >= @since AND state NOT IN ${sqlList(WAITING_STATES)} AND (
           (@address IS NOT NULL AND (instr(lower(rcpt_to), '"' || @address || '"') > 0 OR lower(mail_from) = @address
             OR lower(json_extract(meta, '$.from.address')) = @address OR lower(json_extract(meta, '$.innerFrom.address')) = @address))
           OR (@subject IS NOT NULL AND instr(json_extract(meta, '$.subject'), @subject) > 0))`,
      ),
    };
  }

  /** When the first (non-quarantined) message arrived; null on an empty database. */
  firstReceivedAt(): number | null {
    return (this.stmts.first.get() as { t: number | null }).t;
  }

  /** Message counts per series and arrival hour in [from, to). */
  hourly(from: number, to: number): ActivityRow[] {
    return this.stmts.hourly.all(from, to) as ActivityRow[];
  }

  /** Last arrival per series since `since`. */
  recent(since: number): ActivityRow[] {
    return this.stmts.recent.all(since) as ActivityRow[];
  }

  /** When each source last had a message processed. */
  lastProcessedBySource(): { source: string; t: number }[] {
    return this.stmts.lastProcessedBySource.all() as { source: string; t: number }[];
  }

  oldestWaitingAt(): number | null {
    return (this.stmts.oldestWaiting.get() as { t: number | null }).t;
  }

  deadUnhandled(): number {
    return (this.stmts.deadUnhandled.get() as { n: number }).n;
  }

  sourceOutcomes(since: number): SourceOutcomeRow[] {
    return this.stmts.sourceOutcomes.all(since) as SourceOutcomeRow[];
  }

  /** Arrival of the newest processed canary mail since `since`. */
  lastCanary(since: number, address: string | null, subject: string | null): number | null {
    return (this.stmts.canary.get({ since, address: address?.toLowerCase() ?? null, subject }) as { t: number | null })
      .t;
  }
}
