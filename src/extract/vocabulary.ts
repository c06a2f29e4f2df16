/**
 * The event vocabulary: one set of phrases for every site (config/vocabulary.json),
 * scored over the subject and the body together. A site file only adds its own
 * wording on top (its `events` and `digest` markers). Loading validates the
 * file and compiles it once; scoring is plain substring search, linear in the text.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeInline } from '../parse/index.ts';
import { PACKAGE_ROOT } from '../paths.ts';
import { SiteDefinitionError, checkPatternList, compilePatterns } from './sites.ts';
import type { CompiledPattern } from './sites.ts';

/** The vocabulary shipped with the release. */
export const SHIPPED_VOCABULARY_FILE = join(PACKAGE_ROOT, 'config', 'vocabulary.json');

/**
 * What a mail can be, as the vocabulary sees it. `request-cancel` (a request
 * withdrawn or declined) is reported as the event `cancel`; the
 * `non-booking:*` classes (reviews, newsletters, point summaries, surveys,
 * system notices) are never reservations.
 */
export const VOCABULARY_CLASSES = [
  'new',
  'change',
  'cancel',
  'request',
  'request-cancel',
  'digest',
  'verification',
  'non-booking:review',
  'non-booking:newsletter',
  'non-booking:points',
  'non-booking:survey',
  'non-booking:notice',
] as const;
export type VocabularyClass = (typeof VOCABULARY_CLASSES)[number];

/** The classes that are booking events. */
export const BOOKING_CLASSES: readonly VocabularyClass[] = ['new', 'change', 'cancel', 'request', 'request-cancel'];

export interface VocabularyPhrase {
  text: string;
  score: number;
  /** Where the phrase counts: the subject, the body, or both (default). */
  in?: 'subject' | 'body' | 'any';
}

/** The vocabulary file's shape (docs/sites.md documents each field). */
export interface VocabularyDefinition {
  $comment?: string;
  subjectPrefixes: string[];
  subjectWeight: number;
  siteMarkerScore: number;
  minScore: number;
  ambiguityMargin: number;
  classes: Partial<Record<VocabularyClass, VocabularyPhrase[]>>;
  subjectPatterns?: Array<{ regex: string; flags?: string; fields: Record<string, number> }>;
  subjectNameStopWords?: string[];
  verificationCodePatterns?: string[];
  digestCountPatterns?: string[];
}

/** The compiled vocabulary {@link scoreClasses} uses. */
export interface Vocabulary {
  prefixes: string[];
  subjectWeight: number;
  siteMarkerScore: number;
  minScore: number;
  ambiguityMargin: number;
  phrases: Array<{ cls: VocabularyClass; text: string; score: number; subject: boolean; body: boolean }>;
  subjectPatterns: CompiledPattern[];
  nameStopWords: string[];
  verificationCodePatterns: RegExp[];
  digestCountPatterns: RegExp[];
}

const TOP_KEYS = new Set([
  '$comment',
  'subjectPrefixes',
  'subjectWeight',
  'siteMarkerScore',
  'minScore',
  'ambiguityMargin',
  'classes',
  'subjectPatterns',
  'subjectNameStopWords',
  'verificationCodePatterns',
  'digestCountPatterns',
]);
/** Subject pattern fields: what the subject of a notification can carry. */
const SUBJECT_FIELDS = ['reservationId', 'visitDate', 'visitTime', 'partySize', 'guestName'];

let shipped: Vocabulary | null = null;

/** The shipped vocabulary, read and compiled on first use (once per process or worker). */
export function defaultVocabulary(): Vocabulary {
  shipped ??= loadVocabulary(SHIPPED_VOCABULARY_FILE);
  return shipped;
}

/**
 * Reads, validates and compiles a vocabulary file. Throws
 * {@link SiteDefinitionError} naming the file and every bad field.
 */
export function loadVocabulary(file: string): Vocabulary {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SiteDefinitionError(file, [`not readable JSON (${(err as Error).message})`]);
  }
  return compileVocabulary(validateVocabulary(data, file));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a parsed vocabulary; throws {@link SiteDefinitionError} listing every problem. */
export function validateVocabulary(data: unknown, file: string): VocabularyDefinition {
  const problems: string[] = [];
  if (!isObject(data)) throw new SiteDefinitionError(file, ['the file must hold one JSON object']);
  for (const key of Object.keys(data)) if (!TOP_KEYS.has(key)) problems.push(`${key}: unknown field`);
  const strings = (v: unknown, at: string): void => {
    if (v === undefined) return;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.trim() === ''))
      problems.push(`${at}: must be an array of non-empty strings`);
  };
  strings(data.subjectPrefixes, 'subjectPrefixes');
  if (data.subjectPrefixes === undefined) problems.push('subjectPrefixes: required');
  strings(data.subjectNameStopWords, 'subjectNameStopWords');
  for (const key of ['subjectWeight', 'siteMarkerScore', 'minScore', 'ambiguityMargin']) {
    const v = data[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100)
      problems.push(`${key}: must be a number from 0 to 100`);
  }
  if (!isObject(data.classes)) problems.push('classes: must be an object keyed by class');
  else {
    for (const [cls, list] of Object.entries(data.classes)) {
      if (!(VOCABULARY_CLASSES as readonly string[]).includes(cls)) {
        problems.push(`classes.${cls}: unknown class (expected one of ${VOCABULARY_CLASSES.join(', ')})`);
        continue;
      }
      if (!Array.isArray(list)) {
        problems.push(`classes.${cls}: must be an array of {text, score}`);
        continue;
      }
      list.forEach((p: unknown, i: number) => {
        const at = `classes.${cls}[${i}]`;
        if (!isObject(p)) return problems.push(`${at}: must be an object {text, score, in?}`);
        for (const k of Object.keys(p))
          if (!['text', 'score', 'in'].includes(k)) problems.push(`${at}.${k}: unknown field`);
        if (typeof p.text !== 'string' || p.text.trim() === '') problems.push(`${at}.text: must be a non-empty string`);
        if (typeof p.score !== 'number' || p.score <= 0 || p.score > 100)
          problems.push(`${at}.score: must be a number above 0 and at most 100`);
        if (p.in !== undefined && !['subject', 'body', 'any'].includes(p.in as string))
          problems.push(`${at}.in: must be "subject", "body" or "any"`);
        return undefined;
      });
    }
  }
  checkPatternList(data.subjectPatterns, 'subjectPatterns', SUBJECT_FIELDS, problems);
  for (const key of ['verificationCodePatterns', 'digestCountPatterns']) {
    const list = data[key];
    if (list !== undefined && !Array.isArray(list)) problems.push(`${key}: must be an array of regex strings`);
    else if (Array.isArray(list))
      checkPatternList(
        list.map((regex: unknown) => ({ regex, fields: { value: 1 } })),
        key,
        ['value'],
        problems,
      );
  }
  if (problems.length > 0) throw new SiteDefinitionError(file, problems);
  return data as unknown as VocabularyDefinition;
}

function fold(s: string): string {
  return normalizeInline(s).toLowerCase();
}

/** Compiles a validated vocabulary. */
export function compileVocabulary(def: VocabularyDefinition): Vocabulary {
  const phrases: Vocabulary['phrases'] = [];
  for (const cls of VOCABULARY_CLASSES) {
    for (const p of def.classes[cls] ?? []) {
      const where = p.in ?? 'any';
      phrases.push({ cls, text: fold(p.text), score: p.score, subject: where !== 'body', body: where !== 'subject' });
    }
  }
  return {
    prefixes: def.subjectPrefixes.map(fold),
    subjectWeight: def.subjectWeight,
    siteMarkerScore: def.siteMarkerScore,
    minScore: def.minScore,
    ambiguityMargin: def.ambiguityMargin,
    phrases,
    subjectPatterns: compilePatterns(def.subjectPatterns ?? [], 'i'),
    nameStopWords: (def.subjectNameStopWords ?? []).map(fold),
    verificationCodePatterns: (def.verificationCodePatterns ?? []).map((s) => new RegExp(s, 'i')),
    digestCountPatterns: (def.digestCountPatterns ?? []).map((s) => new RegExp(s, 'i')),
  };
}

/**
 * Removes forwarding and reply prefixes (`Fwd:`, `FW:`, `転送:`, `Re:`,
 * `【転送】`, repeated) from a normalised subject.
 */
export function stripSubjectPrefixes(subject: string, vocabulary: Vocabulary): string {
  let s = subject.trim();
  for (let changed = true; changed;) {
    changed = false;
    const lower = s.toLowerCase();
    for (const prefix of vocabulary.prefixes) {
      // "Fwd :" and "Fwd:" alike: compare without the spaces a client may add before the colon.
      const compact = lower.replace(/^(\S{1,6}) :/, '$1:');
      if (compact.startsWith(prefix)) {
        s = s.slice(lower.length - compact.length + prefix.length).trim();
        changed = true;
        break;
      }
    }
  }
  return s;
}

// Quoted header lines of a forward or reply that the parser did not unwrap;
// they repeat another message's subject and must not count as this one's wording.
const QUOTED_HEADER = /^(?:>\s?)*(?:from|sent|date|to|cc|subject|差出人|送信者|送信日時|日付|宛先|件名)\s?:/i;
const QUOTED_SEPARATOR =
  /^(?:>\s?)*[-_ ]*(?:forwarded message|original message|転送メッセージ|転送されたメッセージ|begin forwarded message)[-_ :]*$/i;

/** The body without quoted forwarding header blocks, lower-cased, for scoring. */
export function scoringBody(lines: readonly string[]): string {
  const kept: string[] = [];
  for (const line of lines) {
    if (line.length < 200 && (QUOTED_HEADER.test(line) || QUOTED_SEPARATOR.test(line.trim()))) continue;
    kept.push(line);
  }
  return kept.join('\n').toLowerCase();
}

/** Extra phrases a site contributes, per class. */
export type SitePhrases = Partial<Record<VocabularyClass, { subject: string[]; body: string[] }>>;

/**
 * Scores every class over the (prefix-stripped, lower-cased) subject and the
 * scoring body. A phrase counts once, with `subjectWeight` when it is in the
 * subject; a site's own phrases score `siteMarkerScore`.
 */
export function scoreClasses(
  vocabulary: Vocabulary,
  subject: string,
  body: string,
  site: SitePhrases = {},
): Map<VocabularyClass, number> {
  const scores = new Map<VocabularyClass, number>();
  const add = (cls: VocabularyClass, n: number): void => {
    scores.set(cls, (scores.get(cls) ?? 0) + n);
  };
  for (const p of vocabulary.phrases) {
    if (p.subject && subject.includes(p.text)) add(p.cls, p.score * vocabulary.subjectWeight);
    else if (p.body && body.includes(p.text)) add(p.cls, p.score);
  }
  for (const [cls, markers] of Object.entries(site) as Array<
    [VocabularyClass, { subject: string[]; body: string[] }]
  >) {
    if (markers.subject.some((m) => subject.includes(m)))
      add(cls, vocabulary.siteMarkerScore * vocabulary.subjectWeight);
    if (markers.body.some((m) => body.includes(m))) add(cls, vocabulary.siteMarkerScore);
  }
  return scores;
}

/** The verdict of the vocabulary on one mail. */
export type Verdict =
  | { kind: 'event'; event: 'new' | 'change' | 'cancel' | 'request' }
  | { kind: 'digest' }
  | { kind: 'verification' }
  | { kind: 'non-booking'; what: string }
  | { kind: 'none'; reason: 'ambiguous:event' | null };

/**
 * Decides from the scores: the best class needs `minScore`; a non-booking,
 * digest or verification class wins over booking events when it scores at
 * least as high; two booking events within `ambiguityMargin` of each other
 * are ambiguous (never a guess).
 */
export function decide(vocabulary: Vocabulary, scores: Map<VocabularyClass, number>): Verdict {
  const booking = BOOKING_CLASSES.map((cls) => ({ cls, score: scores.get(cls) ?? 0 }))
    // A request that was cancelled is one thing, not a request and a cancel.
    .map((b) =>
      b.cls === 'cancel' && (scores.get('request-cancel') ?? 0) > 0
        ? { cls: b.cls, score: b.score + (scores.get('request-cancel') ?? 0) }
        : b,
    )
    .filter((b) => b.cls !== 'request-cancel')
    .map((b) => (b.cls === 'request' && (scores.get('request-cancel') ?? 0) > 0 ? { cls: b.cls, score: 0 } : b))
    .sort((a, b) => b.score - a.score);
  const best = booking[0]!;
  let other: { cls: VocabularyClass; score: number } | null = null;
  for (const [cls, score] of scores) {
    if ((BOOKING_CLASSES as readonly string[]).includes(cls)) continue;
    if (score >= vocabulary.minScore && (other === null || score > other.score)) other = { cls, score };
  }
  if (other !== null && other.score >= best.score) {
    if (other.cls === 'digest') return { kind: 'digest' };
    if (other.cls === 'verification') return { kind: 'verification' };
    return { kind: 'non-booking', what: other.cls };
  }
  if (best.score < vocabulary.minScore) return { kind: 'none', reason: null };
  const second = booking[1]!;
  if (second.score >= vocabulary.minScore && best.score - second.score <= vocabulary.ambiguityMargin)
    return { kind: 'none', reason: 'ambiguous:event' };
  return { kind: 'event', event: best.cls as 'new' | 'change' | 'cancel' | 'request' };
}
