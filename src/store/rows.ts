/**
 * Every row and record type the store hands out or takes in, in one file.
 * The repositories (messages in index.ts, reservations.ts, outbox.ts) and the
 * read views (queries.ts, monitor.ts, dashboard.ts, retention.ts,
 * selection.ts) import their types from here and from nowhere else in
 * store/, so no two store files depend on each other for a type.
 *
 * Column names are the database's (snake_case); callers outside store/ turn
 * them into the public JSON shapes (src/http, src/deliver).
 */
import type { Extraction } from '../extract/types.ts';
import type { AuthResult } from '../auth/index.ts';
import type { MessageState } from './states.ts';

/** One row of `messages`: a spooled mail and what processing made of it. */
export interface MessageRow {
  id: string;
  received_at: number;
  spool_segment: number;
  spool_offset: number;
  header_length: number;
  size: number;
  mail_from: string | null;
  rcpt_to: string;
  client_ip: string;
  helo: string | null;
  tls: string | null;
  store: string | null;
  quarantined: number;
  /** Why it was quarantined at RCPT time (`unknown-recipient`, `revoked-store`, `postmaster`, …); NULL for older rows. */
  quarantine_reason: string | null;
  state: MessageState;
  attempts: number;
  next_attempt_at: number;
  error_code: string | null;
  error: string | null;
  message_id: string | null;
  sent_at: number | null;
  content_hash: string | null;
  kind: string | null;
  source: string | null;
  event: string | null;
  extraction: string | null;
  meta: string | null;
  duplicate_of: string | null;
  processed_at: number | null;
  handled_at: number | null;
  raw_path: string | null;
  raw_purged_at: number | null;
  /** Sender authentication results (JSON AuthResult), NULL until processed. */
  auth: string | null;
}

/** The columns processing needs: what the pipeline carries per message in flight. */
export const WORK_COLUMNS = [
  'id',
  'received_at',
  'spool_segment',
  'spool_offset',
  'header_length',
  'size',
  'raw_path',
  'raw_purged_at',
  'store',
  'quarantined',
  'attempts',
  'client_ip',
  'helo',
  'mail_from',
  'auth',
  'error_code',
] as const;
export type WorkRow = Pick<MessageRow, (typeof WORK_COLUMNS)[number]>;

/** A message row as the reconciler compares it with its journal segment. */
export type SegmentRow = Pick<
  MessageRow,
  'id' | 'spool_offset' | 'header_length' | 'raw_path' | 'raw_purged_at' | 'state'
>;

/** One row of `reservations`: a booking at its latest-dated state. */
export interface ReservationRow {
  id: number;
  source: string;
  reservation_id: string;
  store: string | null;
  status: string;
  visit_date: string | null;
  visit_time: string | null;
  party_size: number | null;
  guest_name: string | null;
  guest_name_kana: string | null;
  phone: string | null;
  course: string | null;
  seats: string | null;
  notes: string | null;
  store_name: string | null;
  needs_review: number;
  review_reasons: string;
  last_message: string;
  last_sent_at: number | null;
  created_at: number;
  updated_at: number;
}

/** One row of `reservation_events`: what one mail did (or, when older, would have done) to a reservation. */
export interface EventRow {
  id: number;
  reservation: number;
  message: string;
  event: string;
  sent_at: number | null;
  applied: number;
  changes: string;
  extraction: string;
  reason: string | null;
  created_at: number;
}

export const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** One row of `deliveries`: one webhook delivery of one reservation event to one endpoint. */
export interface DeliveryRow {
  seq: number;
  id: string;
  event_id: number;
  reservation: number;
  message: string;
  endpoint: string;
  event: string;
  idempotency_key: string;
  payload: string;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: number;
  expires_at: number;
  last_attempt_at: number | null;
  last_status: number | null;
  last_error_code: string | null;
  last_error: string | null;
  last_duration_ms: number | null;
  delivered_at: number | null;
  dead_at: number | null;
  created_at: number;
}

export type NewDelivery = Pick<
  DeliveryRow,
  | 'id'
  | 'event_id'
  | 'reservation'
  | 'message'
  | 'endpoint'
  | 'event'
  | 'idempotency_key'
  | 'payload'
  | 'next_attempt_at'
  | 'expires_at'
  | 'created_at'
>;

/** What one webhook attempt came to (the outbox records it on the delivery). */
export interface AttemptRecord {
  id: string;
  now: number;
  status: number | null;
  durationMs: number;
  code?: string | null;
  error?: string | null;
}

/** What processing made of one message (from a parser worker). */
export interface Outcome {
  id: string;
  messageId: string | null;
  sentAt: number | null;
  contentHash: string | null;
  subject: string | null;
  extraction: Extraction;
  meta: Record<string, unknown>;
  /** Sender authentication (SPF/DKIM/DMARC/ARC and the site verdict); absent keeps the stored one. */
  auth?: AuthResult | null;
}

/** A reservation event row `applyOutcome` has just written. */
export interface AppliedEvent {
  eventId: number;
  reservationRowId: number;
  event: string;
  applied: boolean;
}

/**
 * A reservation event just written, with what its webhook needs: the message
 * and outcome it came from. `applyOutcome` returns these; the caller writes
 * their outbox rows in the same transaction (src/deliver OutboxWriter).
 */
export interface RecordedEvent extends AppliedEvent {
  row: WorkRow;
  outcome: Outcome;
  /** Set when a replay with a changed extraction recorded this event again. */
  replayReason: string | null;
}

export interface ApplyResult {
  state: MessageState;
  /** The event rows this call wrote (none for a duplicate, a re-applied outcome or a non-reservation). */
  events: RecordedEvent[];
  duplicateOf: string | null;
}

/** A page of rows; `after` is the sort key of the last row when there are more. */
export interface Page<T> {
  rows: T[];
  after: (string | number)[] | null;
}

export interface ReservationFilter {
  store?: string;
  source?: string;
  status?: string;
  needsReview?: boolean;
  /** Visit date range, inclusive, YYYY-MM-DD. */
  visitFrom?: string;
  visitTo?: string;
  /** Guest name (kanji or kana), reservation id or phone digits, partial match. */
  q?: string;
}

export interface MessageFilter {
  state?: string;
  kind?: string;
  source?: string;
  store?: string;
  /** Error code of a failed / dead message. */
  reason?: string;
  event?: string;
  handled?: boolean;
  /** Received range, ms since epoch, inclusive. */
  receivedFrom?: number;
  receivedTo?: number;
}

export interface DeliveryFilter {
  state?: string;
  endpoint?: string;
  event?: string;
  reservation?: number;
  message?: string;
}

/** Which messages `replay` and `rebuild` process again. */
export interface MessageSelection {
  ids?: string[];
  /** Received at or after (ms). */
  since?: number;
  /** Received before (ms). */
  until?: number;
  states?: string[];
  source?: string;
  store?: string;
  /** Everything (rebuild). */
  all?: boolean;
}

/** Arrivals of one (source, store) series, per hour or since a time (monitor view). */
export interface ActivityRow {
  source: string | null;
  store: string | null;
  /** 1 while the messages are still pending/failed (not processed yet). */
  waiting: number;
  /** Epoch hour of arrival (hourly query) or null. */
  hour: number | null;
  n: number;
  last: number;
}

/** Per source, reservation mails in a window and how many of them did not import cleanly (monitor view). */
export interface SourceOutcomeRow {
  source: string;
  total: number;
  failed: number;
}

/** Freshness of one (store, source) series (dashboard view). */
export interface SeriesRow {
  store: string | null;
  source: string | null;
  last_received: number;
  last_imported: number | null;
  received_24h: number;
}

/** Counts of one arrival hour (dashboard view). */
export interface HourRow {
  hour: number;
  received: number;
  imported: number;
  failed: number;
}

/** Unhandled mail a person has to look at, by state (dashboard view). */
export interface OpenRow {
  state: string;
  verification: number;
  n: number;
}

/** Failed and dead messages by error code (status view). */
export interface FailureCount {
  code: string | null;
  state: string;
  n: number;
}

/** A message row as retention judges it (settled? old enough? where are its bytes?). */
export type RetentionRow = Pick<
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
