/**
 * The webhook outbox's SQL (deliveries table, migration 002). The deliver/
 * module decides what to send and when (and, as OutboxWriter, what to queue
 * for a recorded event); this file only reads and writes rows.
 *
 * Ordering rule: per (reservation, endpoint) only the earliest pending
 * delivery (lowest seq) is ever due — later ones wait behind it. Delivered
 * and dead rows do not block.
 */
import type { Db } from './db.ts';
import type { AttemptRecord, DeliveryRow, NewDelivery, ReservationRow } from './rows.ts';

/** The earliest pending delivery of its (reservation, endpoint) chain. */
const HEAD = `NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.reservation = d.reservation AND e.endpoint = d.endpoint AND e.state = 'pending' AND e.seq < d.seq)`;

export class Outbox {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      insert: db.prepare(
        `INSERT OR IGNORE INTO deliveries (id, event_id, reservation, message, endpoint, event, idempotency_key, payload, next_attempt_at, expires_at, created_at)
         VALUES (@id, @event_id, @reservation, @message, @endpoint, @event, @idempotency_key, @payload, @next_attempt_at, @expires_at, @created_at)`,
      ),
      reservation: db.prepare('SELECT * FROM reservations WHERE id = ?'),
      due: db.prepare(
        `SELECT d.* FROM deliveries d WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND ${HEAD} ORDER BY d.next_attempt_at, d.seq LIMIT ?`,
      ),
      lease: db.prepare(`UPDATE deliveries SET next_attempt_at = ? WHERE id = ? AND state = 'pending'`),
      nextDue: db.prepare(`SELECT MIN(d.next_attempt_at) AS t FROM deliveries d WHERE d.state = 'pending' AND ${HEAD}`),
      delivered: db.prepare(
        `UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_attempt_at = @now, last_status = @status, last_duration_ms = @durationMs,
           last_error_code = NULL, last_error = NULL, delivered_at = @now WHERE id = @id AND state = 'pending'`,
      ),
      retry: db.prepare(
        `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = @next, last_attempt_at = @now, last_status = @status, last_duration_ms = @durationMs,
           last_error_code = @code, last_error = @error WHERE id = @id AND state = 'pending'`,
      ),
      dead: db.prepare(
        `UPDATE deliveries SET state = 'dead', attempts = attempts + @counted, last_attempt_at = COALESCE(@attemptAt, last_attempt_at), last_status = @status,
           last_duration_ms = @durationMs, last_error_code = @code, last_error = @error, dead_at = @now WHERE id = @id AND state = 'pending'`,
      ),
      redeliver: db.prepare(
        `UPDATE deliveries SET state = 'pending', next_attempt_at = @now, expires_at = @expires, dead_at = NULL WHERE id = @id AND state != 'pending'`,
      ),
      get: db.prepare('SELECT * FROM deliveries WHERE id = ?'),
      pendingStats: db.prepare(
        `SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE state = 'pending'`,
      ),
      deadCount: db.prepare(`SELECT COUNT(*) AS n FROM deliveries WHERE state = 'dead'`),
    };
  }

  /** Adds one delivery; a second insert for the same (event, endpoint) is a no-op (replays). */
  insert(d: NewDelivery): boolean {
    return this.stmts.insert.run(d).changes > 0;
  }

  /** The reservation row as it is now (inside the caller's transaction: right after the event's update). */
  reservation(rowId: number): ReservationRow | undefined {
    return this.stmts.reservation.get(rowId) as ReservationRow | undefined;
  }

  /**
   * Takes up to `limit` due chain heads and leases them until `leaseUntil`
   * (their next_attempt_at moves there), so they are not taken twice and are
   * retried after a crash mid-attempt.
   */
  claim(now: number, limit: number, leaseUntil: number): DeliveryRow[] {
    if (limit <= 0) return [];
    return this.db.transaction(() => {
      const rows = this.stmts.due.all(now, limit) as DeliveryRow[];
      for (const r of rows) this.stmts.lease.run(leaseUntil, r.id);
      return rows;
    })();
  }

  /** When the next chain head becomes due (ms), or null when nothing is pending. */
  nextDueAt(): number | null {
    return (this.stmts.nextDue.get() as { t: number | null }).t;
  }

  markDelivered(a: AttemptRecord): boolean {
    return this.stmts.delivered.run({ id: a.id, now: a.now, status: a.status, durationMs: a.durationMs }).changes > 0;
  }

  markRetry(a: AttemptRecord & { next: number }): boolean {
    return (
      this.stmts.retry.run({
        id: a.id,
        now: a.now,
        status: a.status,
        durationMs: a.durationMs,
        code: a.code ?? null,
        error: a.error ?? null,
        next: a.next,
      }).changes > 0
    );
  }

  /** Dead letter; `attempted` false when no request was made (e.g. its endpoint is no longer configured). */
  markDead(a: AttemptRecord & { attempted?: boolean }): boolean {
    const attempted = a.attempted !== false;
    return (
      this.stmts.dead.run({
        id: a.id,
        now: a.now,
        counted: attempted ? 1 : 0,
        attemptAt: attempted ? a.now : null,
        status: a.status,
        durationMs: attempted ? a.durationMs : null,
        code: a.code ?? null,
        error: a.error ?? null,
      }).changes > 0
    );
  }

  /** Puts a dead or delivered delivery back in the queue, due now, with a fresh retry window. False when it is already pending. */
  redeliver(id: string, now: number, expiresAt: number): boolean {
    return this.stmts.redeliver.run({ id, now, expires: expiresAt }).changes > 0;
  }

  get(id: string): DeliveryRow | undefined {
    return this.stmts.get.get(id) as DeliveryRow | undefined;
  }

  /** Backlog figures for metrics. */
  stats(): { pending: number; oldestPendingAt: number | null; dead: number } {
    const p = this.stmts.pendingStats.get() as { n: number; oldest: number | null };
    return { pending: p.n, oldestPendingAt: p.oldest, dead: (this.stmts.deadCount.get() as { n: number }).n };
  }
}
