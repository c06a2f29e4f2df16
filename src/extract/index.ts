/**
 * Raw mail → Analysis (the extraction contract of docs/sites.md plus metadata). Pure and
 * synchronous after parsing, no I/O but loadSiteDefinitions(), no logging:
 * it runs inside worker threads and reports doubts as review reasons.
 */

import { findDate, findTime, formatDate, normalizeText, parseMessage, JST_OFFSET_MS } from '../parse/index.ts';
import type { MailAddress, ParsedMessage } from '../parse/index.ts';
import { scanLabels } from './labels.ts';
import { compileSites, loadSiteDefinitions as loadSites } from './sites.ts';
import type { CompiledMarkers, CompiledSite } from './sites.ts';
import { decide, defaultVocabulary, scoreClasses, scoringBody, stripSubjectPrefixes } from './vocabulary.ts';
import type { Vocabulary } from './vocabulary.ts';
import type {
  Analysis,
  DigestEntry,
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
  splitReading,
} from './values.ts';

export { validateSiteDefinition, SiteDefinitionError, GENERIC_LABELS, EVENT_PRECEDENCE } from './sites.ts';
export {
  parsePartySize,
  parsePhone,
  parseName,
  parseDateTime,
  splitChange,
  splitReading,
  parseReservationId,
} from './values.ts';
export {
  loadVocabulary,
  defaultVocabulary,
  validateVocabulary,
  stripSubjectPrefixes,
  scoreClasses,
  decide,
  SHIPPED_VOCABULARY_FILE,
  VOCABULARY_CLASSES,
} from './vocabulary.ts';
export type { Vocabulary, VocabularyClass, VocabularyDefinition, Verdict } from './vocabulary.ts';
export { scanLabels, splitLabelLine } from './labels.ts';
export { SOURCES, KINDS, EVENTS, LABEL_FIELDS, REQUIRABLE_FIELDS } from './types.ts';
export type * from './types.ts';
export type { ParsedMessage, MailAddress } from '../parse/index.ts';

/** Options of {@link extract}. */
export interface ExtractOptions {
  /** Reference instant for year inference when the message has no usable Date. Default: the current time. */
  now?: Date;
  /** The event vocabulary; default: the shipped config/vocabulary.json. */
  vocabulary?: Vocabulary;
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
export async function analyze(
  raw: Buffer,
  sites: readonly SiteDefinition[],
  opts: ExtractOptions = {},
): Promise<Analysis> {
  return extract(await parseMessage(raw), sites, opts);
}

/**
 * Loads the site definitions (see sites.ts) and checks the shipped event
 * vocabulary with them, so that a broken vocabulary stops start-up too.
 */
export function loadSiteDefinitions(dirs: string[]): SiteDefinition[] {
  defaultVocabulary();
  return loadSites(dirs);
}

/** The label table of the generic path: every generic alias, no site's additions. */
const GENERIC_SITE: CompiledSite = compileSites([
  Object.freeze({ source: 'generic', name: 'generic', senders: { domains: ['generic.invalid'] }, dkimDomains: [] }),
])[0]!;

/**
 * Classifies a parsed message (site, kind, event) and extracts the
 * reservation fields. Always returns a valid Analysis: unrecognised mail is
 * kind "unknown" with null fields. Pass the same `sites` array every time:
 * its compiled form is cached by identity.
 */
export function extract(parsed: ParsedMessage, sites: readonly SiteDefinition[], opts: ExtractOptions = {}): Analysis {
  const compiled = compileSites(sites);
  const vocabulary = opts.vocabulary ?? defaultVocabulary();
  const cleanSubject = stripSubjectPrefixes(parsed.subject, vocabulary);
  const subject = cleanSubject.toLowerCase();
  const body = parsed.text.toLowerCase();
  const lines = parsed.text.split('\n');
  const written = parsed.rawText.split('\n');
  // The two texts have the same lines by construction; if not, values come from the normalised one.
  const rawLines = written.length === lines.length ? written : lines;
  const scoring = scoringBody(lines);
  const reference = parsed.date ?? opts.now ?? new Date();
  const senderDomain = domainOf(parsed.from) ?? domainOf(parsed.outerFrom);

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
    nonBooking: null,
    warnings: [...parsed.warnings],
  };
  const empty = (kind: Kind, source: Source | null): Extraction => emptyExtraction(kind, source, senderDomain);
  const text: MailText = { cleanSubject, lines, rawLines, reference };

  const site = identifySite(compiled, parsed, subject, body);
  if (site === null) {
    const generic = GENERIC_VERIFICATIONS.find(
      (v) => v.addresses.includes(parsed.from?.address ?? '') || anyIn(v.markers.subject, subject),
    );
    if (generic) {
      meta.verification = verification(generic.codePatterns, generic.urlPatterns, parsed.subject, lines);
      return { extraction: empty('verification', null), meta };
    }
    // No site file matches: read it with the generic labels, and trust nothing without a person.
    const verdict = decide(vocabulary, scoreClasses(vocabulary, subject, scoring));
    if (verdict.kind === 'event' || verdict.kind === 'none') {
      const event = verdict.kind === 'event' ? verdict.event : null;
      const { extraction, labelled } = extractReservation(GENERIC_SITE, event, text, vocabulary, senderDomain);
      if (labelled >= MIN_GENERIC_LABELLED_FIELDS && hasBookingEvidence(extraction)) {
        extraction.source = null;
        if (verdict.kind === 'none' && verdict.reason) replaceReason(extraction, 'unknown:event', verdict.reason);
        extraction.reviewReasons.unshift('unconfigured-site');
        extraction.needsReview = true;
        return { extraction, meta };
      }
    }
    if (verdict.kind === 'non-booking') meta.nonBooking = verdict.what.slice(NON_BOOKING_PREFIX.length);
    return { extraction: empty('unknown', null), meta };
  }

  const source = site.source as Source;
  if (site.verification && markersMatch(site.verification, subject, body)) {
    meta.verification = verification(
      site.verification.codePatterns,
      site.verification.urlPatterns,
      parsed.subject,
      lines,
    );
    return { extraction: empty('verification', source), meta };
  }
  const verdict = decide(vocabulary, scoreClasses(vocabulary, subject, scoring, site.phrases));
  if (verdict.kind === 'verification') {
    meta.verification = verification(
      [...(site.verification?.codePatterns ?? []), ...vocabulary.verificationCodePatterns],
      site.verification?.urlPatterns ?? [],
      parsed.subject,
      lines,
    );
    return { extraction: empty('verification', source), meta };
  }
  if (verdict.kind === 'digest') {
    meta.digest = digest(
      [...(site.digest?.countPatterns ?? []), ...vocabulary.digestCountPatterns],
      parsed.subject,
      lines,
      rawLines,
      reference,
    );
    return { extraction: empty('digest', source), meta };
  }
  if (verdict.kind === 'non-booking') {
    // Reviews, newsletters, point summaries, surveys, notices: stored and visible, never a booking.
    meta.nonBooking = verdict.what.slice(NON_BOOKING_PREFIX.length);
    return { extraction: empty('unknown', source), meta };
  }
  const event = verdict.kind === 'event' ? verdict.event : null;
  const { extraction } = extractReservation(site, event, text, vocabulary, senderDomain);
  if (verdict.kind === 'none' && verdict.reason) replaceReason(extraction, 'unknown:event', verdict.reason);
  if (!hasBookingEvidence(extraction)) return { extraction: empty('unknown', source), meta };
  return { extraction, meta };
}

const NON_BOOKING_PREFIX = 'non-booking:';
/**
 * The generic path needs this many booking fields found by their labels
 * (id, date, time, party, name, phone): a sale mail with one "日付:" line is
 * not a reservation.
 */
const MIN_GENERIC_LABELLED_FIELDS = 3;

/**
 * The booking-evidence rule (docs/sites.md): a reservation needs a visit date
 * and one of time, party size or booking id — or a booking id under a
 * recognised event (a cancel that names only the booking).
 */
export function hasBookingEvidence(x: Extraction): boolean {
  if (x.visitDate !== null && (x.visitTime !== null || x.partySize !== null || x.reservationId !== null)) return true;
  return x.reservationId !== null && x.event !== null;
}

function replaceReason(x: Extraction, from: string, to: string): void {
  const i = x.reviewReasons.indexOf(from);
  if (i !== -1) x.reviewReasons[i] = to;
}

function domainOf(address: MailAddress | null): string | null {
  if (!address) return null;
  const at = address.address.lastIndexOf('@');
  if (at === -1 || at === address.address.length - 1) return null;
  return address.address.slice(at + 1).toLowerCase();
}

interface MailText {
  /** The subject without forwarding/reply prefixes, normalised. */
  cleanSubject: string;
  /** Body lines, normalised (matching). */
  lines: string[];
  /** The same lines as written (values a person reads). */
  rawLines: string[];
  reference: Date;
}

function mailbox(address: MailAddress | null): MailboxMeta | null {
  return address ? { address: address.address, name: address.name } : null;
}

function emptyExtraction(kind: Kind, source: Source | null, senderDomain: string | null): Extraction {
  return {
    kind,
    source,
    senderDomain,
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

function digest(
  countPatterns: RegExp[],
  subject: string,
  lines: string[],
  rawLines: string[],
  reference: Date,
): DigestMeta {
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
  return { date, count: count === null ? null : Number(count), entries: digestEntries(lines, rawLines) };
}

/** A daily list names at most this many bookings we keep (a restaurant's day; more is not a list). */
const MAX_DIGEST_ENTRIES = 500;
const DIGEST_PARTY = /(?<![\d:])(\d{1,3}) ?(?:名様|名|人)/;

/**
 * The bookings a daily list names: every line with a clock time and a party
 * size (`18:00 山本 一郎 様 2名`, `・19:30 2名 松本様`). The name is what is left
 * of the line as written, without numbers, bullets and honorific.
 */
function digestEntries(lines: string[], rawLines: string[]): DigestEntry[] {
  const entries: DigestEntry[] = [];
  for (let i = 0; i < lines.length && entries.length < MAX_DIGEST_ENTRIES; i++) {
    const line = lines[i] as string;
    if (line.length > 200) continue;
    const time = findTime(line);
    const party = DIGEST_PARTY.exec(line);
    if (!time?.time || !party) continue;
    const tokens = (rawLines[i] as string)
      .split(' ')
      .map((t) => t.replace(/^[■□◆◇●○・*\-★☆▶>|【[(（]+|[】\])）:：、,]+$/gu, ''))
      .filter((t) => t !== '' && !/[0-9０-９]/.test(t) && t !== '様' && t !== 'さま' && t !== '名様');
    const name = tokens
      .join(' ')
      .replace(/ ?(?:様|さま)$/, '')
      .trim();
    entries.push({ time: time.time, partySize: Number(party[1]), guestName: name === '' ? null : name });
  }
  return entries;
}

type Value = string | number | null;

// The fields whose label alone makes a mail read like a booking (generic path).
const BOOKING_LABEL_FIELDS: readonly LabelField[] = [
  'reservationId',
  'visitDate',
  'visitTime',
  'partySize',
  'guestName',
  'phone',
];

/** NFKC for a value that is parsed (numbers, dates, times, phones, ids); free text stays as written. */
function nfkc(value: string): string {
  return normalizeText(value);
}

function extractReservation(
  site: CompiledSite,
  event: ReservationEvent | null,
  text: MailText,
  vocabulary: Vocabulary,
  senderDomain: string | null,
): { extraction: Extraction; labelled: number } {
  const { lines, rawLines, reference } = text;
  const raw = scanLabels(rawLines, site.labels);
  const labelled = BOOKING_LABEL_FIELDS.filter((f) => raw.main[f] !== undefined).length;
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
  // The subject fills what the body lacks (some sites put the booking id only there).
  fromSubject(text.cleanSubject, vocabulary, raw.main);

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
  const reservationId = reservationIdRaw.to !== undefined ? parseReservationId(nfkc(reservationIdRaw.to)) : null;

  // Date and time: one "日時" value or separate date and time labels.
  const dateRaw = pick('visitDate');
  const timeRaw = pick('visitTime');
  const newDT = dateRaw.to !== undefined ? parseDateTime(nfkc(dateRaw.to), reference) : null;
  const oldDT = dateRaw.from !== undefined ? parseDateTime(nfkc(dateRaw.from), reference) : null;
  // "8/30 18:30 → 19:00": the new side restates only what changed.
  const visitDate = newDT?.date ?? (newDT && !newDT.invalidDate ? (oldDT?.date ?? null) : null);
  if (newDT && visitDate === null) reasons.push('invalid:visitDate');
  let visitTime: string | null = null;
  let timeInvalid = false;
  if (timeRaw.to !== undefined) {
    const t = findTime(nfkc(timeRaw.to));
    visitTime = t?.time ?? null;
    timeInvalid = visitTime === null;
  } else if (newDT) {
    visitTime = newDT.time ?? oldDT?.time ?? null;
    timeInvalid = newDT.invalidTime;
  }
  if (timeInvalid) reasons.push('invalid:visitTime');
  const oldTime = timeRaw.from !== undefined ? (findTime(nfkc(timeRaw.from))?.time ?? null) : (oldDT?.time ?? null);
  noteChange('visitDate', oldDT?.date ?? null, visitDate);
  noteChange('visitTime', oldTime, visitTime);

  // Party size: a total, or adults + children labels.
  const partyRaw = pick('partySize');
  let partySize: number | null = null;
  if (partyRaw.to !== undefined) {
    const p = parsePartySize(nfkc(partyRaw.to));
    partySize = p.value;
    if (p.problem) reasons.push(p.problem);
  } else if (raw.main.adults !== undefined) {
    const adults = parsePartySize(nfkc(raw.main.adults)).value ?? 0;
    const children = raw.main.children !== undefined ? (parsePartySize(nfkc(raw.main.children)).value ?? 0) : 0;
    partySize = adults + children > 0 ? adults + children : null;
  }
  if (partyRaw.from !== undefined) noteChange('partySize', parsePartySize(nfkc(partyRaw.from)).value, partySize);

  // A reading in parentheses after the name is the kana, unless a kana label says otherwise.
  const nameRaw = pick('guestName');
  const kanaRaw = pick('guestNameKana');
  const reading = nameRaw.to !== undefined ? splitReading(nameRaw.to.split('\n')[0]!) : null;
  if (reading) {
    nameRaw.to = reading.name;
    if (kanaRaw.to === undefined) kanaRaw.to = reading.reading;
  }
  if (nameRaw.from !== undefined) nameRaw.from = splitReading(nameRaw.from)?.name ?? nameRaw.from;
  const guestName = nameField(nameRaw, 'guestName', reasons, noteChange);
  const guestNameKana = nameField(kanaRaw, 'guestNameKana', reasons, noteChange);

  const phoneRaw = pick('phone');
  let phone: string | null = null;
  if (phoneRaw.to !== undefined) {
    const p = parsePhone(nfkc(phoneRaw.to));
    phone = p.value;
    if (p.problem) reasons.push(p.problem);
  }
  if (phoneRaw.from !== undefined) noteChange('phone', parsePhone(nfkc(phoneRaw.from)).value, phone);

  const freeText = (field: 'course' | 'seats' | 'notes' | 'storeName'): string | null => {
    const r = pick(field);
    const value = r.to !== undefined ? parseText(r.to) : null;
    if (r.from !== undefined) noteChange(field, parseText(r.from), value);
    return value;
  };
  const course = freeText('course');
  const seats = freeText('seats');
  const notes = freeText('notes');
  const storeName = freeText('storeName');
  if (reservationIdRaw.from !== undefined)
    noteChange('reservationId', parseReservationId(nfkc(reservationIdRaw.from)), reservationId);

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

  const extraction: Extraction = {
    kind: 'reservation',
    source: site.source as Source,
    senderDomain,
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
  return { extraction, labelled };
}

/**
 * Fields the subject states (`【新規予約】山田 太郎様 11/09 19:00 2名`,
 * `予約確定のお知らせ（IK-5531-0087）`), for the fields the body did not give:
 * the vocabulary's subject patterns, then the first date and the time after it.
 */
function fromSubject(subject: string, vocabulary: Vocabulary, main: Partial<Record<LabelField, string>>): void {
  if (subject === '') return;
  for (const { regex, fields } of vocabulary.subjectPatterns) {
    const m = regex.exec(subject);
    if (!m) continue;
    for (const [field, group] of fields) {
      const value = m[group]?.trim();
      if (value === undefined || value === '') continue;
      if (field === 'guestName' && vocabulary.nameStopWords.some((w) => value.toLowerCase().includes(w))) continue;
      main[field as LabelField] ??= value;
    }
  }
  if (main.visitDate === undefined) {
    const date = findDate(subject);
    if (date) {
      main.visitDate = subject.slice(date.index, date.end);
      // A time in the subject counts only next to the date it belongs to.
      const time = findTime(subject.slice(date.end));
      if (time?.time && main.visitTime === undefined) main.visitTime = time.time;
    }
  }
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
