/**
 * Site definitions: loading and validating the JSON files, and compiling them
 * once into lookup tables and regexes (cached per array identity, so a worker
 * that loads its sites once pays nothing per message).
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeInline } from '../parse/index.ts';
import { EVENTS, LABEL_FIELDS, REQUIRABLE_FIELDS } from './types.ts';
import type { LabelField, RequirableField, ReservationEvent, SiteDefinition } from './types.ts';

/** Thrown when a site file is unreadable or invalid; the message names the file and every bad field. */
export class SiteDefinitionError extends Error {
  readonly code = 'SITE_DEFINITION_INVALID';
  readonly file: string;
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'SiteDefinitionError';
    this.file = file;
    this.problems = problems;
  }
}

const SOURCE_ID = /^[a-z][a-z0-9_-]{0,31}$/;
const DOMAIN = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;
const TOP_LEVEL_KEYS = new Set([
  '$comment',
  'source',
  'name',
  'senders',
  'dkimDomains',
  'markers',
  'events',
  'digest',
  'verification',
  'labels',
  'ignoreLabels',
  'bookingIdPatterns',
  'patterns',
  'optionalFields',
]);
// A group that contains a quantifier and is itself quantified — `(a+)+`,
// `(\w*x)*` — is the classic catastrophic-backtracking shape. Site regexes run
// on attacker-controlled mail, so we refuse the shape outright.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]/;
const MAX_REGEX_SOURCE_CHARS = 300;

/**
 * Reads every `*.json` file of the given directories (in name order) as a site
 * definition and validates it. A site in a later directory replaces one with
 * the same `source` from an earlier directory, so operators can override a
 * shipped definition; the same source twice in one directory is an error.
 * Throws {@link SiteDefinitionError} naming the file and the fields at fault.
 * The returned array and its definitions are frozen: pass the same array to
 * every extract() call to reuse the compiled form.
 */
export function loadSiteDefinitions(dirs: string[]): SiteDefinition[] {
  const bySource = new Map<string, SiteDefinition>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir)
        .filter((n) => n.endsWith('.json'))
        .sort();
    } catch (err) {
      throw new SiteDefinitionError(dir, [`cannot read directory (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
    const seenHere = new Map<string, string>();
    for (const name of names) {
      const file = join(dir, name);
      let data: unknown;
      try {
        data = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new SiteDefinitionError(file, [`not valid JSON (${(err as Error).message})`]);
      }
      const site = validateSiteDefinition(data, file);
      const previous = seenHere.get(site.source);
      if (previous !== undefined) {
        throw new SiteDefinitionError(file, [`source "${site.source}" is already defined by ${previous}`]);
      }
      seenHere.set(site.source, file);
      bySource.set(site.source, site);
    }
  }
  return Object.freeze([...bySource.values()]) as SiteDefinition[];
}

/**
 * Checks one parsed site definition and returns it deep-frozen. Throws
 * {@link SiteDefinitionError} listing every problem as `field: what is wrong`.
 */
export function validateSiteDefinition(data: unknown, file: string): SiteDefinition {
  const problems: string[] = [];
  if (!isObject(data)) throw new SiteDefinitionError(file, ['the file must hold one JSON object']);
  for (const key of Object.keys(data)) {
    if (!TOP_LEVEL_KEYS.has(key)) problems.push(`${key}: unknown field`);
  }
  if (typeof data.source !== 'string' || !SOURCE_ID.test(data.source)) {
    problems.push('source: must be a lower-case id like "tabelog" (a-z, 0-9, _ or -)');
  }
  if (typeof data.name !== 'string' || data.name.trim() === '') problems.push('name: must be a non-empty string');

  if (!isObject(data.senders)) {
    problems.push('senders: must be an object with "addresses" and/or "domains"');
  } else {
    checkKeys(data.senders, 'senders', ['addresses', 'domains'], problems);
    checkStrings(data.senders.addresses, 'senders.addresses', problems, (s) =>
      s.includes('@') ? null : 'must be an e-mail address',
    );
    checkStrings(data.senders.domains, 'senders.domains', problems, domainProblem);
    if (data.senders.addresses === undefined && data.senders.domains === undefined) {
      problems.push('senders: needs "addresses" or "domains"');
    }
  }
  if (data.dkimDomains === undefined) problems.push('dkimDomains: required (the domains the site signs with)');
  checkStrings(data.dkimDomains, 'dkimDomains', problems, domainProblem);
  checkMarkers(data.markers, 'markers', [], problems);

  if (data.events !== undefined) {
    if (!isObject(data.events)) problems.push('events: must be an object keyed by event');
    else {
      checkKeys(data.events, 'events', EVENTS, problems);
      for (const event of EVENTS) checkMarkers(data.events[event], `events.${event}`, [], problems);
    }
  }
  checkMarkers(data.digest, 'digest', ['countPatterns'], problems);
  if (isObject(data.digest)) checkRegexes(data.digest.countPatterns, 'digest.countPatterns', problems, true);
  checkMarkers(data.verification, 'verification', ['codePatterns', 'urlPatterns'], problems);
  if (isObject(data.verification)) {
    checkRegexes(data.verification.codePatterns, 'verification.codePatterns', problems, true);
    checkRegexes(data.verification.urlPatterns, 'verification.urlPatterns', problems, false);
  }

  if (data.labels !== undefined) {
    if (!isObject(data.labels)) problems.push('labels: must be an object keyed by field');
    else {
      checkKeys(data.labels, 'labels', LABEL_FIELDS, problems);
      for (const field of LABEL_FIELDS) checkStrings(data.labels[field], `labels.${field}`, problems);
    }
  }
  checkStrings(data.ignoreLabels, 'ignoreLabels', problems);
  checkRegexes(data.bookingIdPatterns, 'bookingIdPatterns', problems, true);

  checkPatternList(
    data.patterns,
    'patterns',
    ['reservationId', 'visitDate', 'visitTime', 'partySize', 'guestName', 'storeName'],
    problems,
  );

  if (data.optionalFields !== undefined) {
    if (!isObject(data.optionalFields)) problems.push('optionalFields: must be an object keyed by event');
    else {
      checkKeys(data.optionalFields, 'optionalFields', EVENTS, problems);
      for (const event of EVENTS) {
        checkStrings(data.optionalFields[event], `optionalFields.${event}`, problems, (s) =>
          (REQUIRABLE_FIELDS as readonly string[]).includes(s)
            ? null
            : `"${s}" is not one of ${REQUIRABLE_FIELDS.join(', ')}`,
        );
      }
    }
  }

  if (problems.length > 0) throw new SiteDefinitionError(file, problems);
  return deepFreeze(data) as unknown as SiteDefinition;
}

/**
 * Checks a list of `{regex, flags?, fields}` sentence patterns whose `fields`
 * map field names (of `allowed`) to capture group numbers; adds every problem.
 */
export function checkPatternList(v: unknown, at0: string, allowed: readonly string[], problems: string[]): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) {
    problems.push(`${at0}: must be an array`);
    return;
  }
  v.forEach((p: unknown, i: number) => {
    const at = `${at0}[${i}]`;
    if (!isObject(p)) return problems.push(`${at}: must be an object with "regex" and "fields"`);
    checkKeys(p, at, ['regex', 'flags', 'fields'], problems);
    const flags: unknown = p.flags ?? '';
    if (typeof flags !== 'string' || !/^[imsu]*$/.test(flags))
      problems.push(`${at}.flags: only i, m, s and u are allowed`);
    const groups = regexProblems(p.regex, `${at}.regex`, problems, typeof flags === 'string' ? flags : '');
    if (!isObject(p.fields) || Object.keys(p.fields).length === 0) {
      problems.push(`${at}.fields: must map field names to capture group numbers`);
    } else {
      for (const [field, group] of Object.entries(p.fields)) {
        if (!allowed.includes(field)) problems.push(`${at}.fields.${field}: not a field patterns can fill`);
        if (!Number.isInteger(group) || (group as number) < 1 || (groups !== null && (group as number) > groups)) {
          problems.push(`${at}.fields.${field}: must be a capture group number of the regex`);
        }
      }
    }
    return undefined;
  });
}

/** A compiled sentence pattern: the regex and its (field, group) pairs. */
export interface CompiledPattern {
  regex: RegExp;
  fields: Array<[string, number]>;
}

/** Compiles validated `{regex, flags?, fields}` patterns; `defaultFlags` applies when a pattern has none. */
export function compilePatterns(
  list: ReadonlyArray<{ regex: string; flags?: string; fields: Record<string, number | undefined> }>,
  defaultFlags = '',
): CompiledPattern[] {
  return list.map((p) => ({
    regex: new RegExp(p.regex, p.flags ?? defaultFlags),
    fields: Object.entries(p.fields) as Array<[string, number]>,
  }));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, at: string, allowed: readonly string[], problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push(`${at}.${key}: unknown field (expected one of ${allowed.join(', ')})`);
  }
}

function checkStrings(v: unknown, at: string, problems: string[], each?: (s: string) => string | null): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) {
    problems.push(`${at}: must be an array of strings`);
    return;
  }
  v.forEach((s: unknown, i: number) => {
    if (typeof s !== 'string' || s.trim() === '') problems.push(`${at}[${i}]: must be a non-empty string`);
    else {
      const problem = each?.(s);
      if (problem) problems.push(`${at}[${i}]: ${problem}`);
    }
  });
}

function domainProblem(s: string): string | null {
  return DOMAIN.test(s) ? null : 'must be a lower-case domain like "tabelog.com"';
}

function checkMarkers(v: unknown, at: string, extra: string[], problems: string[]): void {
  if (v === undefined) return;
  if (!isObject(v)) {
    problems.push(`${at}: must be an object with "subject" and/or "body" string arrays`);
    return;
  }
  checkKeys(v, at, ['subject', 'body', ...extra], problems);
  checkStrings(v.subject, `${at}.subject`, problems);
  checkStrings(v.body, `${at}.body`, problems);
}

function checkRegexes(v: unknown, at: string, problems: string[], needsGroup: boolean): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) {
    problems.push(`${at}: must be an array of regex strings`);
    return;
  }
  v.forEach((source: unknown, i: number) => {
    const groups = regexProblems(source, `${at}[${i}]`, problems, 'i');
    if (needsGroup && groups === 0) problems.push(`${at}[${i}]: needs a capture group (group 1 is the value)`);
  });
}

/** Validates a regex source; returns its number of capture groups, or null when invalid. */
function regexProblems(source: unknown, at: string, problems: string[], flags: string): number | null {
  if (typeof source !== 'string' || source === '') {
    problems.push(`${at}: must be a non-empty regex string`);
    return null;
  }
  if (source.length > MAX_REGEX_SOURCE_CHARS) {
    problems.push(`${at}: longer than ${MAX_REGEX_SOURCE_CHARS} characters`);
    return null;
  }
  if (NESTED_QUANTIFIER.test(source)) {
    problems.push(`${at}: quantified group containing a quantifier (catastrophic backtracking risk)`);
    return null;
  }
  try {
    const re = new RegExp(source + '|', flags);
    return (re.exec('')?.length ?? 1) - 1;
  } catch (err) {
    problems.push(`${at}: invalid regex (${(err as Error).message})`);
    return null;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// ---------------------------------------------------------------- compiled --

export interface CompiledMarkers {
  subject: string[];
  body: string[];
}

export interface CompiledSite {
  def: SiteDefinition;
  source: string;
  addresses: Set<string>;
  domains: string[];
  markers: CompiledMarkers;
  events: Array<{ event: ReservationEvent; markers: CompiledMarkers }>;
  digest: (CompiledMarkers & { countPatterns: RegExp[] }) | null;
  verification: (CompiledMarkers & { codePatterns: RegExp[]; urlPatterns: RegExp[] }) | null;
  /** Label (normalised key) → field, generic aliases merged with the site's. */
  labels: Map<string, LabelField>;
  bookingIdPatterns: RegExp[];
  patterns: CompiledPattern[];
  /** The site's own event and digest wording, scored on top of the shared vocabulary. */
  phrases: Partial<Record<ReservationEvent | 'digest', CompiledMarkers>>;
  optionalFields: Partial<Record<ReservationEvent, Set<RequirableField>>>;
}

/** The order events are recognised in: a cancel mail may mention the original booking, never the reverse. */
export const EVENT_PRECEDENCE: ReservationEvent[] = ['cancel', 'change', 'request', 'new'];

/**
 * Generic label aliases, the vocabulary of Japanese booking mails (and
 * OpenTable's English). Matched exactly, after {@link labelKey}: "予約受付日時"
 * (when the booking was made) must not be read as "予約日時" (the visit).
 */
export const GENERIC_LABELS: Record<LabelField, string[]> = {
  reservationId: [
    '予約番号',
    'ご予約番号',
    '予約依頼番号',
    '受付番号',
    '予約受付番号',
    '予約ID',
    '予約No',
    '予約No.',
    '予約コード',
    '申込番号',
    'お申込番号',
    'Confirmation #',
    'Confirmation',
    'Confirmation number',
    'Confirmation no.',
    'Reservation ID',
    'Reservation number',
    'Reservation',
    'Booking ID',
    'Booking reference',
    'Booking number',
    'Reference',
  ],
  visitDate: [
    '来店日時',
    'ご来店日時',
    '来店日',
    'ご来店日',
    '来店予定日',
    'ご来店予定日',
    '来店予定日時',
    'ご来店予定日時',
    '利用日時',
    'ご利用日時',
    '利用日',
    'ご利用日',
    '予約日時',
    'ご予約日時',
    '予約日',
    'ご予約日',
    '日付',
    '日時',
    '予約日程',
    'Date',
    'Date/Time',
    'Date and time',
    'When',
  ],
  visitTime: [
    '来店時刻',
    'ご来店時刻',
    '来店時間',
    'ご来店時間',
    '時間',
    '時刻',
    '開始時間',
    '開始時刻',
    '利用時間',
    'ご利用時間',
    'Time',
  ],
  partySize: [
    '人数',
    'ご利用人数',
    '利用人数',
    '予約人数',
    'ご予約人数',
    '来店人数',
    'ご来店人数',
    '人数(合計)',
    '合計人数',
    'Party size',
    'Party',
    'Guests',
    'Number of guests',
    'Covers',
  ],
  adults: ['大人', '大人人数', 'Adults'],
  children: ['子供', '子ども', 'お子様', 'お子さま', '小人', 'Children', 'Kids'],
  guestName: [
    'お名前',
    '名前',
    '氏名',
    'ご氏名',
    '予約者',
    '予約者名',
    'ご予約者',
    'ご予約者名',
    '予約者氏名',
    '予約者様',
    '代表者',
    '代表者名',
    '代表者氏名',
    'お客様名',
    'お客様',
    '利用者名',
    'Guest',
    'Guest name',
    'Name',
  ],
  guestNameKana: [
    'フリガナ',
    'ふりがな',
    'カナ',
    'お名前(カナ)',
    'お名前(フリガナ)',
    'お名前(ふりがな)',
    '予約者名(カナ)',
    '予約者名(フリガナ)',
    '氏名(カナ)',
    '氏名(フリガナ)',
    '代表者名(カナ)',
    '代表者名(フリガナ)',
    '代表者氏名(カナ)',
    '代表者氏名(フリガナ)',
    '予約者氏名(カナ)',
    '予約者氏名(フリガナ)',
    'セイメイ',
  ],
  phone: [
    '電話番号',
    'お電話番号',
    '電話',
    'TEL',
    '連絡先',
    '連絡先電話番号',
    'ご連絡先',
    '携帯電話',
    '携帯電話番号',
    '予約者電話番号',
    '代表者電話番号',
    'Phone',
    'Phone number',
    'Telephone',
  ],
  course: [
    'コース',
    'コース名',
    'ご予約コース',
    '予約コース',
    'プラン',
    'プラン名',
    'ご予約プラン',
    '予約プラン',
    'Offer',
    'Experience',
  ],
  seats: [
    '席',
    'お席',
    '座席',
    '卓',
    '席タイプ',
    '席種',
    'お席の種類',
    '席の種類',
    '座席タイプ',
    'Seating',
    'Seating area',
    'Table',
  ],
  notes: [
    'ご要望',
    '要望',
    '備考',
    'ご要望・備考',
    '要望・備考',
    'ご要望/備考',
    '備考欄',
    'お店へのリクエスト',
    'お店への要望',
    'リクエスト',
    'ご質問・ご要望',
    'お客様からのご要望',
    'メッセージ',
    '連絡事項',
    'Special requests',
    'Notes',
    'Guest notes',
    'Requests',
  ],
  storeName: ['店舗名', '店舗', '店名', '予約店舗', 'ご予約店舗', 'お店', 'Restaurant'],
};

/** The form labels are compared in: NFKC, no spaces, lower case. */
export function labelKey(label: string): string {
  return normalizeInline(label).replace(/ /g, '').toLowerCase();
}

const cache = new WeakMap<readonly SiteDefinition[], CompiledSite[]>();

/** Compiles a site set once; later calls with the same array return the cached form. */
export function compileSites(sites: readonly SiteDefinition[]): CompiledSite[] {
  const hit = cache.get(sites);
  if (hit) return hit;
  const compiled = sites.map(compileSite);
  cache.set(sites, compiled);
  return compiled;
}

function markers(m: { subject?: string[]; body?: string[] } | undefined): CompiledMarkers {
  // Markers are compared against normalised text, so normalise them the same way.
  return {
    subject: (m?.subject ?? []).map((s) => normalizeInline(s).toLowerCase()),
    body: (m?.body ?? []).map((s) => normalizeInline(s).toLowerCase()),
  };
}

function regexes(sources: string[] | undefined, flags = 'i'): RegExp[] {
  return (sources ?? []).map((s) => new RegExp(s, flags));
}

function compileSite(def: SiteDefinition): CompiledSite {
  const labels = new Map<string, LabelField>();
  const ignored = new Set((def.ignoreLabels ?? []).map(labelKey));
  for (const field of LABEL_FIELDS) {
    for (const alias of GENERIC_LABELS[field]) {
      const key = labelKey(alias);
      if (!ignored.has(key)) labels.set(key, field);
    }
  }
  for (const field of LABEL_FIELDS) {
    for (const alias of def.labels?.[field] ?? []) labels.set(labelKey(alias), field);
  }
  const optionalFields: CompiledSite['optionalFields'] = {};
  for (const event of EVENTS) {
    const list = def.optionalFields?.[event];
    if (list) optionalFields[event] = new Set(list);
  }
  return {
    def,
    source: def.source,
    addresses: new Set((def.senders.addresses ?? []).map((a) => a.toLowerCase())),
    domains: (def.senders.domains ?? []).map((d) => d.toLowerCase()),
    markers: markers(def.markers),
    events: EVENT_PRECEDENCE.filter((e) => def.events?.[e]).map((event) => ({
      event,
      markers: markers(def.events?.[event]),
    })),
    digest: def.digest ? { ...markers(def.digest), countPatterns: regexes(def.digest.countPatterns) } : null,
    verification: def.verification
      ? {
          ...markers(def.verification),
          codePatterns: regexes(def.verification.codePatterns),
          urlPatterns: regexes(def.verification.urlPatterns),
        }
      : null,
    labels,
    bookingIdPatterns: regexes(def.bookingIdPatterns),
    patterns: compilePatterns(def.patterns ?? []),
    phrases: Object.fromEntries([
      ...EVENT_PRECEDENCE.filter((e) => def.events?.[e]).map((e) => [e, markers(def.events?.[e])]),
      ...(def.digest ? [['digest', markers(def.digest)]] : []),
    ]) as CompiledSite['phrases'],
    optionalFields,
  };
}
