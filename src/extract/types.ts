/**
 * The extraction contract (documented in docs/sites.md). This is public API: `ota-inbound parse`,
 * the HTTP API and the webhooks all emit exactly this shape.
 */

export const SOURCES = [
  'tabelog',
  'hotpepper',
  'gurunavi',
  'ikyu',
  'retty',
  'hitosara',
  'ozmall',
  'jalan',
  'opentable',
] as const;
export type Source = (typeof SOURCES)[number];

export const KINDS = ['reservation', 'digest', 'verification', 'unknown'] as const;
export type Kind = (typeof KINDS)[number];

export const EVENTS = ['new', 'change', 'cancel', 'request'] as const;
export type ReservationEvent = (typeof EVENTS)[number];

export interface FieldChange {
  from: string | number | null;
  to: string | number | null;
}

export interface Extraction {
  kind: Kind;
  source: Source | null;
  /**
   * Domain of the relevant sender (the inner From of a forward), lower case;
   * null when the mail has no usable From. For a mail no site file describes
   * (`source: null`) it says who sent it.
   */
  senderDomain: string | null;
  event: ReservationEvent | null;
  reservationId: string | null;
  /** Local date in Japan, YYYY-MM-DD. */
  visitDate: string | null;
  /** 24-hour HH:MM. */
  visitTime: string | null;
  partySize: number | null;
  guestName: string | null;
  guestNameKana: string | null;
  /** Digits only, leading 0 kept. */
  phone: string | null;
  course: string | null;
  seats: string | null;
  notes: string | null;
  storeName: string | null;
  changes: Record<string, FieldChange>;
  needsReview: boolean;
  reviewReasons: string[];
}

/**
 * What extraction knows besides the Extraction itself: the message's identity
 * and the data of digests and verification mails. Plain data only (strings,
 * numbers, booleans, arrays, objects): it crosses a worker boundary and is
 * written as JSON.
 */
export interface AnalysisMeta {
  /** Message-ID of the delivered message. */
  messageId: string | null;
  /** Date of the relevant message (the forwarded one's when forwarded), ISO 8601 UTC. */
  date: string | null;
  subject: string;
  /** From of the delivered message. */
  from: MailboxMeta | null;
  /** From of the forwarded message inside it; null when not forwarded. */
  innerFrom: MailboxMeta | null;
  forwarded: boolean;
  forwardKind: 'attachment' | 'inline' | null;
  /** True when the body was read from the HTML part. */
  htmlDerived: boolean;
  /** Set for kind "digest": the day the list is about and how many reservations it announces. */
  digest: DigestMeta | null;
  /** Set for kind "verification": what a person needs to confirm the forwarding. */
  verification: VerificationMeta | null;
  /**
   * Set when the vocabulary read a site's mail as something that is never a
   * booking: `review`, `newsletter`, `points`, `survey` or `notice`.
   */
  nonBooking: string | null;
  /** Repairs and limits the parser applied (`jis-escapes-decoded`, `text-truncated`, …). */
  warnings: string[];
}

export interface MailboxMeta {
  address: string;
  name: string;
}

export interface DigestMeta {
  /** YYYY-MM-DD, Japan time. */
  date: string | null;
  /** How many reservations the list announces; null when it states no count. */
  count: number | null;
  /** The bookings the list names, in list order (empty when it names none). */
  entries: DigestEntry[];
}

/** One booking as a daily list names it. */
export interface DigestEntry {
  /** 24-hour HH:MM. */
  time: string | null;
  partySize: number | null;
  /** As written, honorific removed; null when the list gives none. */
  guestName: string | null;
}

export interface VerificationMeta {
  code: string | null;
  url: string | null;
}

/** The result of analysing one message: the public Extraction plus metadata. */
export interface Analysis {
  extraction: Extraction;
  meta: AnalysisMeta;
}

/** Fields the label engine can fill. `adults`/`children` only feed partySize. */
export const LABEL_FIELDS = [
  'reservationId',
  'visitDate',
  'visitTime',
  'partySize',
  'adults',
  'children',
  'guestName',
  'guestNameKana',
  'phone',
  'course',
  'seats',
  'notes',
  'storeName',
] as const;
export type LabelField = (typeof LABEL_FIELDS)[number];

/** Fields whose absence can flag a reservation for review (`missing:<field>`). */
export const REQUIRABLE_FIELDS = [
  'reservationId',
  'visitDate',
  'visitTime',
  'partySize',
  'guestName',
  'guestNameKana',
  'phone',
  'course',
  'seats',
  'storeName',
] as const;
export type RequirableField = (typeof REQUIRABLE_FIELDS)[number];

/** Literal strings looked for in the subject and/or the body (after NFKC normalisation). */
export interface MarkerSet {
  subject?: string[];
  body?: string[];
}

/** A sentence-level regex whose capture groups fill fields (OpenTable's "Reservation for 2 on …"). */
export interface SitePattern {
  regex: string;
  flags?: string;
  fields: Partial<
    Record<'reservationId' | 'visitDate' | 'visitTime' | 'partySize' | 'guestName' | 'storeName', number>
  >;
}

/**
 * One booking site, as written in `config/sites/<source>.json` (docs/sites.md
 * documents every field). Recognition is data: operators add or tune a site
 * by editing these files, without a release.
 */
export interface SiteDefinition {
  /** The `source` value extractions carry: lower-case id. */
  source: string;
  /** Human name (食べログ). */
  name: string;
  /** Who sends the site's mail: exact addresses and/or domains (subdomains match). */
  senders: { addresses?: string[]; domains?: string[] };
  /** Domains the site signs its mail with (DKIM d=), for sender authentication. */
  dkimDomains: string[];
  /** Strings that identify the site when the sender does not (manual forwards). */
  markers?: MarkerSet;
  /** Which mails are which event; checked in the order cancel, change, request, new. */
  events?: Partial<Record<ReservationEvent, MarkerSet>>;
  /** Daily list mails: markers, and regexes whose group 1 is the reservation count. */
  digest?: MarkerSet & { countPatterns?: string[] };
  /** Forwarding-verification mails: markers, regexes whose group 1 is the code, regexes matching the link. */
  verification?: MarkerSet & { codePatterns?: string[]; urlPatterns?: string[] };
  /** Extra label aliases per field, added to the generic ones. */
  labels?: Partial<Record<LabelField, string[]>>;
  /** Labels the generic engine knows that mean something else on this site. */
  ignoreLabels?: string[];
  /** Regexes whose group 1 is the booking id, tried on every line (ids inside URLs). */
  bookingIdPatterns?: string[];
  patterns?: SitePattern[];
  /** Fields that, per event, are absent on purpose and must not flag review. */
  optionalFields?: Partial<Record<ReservationEvent, RequirableField[]>>;
}
