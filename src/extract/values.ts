/**
 * Value parsers: one raw label value (NFKC-normalised) → the typed field.
 * Each returns the value and, when something is off, a review reason.
 */

import { findDate, findTime, formatDate, inferYear, isValidDate } from '../parse/index.ts';

export interface Parsed<T> {
  value: T | null;
  /** A review reason (`invalid:visitDate`, `masked:guestName`, …) or null. */
  problem: string | null;
}

export interface ParsedDateTime {
  date: string | null;
  time: string | null;
  /** True when the value has date-looking text that is not a real date (2/30). */
  invalidDate: boolean;
  invalidTime: boolean;
}

/**
 * Reads a date and/or time from one value: `2026年8月30日(日) 18:30`,
 * `2026/08/30 19:00~21:30`, `11/09`, `Thursday, December 24, 2026 at 7:00 PM`.
 * A missing year is inferred from `reference` (see inferYear).
 */
export function parseDateTime(raw: string, reference: Date): ParsedDateTime {
  const found = findDate(raw);
  let date: string | null = null;
  let invalidDate = false;
  let rest = raw;
  if (found) {
    const year = found.year ?? inferYear(found.month, found.day, reference);
    if (isValidDate(year, found.month, found.day)) date = formatDate(year, found.month, found.day);
    else invalidDate = true;
    rest = raw.slice(found.end);
  }
  const time = findTime(rest);
  return { date, time: time?.time ?? null, invalidDate, invalidTime: time !== null && time.time === null };
}

// Party size: "4名", "4名様", "4人", "2 people", "Party of 2".
const TOTAL = /(\d{1,3}) ?(?:名|人|様|people|persons|guests|pax|covers)/i;
const FIRST_NUMBER = /\d{1,3}/;
const ADULTS = /(?:大人|adults?) ?:? ?(\d{1,3})/gi;
const CHILDREN =
  /(?:子供|子ども|こども|お子様|お子さま|小人|幼児|乳児|未就学児|小学生|children|child|kids?) ?:? ?(\d{1,3})/gi;

/**
 * Total party size. `大人2名 子供1名` = 3. A parenthesised part never
 * overrides the total written before it: `2名(お1人様:2名)` is 2 (じゃらん's
 * per-person note, which a known vendor parser read as 1). A breakdown in
 * parentheses that disagrees with the total (`4名(大人2名・子供1名)`) keeps
 * the total and reports `ambiguous:partySize`.
 */
export function parsePartySize(raw: string): Parsed<number> {
  const outside = withoutParentheses(raw);
  const adultsOutside = sumMatches(ADULTS, outside);
  const totalMatch = TOTAL.exec(outside);
  const adultsIndex = outside.search(/大人|adult/i);
  if (adultsOutside !== null && (totalMatch === null || adultsIndex < totalMatch.index)) {
    const size = adultsOutside + (sumMatches(CHILDREN, outside) ?? 0);
    return size > 0 ? { value: size, problem: null } : { value: null, problem: 'invalid:partySize' };
  }
  const total = totalMatch ? Number(totalMatch[1]) : firstNumber(outside);
  if (total === null || total <= 0) {
    const fromBreakdown = sumMatches(ADULTS, raw);
    if (fromBreakdown !== null) return { value: fromBreakdown + (sumMatches(CHILDREN, raw) ?? 0), problem: null };
    return { value: null, problem: 'invalid:partySize' };
  }
  const adults = sumMatches(ADULTS, raw);
  if (adults !== null) {
    const breakdown = adults + (sumMatches(CHILDREN, raw) ?? 0);
    if (breakdown !== total) return { value: total, problem: 'ambiguous:partySize' };
  }
  return { value: total, problem: null };
}

function firstNumber(s: string): number | null {
  const m = FIRST_NUMBER.exec(s);
  return m ? Number(m[0]) : null;
}

function sumMatches(re: RegExp, s: string): number | null {
  re.lastIndex = 0;
  let sum: number | null = null;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}

/** The text outside (…) and […], nesting-aware, in one pass. */
export function withoutParentheses(s: string): string {
  let depth = 0;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '[' || c === '【') depth++;
    else if ((c === ')' || c === ']' || c === '】') && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

// Masking: sites hide parts of names and numbers with asterisks or circles.
const MASK = /[*＊●]|○○|××|〇〇/;
const HONORIFIC = / ?(?:様|さま|殿|sama)$/i;

// A reading in parentheses after a name: 山田 太郎（ヤマダ タロウ）, 山田(やまだ). Katakana
// (full- and half-width, with the prolonged-sound and voicing marks), hiragana, spaces.
const READING = /^(.*?) ?[(（]([\p{Script=Katakana}\p{Script=Hiragana}ー・ｰﾞﾟ ]{1,40})[)）]$/u;

/**
 * A guest name as written (no NFKC: `髙` and full-width letters stay), without
 * honorific; masked names are kept as written and reported.
 */
export function parseName(raw: string, field: 'guestName' | 'guestNameKana'): Parsed<string> {
  const name = raw.split('\n')[0]!.replace(/\s+/g, ' ').trim().replace(HONORIFIC, '').trim();
  if (name === '') return { value: null, problem: null };
  return { value: name, problem: MASK.test(name) ? `masked:${field}` : null };
}

/**
 * Splits a reading written in parentheses after the name (`山田 太郎（ヤマダ タロウ）様`)
 * into the name and its reading; null when the value has none.
 */
export function splitReading(name: string): { name: string; reading: string } | null {
  const m = READING.exec(name.replace(HONORIFIC, '').trim());
  if (!m || m[1]!.trim() === '') return null;
  return { name: m[1]!.trim().replace(HONORIFIC, '').trim(), reading: m[2]!.trim() };
}

/**
 * A phone number as digits only, leading 0 kept; `+81 90-…` and
 * `+81 (0)3-…` become `090…`/`03…`. Masked numbers (`090-****-5678`) give null
 * and `masked:phone`; fewer than 9 digits give `invalid:phone`.
 */
export function parsePhone(raw: string): Parsed<string> {
  // Take the first phone-looking run: digits with separators, a leading +.
  let start = -1;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if ((c >= '0' && c <= '9') || c === '+' || c === '*') {
      start = i;
      break;
    }
  }
  if (start === -1) return { value: null, problem: raw.trim() === '' ? null : 'invalid:phone' };
  let end = start;
  while (end < raw.length && /[0-9+\-() *.xX●]/.test(raw[end] as string)) end++;
  const run = raw.slice(start, end).trim();
  if (/[*●]|\d[xX]|[xX]\d|[xX]{2}/.test(run)) return { value: null, problem: 'masked:phone' };
  let digits = run.replace(/\D/g, '');
  if (run.startsWith('+81') || run.startsWith('+ 81')) {
    digits = digits.slice(2);
    if (!digits.startsWith('0')) digits = '0' + digits;
  }
  if (digits.length < 9 || digits.length > 15) return { value: null, problem: 'invalid:phone' };
  return { value: digits, problem: null };
}

/** The booking id: the first token of letters, digits and -_.:#/ (labels often add "(ネット予約)"). */
export function parseReservationId(raw: string): string | null {
  const m = /[A-Za-z0-9][A-Za-z0-9_\-:.#/]{0,63}/.exec(raw);
  if (!m) return null;
  return m[0].replace(/[.:]+$/, '');
}

// Values that say "nothing" for free-text fields.
const EMPTY_VALUES = new Set([
  '',
  '-',
  '--',
  'ー',
  'なし',
  '特になし',
  'ありません',
  '特にありません',
  'none',
  'n/a',
  'na',
  '無し',
  '未記入',
  '指定なし',
]);

/** Free text (course, seats, notes, store name) as written: trimmed, null when it says "none". */
export function parseText(raw: string): string | null {
  const text = raw.trim();
  return EMPTY_VALUES.has(text.normalize('NFKC').toLowerCase()) ? null : text;
}

// Values are as written, so the full-width forms of the ASCII arrows count too.
const ARROWS = ['→', '⇒', '⇨', '➡', '->', '=>', '－＞', '＝＞', '－>'];

/** Splits an `old → new` value (also ⇒, ->, =>); null when the value has no arrow. */
export function splitChange(raw: string): { from: string; to: string } | null {
  let at = -1;
  let len = 0;
  for (const arrow of ARROWS) {
    const i = raw.indexOf(arrow);
    if (i !== -1 && (at === -1 || i < at)) {
      at = i;
      len = arrow.length;
    }
  }
  if (at === -1) return null;
  return { from: raw.slice(0, at).trim(), to: raw.slice(at + len).trim() };
}
