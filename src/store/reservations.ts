/**
 * The reservations repository: reservations keyed by site + the site's own
 * id, and their event history. Only `Store.applyOutcome` writes here, inside
 * its transaction; the rules (docs/architecture.md, "Idempotency rules"):
 *
 * - one event row per (message, reservation, event) — applying the same
 *   outcome again writes nothing, unless a replay with a changed extraction
 *   gives a reason;
 * - an older mail (by its Date) never rolls a newer state back: its event is
 *   kept as history with `applied = 0`;
 * - a change or cancel for an unknown reservation creates it, flagged for review.
 */
import type { Db } from './db.ts';
import type { AppliedEvent, Outcome, ReservationRow, WorkRow } from './rows.ts';

const STATUS_BY_EVENT: Record<string, string> = {
  new: 'booked',
  change: 'booked',
  request: 'requested',
  cancel: 'cancelled',
};

export class Reservations {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      findReservation: db.prepare('SELECT * FROM reservations WHERE source = ? AND reservation_id = ?'),
      get: db.prepare('SELECT * FROM reservations WHERE id = ?'),
      eventExists: db.prepare('SELECT id FROM reservation_events WHERE message = ? AND reservation = ? AND event = ?'),
      insertReservation: db.prepare(
        `INSERT INTO reservations (source, reservation_id, store, status, visit_date, visit_time, party_size, guest_name, guest_name_kana, phone, course, seats, notes, store_name, needs_review, review_reasons, last_message, last_sent_at, created_at, updated_at)
         VALUES (@source, @reservation_id, @store, @status, @visit_date, @visit_time, @party_size, @guest_name, @guest_name_kana, @phone, @course, @seats, @notes, @store_name, @needs_review, @review_reasons, @last_message, @last_sent_at, @now, @now)`,
      ),
      updateReservation: db.prepare(
        `UPDATE reservations SET store = COALESCE(@store, store), status = @status, visit_date = COALESCE(@visit_date, visit_date), visit_time = COALESCE(@visit_time, visit_time),
           party_size = COALESCE(@party_size, party_size), guest_name = COALESCE(@guest_name, guest_name), guest_name_kana = COALESCE(@guest_name_kana, guest_name_kana),
           phone = COALESCE(@phone, phone), course = COALESCE(@course, course), seats = COALESCE(@seats, seats), notes = COALESCE(@notes, notes),
           store_name = COALESCE(@store_name, store_name), needs_review = @needs_review, review_reasons = @review_reasons, last_message = @last_message,
           last_sent_at = @last_sent_at, updated_at = @now WHERE id = @id`,
      ),
      insertEvent: db.prepare(
        `INSERT INTO reservation_events (reservation, message, event, sent_at, applied, changes, extraction, reason, created_at)
         VALUES (@reservation, @message, @event, @sent_at, @applied, @changes, @extraction, @reason, @now)`,
      ),
    };
  }

  /** The reservation row as it is now (inside a transaction: right after an event's update). */
  get(rowId: number): ReservationRow | undefined {
    return this.stmts.get.get(rowId) as ReservationRow | undefined;
  }

  /**
   * Records a reservation mail's event (the outcome has a source, a reservation
   * id and an event). Returns the event row written, or null when this message
   * already recorded it and no replay reason asks for a new one. Call inside a
   * transaction.
   */
  apply(row: WorkRow, o: Outcome, now: number, replayReason: string | null): AppliedEvent | null {
    const x = o.extraction;
    const existing = this.stmts.findReservation.get(x.source, x.reservationId) as
      | { id: number; status: string; last_sent_at: number | null; needs_review: number; review_reasons: string }
      | undefined;
    const reasons = [...x.reviewReasons];
    if (!existing && (x.event === 'change' || x.event === 'cancel')) reasons.push(`unknown-reservation:${x.event}`);
    const fields = {
      store: row.store,
      status: STATUS_BY_EVENT[x.event!]!,
      visit_date: x.visitDate,
      visit_time: x.visitTime,
      party_size: x.partySize,
      guest_name: x.guestName,
      guest_name_kana: x.guestNameKana,
      phone: x.phone,
      course: x.course,
      seats: x.seats,
      notes: x.notes,
      store_name: x.storeName,
      needs_review: reasons.length > 0 || x.needsReview ? 1 : 0,
      review_reasons: JSON.stringify(reasons),
      last_message: row.id,
      last_sent_at: o.sentAt ?? row.received_at,
      now,
    };
    let reservationRowId: number;
    let applied = true;
    if (!existing) {
      reservationRowId = Number(
        this.stmts.insertReservation.run({ ...fields, source: x.source, reservation_id: x.reservationId })
          .lastInsertRowid,
      );
    } else {
      reservationRowId = existing.id;
      if (!replayReason && this.stmts.eventExists.get(row.id, reservationRowId, x.event) !== undefined) return null;
      // An older mail (by its Date) never rolls a newer state back; it is kept as history.
      applied = existing.last_sent_at === null || fields.last_sent_at >= existing.last_sent_at;
      if (applied) this.stmts.updateReservation.run({ ...fields, id: reservationRowId });
    }
    const ev = this.stmts.insertEvent.run({
      reservation: reservationRowId,
      message: row.id,
      event: x.event,
      sent_at: o.sentAt,
      applied: applied ? 1 : 0,
      changes: JSON.stringify(x.changes),
      extraction: JSON.stringify(x),
      reason: applied ? replayReason : 'older than the current state',
      now,
    });
    return { eventId: Number(ev.lastInsertRowid), reservationRowId, event: x.event!, applied };
  }
}
