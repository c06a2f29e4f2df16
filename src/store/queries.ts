/**
 * Read queries and operator actions behind the HTTP API: filtered, keyset-
 * paginated lists of reservations, messages and deliveries, details, and the
 * two message actions (replay, mark handled). Filters are whitelisted columns
 * with bound parameters — no caller text ever becomes SQL.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.ts';
import type {
  DeliveryFilter,
  DeliveryRow,
  EventRow,
  MessageFilter,
  MessageRow,
  Page,
  ReservationFilter,
  ReservationRow,
} from './rows.ts';

type Params = Record<string, string | number>;

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export class Queries {
  private readonly stmts;
  /** Filter combinations are few (a handful of optional columns): prepare each once. */
  private readonly cache = new Map<string, Statement>();

  constructor(private readonly db: Db) {
    this.stmts = {
      reservation: db.prepare('SELECT * FROM reservations WHERE id = ?'),
      eventsOf: db.prepare('SELECT * FROM reservation_events WHERE reservation = ? ORDER BY id'),
      eventsOfMessage: db.prepare('SELECT * FROM reservation_events WHERE message = ? ORDER BY id'),
      deliveriesOfEvents: db.prepare(
        `SELECT * FROM deliveries WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY seq`,
      ),
      deliveriesOfMessage: db.prepare('SELECT * FROM deliveries WHERE message = ? ORDER BY seq'),
      message: db.prepare('SELECT * FROM messages WHERE id = ?'),
      delivery: db.prepare('SELECT * FROM deliveries WHERE id = ?'),
      replay: db.prepare(
        `UPDATE messages SET state = 'pending', attempts = 0, next_attempt_at = 0, error_code = NULL, error = NULL WHERE id = ? AND state != 'pending'`,
      ),
      handled: db.prepare('UPDATE messages SET handled_at = ? WHERE id = ?'),
      clearReview: db.prepare(
        `UPDATE reservations SET needs_review = 0, review_reasons = '[]', updated_at = ? WHERE last_message = ? AND needs_review = 1`,
      ),
    };
  }

  reservation(id: number): ReservationRow | undefined {
    return this.stmts.reservation.get(id) as ReservationRow | undefined;
  }

  events(reservationRowId: number): EventRow[] {
    return this.stmts.eventsOf.all(reservationRowId) as EventRow[];
  }

  eventsOfMessage(messageId: string): EventRow[] {
    return this.stmts.eventsOfMessage.all(messageId) as EventRow[];
  }

  deliveriesOfEvents(eventIds: number[]): DeliveryRow[] {
    return eventIds.length === 0 ? [] : (this.stmts.deliveriesOfEvents.all(JSON.stringify(eventIds)) as DeliveryRow[]);
  }

  deliveriesOfMessage(messageId: string): DeliveryRow[] {
    return this.stmts.deliveriesOfMessage.all(messageId) as DeliveryRow[];
  }

  delivery(id: string): DeliveryRow | undefined {
    return this.stmts.delivery.get(id) as DeliveryRow | undefined;
  }

  message(id: string): MessageRow | undefined {
    return this.stmts.message.get(id) as MessageRow | undefined;
  }

  /** Newest first (by row id). */
  reservations(f: ReservationFilter, limit: number, after: (string | number)[] | null): Page<ReservationRow> {
    const where: string[] = [];
    const p: Params = {};
    const eq = (col: string, key: string, v: string | number | undefined) => {
      if (v === undefined) return;
      where.push(`${col} = @${key}`);
      p[key] = v;
    };
    eq('store', 'store', f.store);
    eq('source', 'source', f.source);
    eq('status', 'status', f.status);
    if (f.needsReview !== undefined) eq('needs_review', 'needsReview', f.needsReview ? 1 : 0);
    if (f.visitFrom) {
      where.push('visit_date >= @visitFrom');
      p.visitFrom = f.visitFrom;
    }
    if (f.visitTo) {
      where.push('visit_date <= @visitTo');
      p.visitTo = f.visitTo;
    }
    if (f.q) {
      const like = `%${likeEscape(f.q)}%`;
      const digits = f.q.replace(/\D/g, '');
      where.push(
        `(guest_name LIKE @q ESCAPE '\\' OR guest_name_kana LIKE @q ESCAPE '\\' OR reservation_id LIKE @q ESCAPE '\\' OR REPLACE(guest_name, ' ', '') LIKE @qTight ESCAPE '\\'${digits.length >= 3 ? ' OR phone LIKE @qDigits' : ''})`,
      );
      p.q = like;
      p.qTight = `%${likeEscape(f.q.replace(/[\s\u3000]+/g, ''))}%`;
      if (digits.length >= 3) p.qDigits = `%${digits}%`;
    }
    if (after) {
      where.push('id < @afterId');
      p.afterId = Number(after[0]);
    }
    return this.page<ReservationRow>('reservations', where, p, 'id DESC', limit, (r) => [r.id]);
  }

  /** Newest first (received_at, then id). */
  messages(f: MessageFilter, limit: number, after: (string | number)[] | null): Page<MessageRow> {
    const where: string[] = [];
    const p: Params = {};
    for (const key of ['state', 'kind', 'source', 'store', 'event'] as const) {
      if (f[key] !== undefined) {
        where.push(`${key} = @${key}`);
        p[key] = f[key]!;
      }
    }
    if (f.reason !== undefined) {
      where.push('error_code = @reason');
      p.reason = f.reason;
    }
    if (f.handled !== undefined) where.push(f.handled ? 'handled_at IS NOT NULL' : 'handled_at IS NULL');
    if (f.receivedFrom !== undefined) {
      where.push('received_at >= @receivedFrom');
      p.receivedFrom = f.receivedFrom;
    }
    if (f.receivedTo !== undefined) {
      where.push('received_at <= @receivedTo');
      p.receivedTo = f.receivedTo;
    }
    if (after) {
      where.push('(received_at < @afterT OR (received_at = @afterT AND id < @afterId))');
      p.afterT = Number(after[0]);
      p.afterId = String(after[1]);
    }
    return this.page<MessageRow>('messages', where, p, 'received_at DESC, id DESC', limit, (r) => [
      r.received_at,
      r.id,
    ]);
  }

  /** Newest first (enqueue order). */
  deliveries(f: DeliveryFilter, limit: number, after: (string | number)[] | null): Page<DeliveryRow> {
    const where: string[] = [];
    const p: Params = {};
    for (const key of ['state', 'endpoint', 'event', 'reservation', 'message'] as const) {
      if (f[key] !== undefined) {
        where.push(`${key} = @${key}`);
        p[key] = f[key]!;
      }
    }
    if (after) {
      where.push('seq < @afterSeq');
      p.afterSeq = Number(after[0]);
    }
    return this.page<DeliveryRow>('deliveries', where, p, 'seq DESC', limit, (r) => [r.seq]);
  }

  private page<T>(
    table: string,
    where: string[],
    p: Params,
    order: string,
    limit: number,
    key: (row: T) => (string | number)[],
  ): Page<T> {
    const sql = `SELECT * FROM ${table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${Math.floor(limit) + 1}`;
    let stmt = this.cache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.cache.set(sql, stmt);
    }
    const rows = stmt.all(p) as T[];
    const more = rows.length > limit;
    if (more) rows.length = limit;
    return { rows, after: more && rows.length > 0 ? key(rows.at(-1)!) : null };
  }

  /**
   * Puts a message back in the processing queue (attempts reset). Idempotent
   * downstream: reservation events and deliveries already written are not
   * written again. False when it is already pending.
   */
  replay(id: string): boolean {
    return this.stmts.replay.run(id).changes > 0;
  }

  /**
   * Records that a person dealt with this message (a review or verification
   * mail); a reservation whose current state came from it no longer needs review.
   */
  markHandled(id: string, now: number): void {
    this.db.transaction(() => {
      this.stmts.handled.run(now, id);
      this.stmts.clearReview.run(now, id);
    })();
  }
}
