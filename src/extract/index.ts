/**
 * Raw mail → Analysis (the extraction contract of docs/sites.md plus metadata). Pure and
 * synchronous after parsing, no I/O but loadSiteDefinitions(), no logging:
 * it runs inside worker threads and reports doubts as review reasons.
 */

import { findTime, formatDate, parseMessage, JST_OFFSET_MS } from '../parse/index.ts';
import type { MailAddress, ParsedMessage } from '../parse/index.ts';
import { scanLabels } from './labels.ts';
import { compileSites } from './sites.ts';
import type { CompiledMarkers, CompiledSite } from './sites.ts';
import type {
  Analysis,
  DigestMeta,
  Extraction,
  FieldChange,
  Kind,
  LabelField,
  MailboxMeta,
  RequirableField,
  ReservationEvent,
  SiteDefinition,
  Source,
  VerificationMeta,
} from './types.ts';
import {
  parseDateTime,
  parseName,
  parsePartySize,
  parsePhone,
  parseReservationId,
  parseText,
  splitChange,
} from './values.ts';

export {
  loadSiteDefinitions,
  validateSiteDefinition,
  SiteDefinitionError,
  GENERIC_LABELS,
  EVENT_PRECEDENCE,
} from './sites.ts';
export { parsePartySize, parsePhone, parseName, parseDateTime, splitChange, parseReservationId } from './values.ts';
export { scanLabels, splitLabelLine } from './labels.ts';
export { SOURCES, KINDS, EVENTS, LABEL_FIELDS, REQUIRABLE_FIELDS } from './types.ts';
export type * from './types.ts';
export type { ParsedMessage, MailAddress } from '../parse/index.ts';

/** Options of {@link extract}. */
export interface ExtractOptions {
  /** Reference instant for year inference when the message has no usable Date. Default: the current time. */
  now?: Date;
}

/**
 * Fields whose absence flags a reservation for review, per event. A cancel
 * only has to say which booking it cancels. Sites drop fields they omit on
 * purpose with `optionalFields` (ホットペッパー's request mails have no phone).
 */
export const REQUIRED_FIELDS: Record<ReservationEvent, readonly RequirableField[]> = {
  new: ['reservationId', 'visitDate', 'visitTime', 'partySize', 'guestName', 'phone'],
  change: ['reservationId', 'visitDate', 'visitTime', 'partySize', 'guestName', 'phone'],
  request: ['reservationId', 'visitDate', 'visitTime', 'partySize', 'guestName', 'phone'],
  cancel: ['reservationId', 'visitDate', 'guestName'],
};

// Sender scores: who sent the relevant message is the strongest sign, then
// the subject, then the body. A site needs at least MIN_SITE_SCORE.
const SCORE_SENDER = 100;
const SCORE_OUTER_SENDER = 50;
const SCORE_SUBJECT_MARKER = 10;
const SCORE_BODY_MARKER = 5;
const MIN_SITE_SCORE = 10;
// How many body lines may announce a digest's day before the list starts.
const DIGEST_DATE_LINES = 10;

/**
 * Site-independent verification mails. Gmail's forwarding confirmation is the
 * one every forwarding setup meets; a site's own (じゃらん 認証キー) lives in
 * its definition file.
 */
const GENERIC_VERIFICATIONS: ReadonlyArray<{
  addresses: string[];
  markers: CompiledMarkers;
  codePatterns: RegExp[];
  urlPatterns: RegExp[];
}> = [
  {
    addresses: ['forwarding-noreply@google.com'],
    markers: {
      subject: ['gmail forwarding confirmation', 'gmail の転送の確認', 'gmail転送の確認'],
      body: ['confirmation code:', '確認コード:'],
    },
    codePatterns: [/confirmation code: ?(\d{6,12})/i, /確認コード: ?(\d{6,12})/, /\(#(\d{6,12})\)/],
    urlPatterns: [/https:\/\/mail(?:-settings)?\.google\.com\/\S{1,500}/i],
  },
];

/**
 * Parses and analyses one raw message with the given site definitions.
 * Rejects only when the MIME structure itself cannot be parsed.
 */
export async function analyze(raw: Buffer, sites: readonly SiteDefinition[]): Promise<Analysis> {
  return extract(await parseMessage(raw), sites);
}

/**
 * Classifies a parsed message (site, kind, event) and extracts the
 * reservation fields. Always returns a valid Analysis: unrecognised mail is
 * kind "unknown" with null fields. Pass the same `sites` array every time:
 * its compiled form is cached by identity.
 */
export function extract(parsed: ParsedMessage, sites: readonly SiteDefinition[], opts: ExtractOptions = {}): Analysis {
  const compiled = compileSites(sites);
  const subject = parsed.subject.toLowerCase();
  const body = parsed.text.toLowerCase();
  const lines = parsed.text.split('\n');
  const reference = parsed.date ?? opts.now ?? new Date();

  const meta: Analysis['meta'] = {
    messageId: parsed.messageId,
    date: parsed.date ? parsed.date.toISOString() : null,
    subject: parsed.subject,
    from: mailbox(parsed.outerFrom),
    innerFrom: parsed.forwarded ? mailbox(parsed.from) : null,
    forwarded: parsed.forwarded,
    forwardKind: parsed.forwardKind,
    htmlDerived: parsed.htmlDerived,
    digest: null,
    verification: null,
    warnings: [...parsed.warnings],
  };

  const site = identifySite(compiled, parsed, subject, body);
  if (site === null) {
    const generic = GENERIC_VERIFICATIONS.find(
      (v) => v.addresses.includes(parsed.from?.address ?? '') || anyIn(v.markers.subject, subject),
    );
    if (generic) {
      meta.verification = verification(generic.codePatterns, generic.urlPatterns, parsed.subject, lines);
      return { extraction: emptyExtraction('verification', null), meta };
    }
    return { extraction: emptyExtraction('unknown', null), meta };
  }

  const source = site.source as Source;
  if (site.verification && markersMatch(site.verification, subject, body)) {
    meta.verification = verification(
      site.verification.codePatterns,
      site.verification.urlPatterns,
      parsed.subject,
      lines,
    );
    return { extraction: emptyExtraction('verification', source), meta };
  }
  if (site.digest && markersMatch(site.digest, subject, body)) {
    meta.digest = digest(site.digest.countPatterns, parsed.subject, lines, reference);
    return { extraction: emptyExtraction('digest', source), meta };
  }
  const event = classifyEvent(site, subject, body);
  const extraction = extractReservation(site, event, lines, reference);
  if (event === null && extraction.reservationId === null && extraction.visitDate === null) {
    // The site's newsletters and notices: stored and visible, not a booking.
    return { extraction: emptyExtraction('unknown', source), meta };
  }
  return { extraction, meta };
}

function mailbox(address: MailAddress | null): MailboxMeta | null {
  return address ? { address: address.address, name: address.name } : null;
}

function emptyExtraction(kind: Kind, source: Source | null): Extraction {
  return {
    kind,
    source,
    event: null,
    reservationId: null,
    visitDate: null,
    visitTime: null,
    partySize: null,
    guestName: null,
    guestNameKana: null,
    phone: null,
    course: null,
    seats: null,
    notes: null,
    storeName: null,
    changes: {},
    needsReview: false,
    reviewReasons: [],
  };
}

function anyIn(needles: readonly string[], haystack: string): boolean {
  for (const n of needles) if (haystack.includes(n)) return true;
  return false;
}

function markersMatch(markers: CompiledMarkers, subject: string, body: string): boolean {
  return anyIn(markers.subject, subject) || anyIn(markers.body, body);
}

function senderMatches(site: CompiledSite, from: MailAddress | null): boolean {
  if (!from || from.address === '') return false;
  if (site.addresses.has(from.address)) return true;
  const domain = from.address.slice(from.address.lastIndexOf('@') + 1);
  return site.domains.some((d) => domain === d || domain.endsWith('.' + d));
}

function identifySite(
  sites: CompiledSite[],
  parsed: ParsedMessage,
  subject: string,
  body: string,
): CompiledSite | null {
  let best: CompiledSite | null = null;
  let bestScore = 0;
  for (const site of sites) {
    let score = 0;
    if (senderMatches(site, parsed.from)) score += SCORE_SENDER;
    else if (parsed.forwarded && senderMatches(site, parsed.outerFrom)) score += SCORE_OUTER_SENDER;
    if (anyIn(site.markers.subject, subject)) score += SCORE_SUBJECT_MARKER;
    let bodyHits = 0;
    for (const m of site.markers.body) if (bodyHits < 2 && body.includes(m)) bodyHits++;
    score += bodyHits * SCORE_BODY_MARKER;
    if (score > bestScore) {
      best = site;
      bestScore = score;
    }
  }
  return bestScore >= MIN_SITE_SCORE ? best : null;
}

function classifyEvent(site: CompiledSite, subject: string, body: string): ReservationEvent | null {
  // The subject is the site's own summary: trust it over body wording.
  for (const { event, markers } of site.events) if (anyIn(markers.subject, subject)) return event;
  for (const { event, markers } of site.events) if (anyIn(markers.body, body)) return event;
  return null;
}

function firstGroup(patterns: RegExp[], texts: readonly string[]): string | null {
  for (const re of patterns) {
    for (const text of texts) {
      const m = re.exec(text);
      if (m) return (m[1] ?? m[0]).trim();
    }
  }
  return null;
}

function verification(
  codePatterns: RegExp[],
  urlPatterns: RegExp[],
  subject: string,
  lines: string[],
): VerificationMeta {
  return { code: firstGroup(codePatterns, [subject, ...lines]), url: firstGroup(urlPatterns, lines) };
}

function digest(countPatterns: RegExp[], subject: string, lines: string[], reference: Date): DigestMeta {
  const count = firstGroup(countPatterns, [subject, ...lines]);
  let date: string | null = null;
  // The list's day is announced in the subject or at the top of the body.
  for (const text of [subject, ...lines.slice(0, DIGEST_DATE_LINES)]) {
    date = parseDateTime(text, reference).date;
    if (date !== null) break;
  }
  if (date === null) {
    // "本日の予約": the list is about the day it was sent, in Japan.
    const local = new Date(reference.getTime() + JST_OFFSET_MS);
    date = formatDate(local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate());
  }
  return { date, count: count === null ? null : Number(count) };
}

type Value = string | number | null;

function extractReservation(
  site: CompiledSite,
  event: ReservationEvent | null,
  lines: string[],
  reference: Date,
): Extraction {
  const raw = scanLabels(lines, site.labels);
  if (raw.main.reservationId === undefined && site.bookingIdPatterns.length > 0) {
    const id = firstGroup(site.bookingIdPatterns, lines);
    if (id !== null) raw.main.reservationId = id;
  }
  for (const { regex, fields } of site.patterns) {
    for (const line of lines) {
      const m = regex.exec(line);
      if (!m) continue;
      for (const [field, group] of fields) {
        const value = m[group];
        if (value !== undefined) raw.main[field as LabelField] ??= value;
      }
      break;
    }
  }

  const reasons: string[] = [];
  const changes: Record<string, FieldChange> = {};
  const isChange = event === 'change';
  // For change mails a value may read "old → new"; the old side joins any 変更前 value.
  const pick = (field: LabelField): { to: string | undefined; from: string | undefined } => {
    let to = raw.main[field];
    let from = raw.before[field];
    if (to !== undefined && isChange) {
      const split = splitChange(to);
      if (split) {
        from ??= split.from;
        to = split.to;
      }
    }
    return { to, from };
  };
  const noteChange = (field: string, from: Value, to: Value): void => {
    if (from !== null && from !== to) changes[field] = { from, to };
  };

  const reservationIdRaw = pick('reservationId');
  const reservationId = reservationIdRaw.to !== undefined ? parseReservationId(reservationIdRaw.to) : null;

  // Date and time: one "日時" value or separate date and time labels.
  const dateRaw = pick('visitDate');
  const timeRaw = pick('visitTime');
  const newDT = dateRaw.to !== undefined ? parseDateTime(dateRaw.to, reference) : null;
  const oldDT = dateRaw.from !== undefined ? parseDateTime(dateRaw.from, reference) : null;
  // "8/30 18:30 → 19:00": the new side restates only what changed.
  const visitDate = newDT?.date ?? (newDT && !newDT.invalidDate ? (oldDT?.date ?? null) : null);
  if (newDT && visitDate === null) reasons.push('invalid:visitDate');
  let visitTime: string | null = null;
  let timeInvalid = false;
  if (timeRaw.to !== undefined) {
    const t = findTime(timeRaw.to);
    visitTime = t?.time ?? null;
    timeInvalid = visitTime === null;
  } else if (newDT) {
    visitTime = newDT.time ?? oldDT?.time ?? null;
    timeInvalid = newDT.invalidTime;
  }
  if (timeInvalid) reasons.push('invalid:visitTime');
  const oldTime = timeRaw.from !== undefined ? (findTime(timeRaw.from)?.time ?? null) : (oldDT?.time ?? null);
  noteChange('visitDate', oldDT?.date ?? null, visitDate);
  noteChange('visitTime', oldTime, visitTime);

  // Party size: a total, or adults + children labels.
  const partyRaw = pick('partySize');
  let partySize: number | null = null;
  if (partyRaw.to !== undefined) {
    const p = parsePartySize(partyRaw.to);
    partySize = p.value;
    if (p.problem) reasons.push(p.problem);
  } else if (raw.main.adults !== undefined) {
    const adults = parsePartySize(raw.main.adults).value ?? 0;
    const children = raw.main.children !== undefined ? (parsePartySize(raw.main.children).value ?? 0) : 0;
    partySize = adults + children > 0 ? adults + children : null;
  }
  if (partyRaw.from !== undefined) noteChange('partySize', parsePartySize(partyRaw.from).value, partySize);

  const nameRaw = pick('guestName');
  const guestName = nameField(nameRaw, 'guestName', reasons, noteChange);
  const guestNameKana = nameField(pick('guestNameKana'), 'guestNameKana', reasons, noteChange);

  const phoneRaw = pick('phone');
  let phone: string | null = null;
  if (phoneRaw.to !== undefined) {
    const p = parsePhone(phoneRaw.to);
    phone = p.value;
    if (p.problem) reasons.push(p.problem);
  }
  if (phoneRaw.from !== undefined) noteChange('phone', parsePhone(phoneRaw.from).value, phone);

  const text = (field: 'course' | 'seats' | 'notes' | 'storeName'): string | null => {
    const r = pick(field);
    const value = r.to !== undefined ? parseText(r.to) : null;
    if (r.from !== undefined) noteChange(field, parseText(r.from), value);
    return value;
  };
  const course = text('course');
  const seats = text('seats');
  const notes = text('notes');
  const storeName = text('storeName');
  if (reservationIdRaw.from !== undefined)
    noteChange('reservationId', parseReservationId(reservationIdRaw.from), reservationId);

  const values: Record<RequirableField, Value> = {
    reservationId,
    visitDate,
    visitTime,
    partySize,
    guestName,
    guestNameKana,
    phone,
    course,
    seats,
    storeName,
  };
  if (event === null) reasons.unshift('unknown:event');
  const optional = event !== null ? site.optionalFields[event] : undefined;
  for (const field of REQUIRED_FIELDS[event ?? 'new']) {
    if (values[field] !== null || optional?.has(field)) continue;
    if (reasons.some((r) => r.endsWith(':' + field))) continue;
    reasons.push('missing:' + field);
  }

  return {
    kind: 'reservation',
    source: site.source as Source,
    event,
    reservationId,
    visitDate,
    visitTime,
    partySize,
    guestName,
    guestNameKana,
    phone,
    course,
    seats,
    notes,
    storeName,
    changes,
    needsReview: reasons.length > 0,
    reviewReasons: reasons,
  };
}

function nameField(
  raw: { to: string | undefined; from: string | undefined },
  field: 'guestName' | 'guestNameKana',
  reasons: string[],
  noteChange: (field: string, from: Value, to: Value) => void,
): string | null {
  if (raw.to === undefined) return null;
  const parsed = parseName(raw.to, field);
  if (parsed.problem) reasons.push(parsed.problem);
  if (raw.from !== undefined) noteChange(field, parseName(raw.from, field).value, parsed.value);
  return parsed.value;
}
