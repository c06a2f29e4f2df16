/**
 * What a webhook says: the JSON body (fixed when the delivery is enqueued, so
 * every retry sends the same bytes) and the idempotency key, which depends
 * only on the mail and the event — never on the node, the endpoint or the
 * attempt — so two MX nodes that both took the same mail produce the same key.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Extraction } from '../extract/types.ts';
import type { RecordedEvent, ReservationRow } from '../store/index.ts';

export const WEBHOOK_EVENTS = [
  'reservation.new',
  'reservation.change',
  'reservation.cancel',
  'reservation.request',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The reservation fields a webhook carries, named as in the extraction JSON. */
type ReservationFields =
  | 'visitDate'
  | 'visitTime'
  | 'partySize'
  | 'guestName'
  | 'guestNameKana'
  | 'phone'
  | 'course'
  | 'seats'
  | 'notes'
  | 'storeName'
  | 'needsReview'
  | 'reviewReasons';

/** The reservation as it stands after the event (the state a receiver should mirror). */
export interface WebhookReservation extends Pick<Extraction, ReservationFields> {
  source: string;
  reservationId: string;
  store: string | null;
  status: string;
}

export interface WebhookPayload {
  /** Delivery id (also `X-OTA-Delivery-Id`): one per event × endpoint × node. */
  id: string;
  event: WebhookEvent;
  /** The mail's Date header (ISO 8601 UTC), or when it was received when it has none. */
  occurredAt: string;
  /** False when this mail was older than the reservation's current state (kept as history; `reservation` did not change). */
  applied: boolean;
  /** Set when a replay with a changed extraction (a parser fix) recorded this event again: a correction of an earlier delivery. */
  replayReason: string | null;
  reservation: WebhookReservation;
  store: string | null;
  source: string;
  message: { spoolId: string; messageId: string | null; receivedAt: string };
  extraction: Extraction;
}

/** A delivery id: `dlv_` + 128 random bits (unique across nodes, unlike a row number). */
export function newDeliveryId(): string {
  return `dlv_${randomBytes(16).toString('hex')}`;
}

/**
 * The idempotency key: SHA-256 over the source message's identity (its
 * Message-ID, else its content hash, else — never in practice — its spool id),
 * the source, the site's reservation id and the event. An event recorded
 * again by a replay whose extraction changed (a parser fix) is a correction,
 * not a repeat: its key also covers the new extraction, so receivers do not
 * drop it — and two nodes replaying to the same result still agree.
 */
export function idempotencyKey(e: {
  source: string;
  reservationId: string;
  event: string;
  messageId: string | null;
  contentHash: string | null;
  spoolId: string;
  /** The extraction, for events recorded by a replay with a changed extraction. */
  revision?: Extraction | null;
}): string {
  const identity = e.messageId
    ? `mid:${e.messageId}`
    : e.contentHash
      ? `sha256:${e.contentHash}`
      : `spool:${e.spoolId}`;
  const parts = ['ota-inbound/1', identity, e.source, e.reservationId, e.event];
  if (e.revision) parts.push(`revision:${createHash('sha256').update(JSON.stringify(e.revision)).digest('hex')}`);
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

export function webhookReservation(r: ReservationRow): WebhookReservation {
  return {
    source: r.source,
    reservationId: r.reservation_id,
    store: r.store,
    status: r.status,
    visitDate: r.visit_date,
    visitTime: r.visit_time,
    partySize: r.party_size,
    guestName: r.guest_name,
    guestNameKana: r.guest_name_kana,
    phone: r.phone,
    course: r.course,
    seats: r.seats,
    notes: r.notes,
    storeName: r.store_name,
    needsReview: r.needs_review === 1,
    reviewReasons: JSON.parse(r.review_reasons) as string[],
  };
}

/** The payload of one delivery of a just-recorded event. */
export function buildPayload(id: string, e: RecordedEvent, reservation: ReservationRow): WebhookPayload {
  const x = e.outcome.extraction;
  return {
    id,
    event: `reservation.${e.event}` as WebhookEvent,
    occurredAt: new Date(e.outcome.sentAt ?? e.row.received_at).toISOString(),
    applied: e.applied,
    replayReason: e.replayReason,
    reservation: webhookReservation(reservation),
    store: e.row.store,
    source: reservation.source,
    message: {
      spoolId: e.row.id,
      messageId: e.outcome.messageId,
      receivedAt: new Date(e.row.received_at).toISOString(),
    },
    extraction: x,
  };
}
