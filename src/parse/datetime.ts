/**
 * Dates and times as Japanese booking sites (and OpenTable, and mail clients
 * quoting a forwarded header) write them. Input is NFKC-normalised text, so
 * digits and colons are ASCII. Every regex here is anchored on literal
 * separators with bounded quantifiers: no backtracking blow-up on hostile text.
 */
import { DAY_MS, HOUR_MS } from '../shared/index.ts';

/** Japan has one offset and no DST: local date = UTC + 9 h. */
export const JST_OFFSET_MS = 9 * HOUR_MS;
/**
 * How far in the past a date without a year may lie before we read it as next
 * year. Sites send cancellations and digests a little after the visit, but a
 * reservation "1/5" in a December mail is for January of the next year.
 */
export const YEAR_INFERENCE_PAST_DAYS = 7;

export interface DateParts {
  year: number | null;
  month: number;
  day: number;
  /** Index of the first and one past the last matched character, so callers can look for a time after it. */
  index: number;
  end: number;
}

const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};

// 2026年8月30日 / 2026/08/30 / 2026-8-30 / 2026.8.30 / 8/30 / 12月24日. The look-behind keeps
// "12345/6/7" from matching in the middle of a number.
const NUMERIC_DATE = /(?<!\d)(?:(\d{4}) ?[年/.-] ?)?(\d{1,2}) ?[月/.-] ?(\d{1,2})(?!\d)/;
// December 24, 2026 / Dec. 24 2026 / Thursday, December 24
const ENGLISH_DATE_MDY =
  /\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.? {1,3}(\d{1,2})(?:st|nd|rd|th)?(?:,? {1,3}(\d{4}))?(?!\d)/i;
// 24 December 2026 / 8 Nov 2026
const ENGLISH_DATE_DMY =
  /(?<!\d)(\d{1,2}) {1,3}(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.?(?:,? {1,3}(\d{4}))?/i;

/** Finds the first date in a string; the year is null when the text has none. */
export function findDate(text: string): DateParts | null {
  let best: DateParts | null = null;
  const numeric = NUMERIC_DATE.exec(text);
  if (numeric) {
    best = {
      year: numeric[1] ? Number(numeric[1]) : null,
      month: Number(numeric[2]),
      day: Number(numeric[3]),
      index: numeric.index,
      end: numeric.index + numeric[0].length,
    };
    // "12月24日": swallow the 日 so a time search after `end` does not see it.
    if (text[best.end] === '日') best.end++;
  }
  const mdy = ENGLISH_DATE_MDY.exec(text);
  if (mdy && (best === null || mdy.index < best.index)) {
    best = {
      year: mdy[3] ? Number(mdy[3]) : null,
      month: MONTHS[(mdy[1] as string).toLowerCase()] as number,
      day: Number(mdy[2]),
      index: mdy.index,
      end: mdy.index + mdy[0].length,
    };
  }
  const dmy = ENGLISH_DATE_DMY.exec(text);
  if (dmy && (best === null || dmy.index < best.index)) {
    best = {
      year: dmy[3] ? Number(dmy[3]) : null,
      month: MONTHS[(dmy[2] as string).toLowerCase()] as number,
      day: Number(dmy[1]),
      index: dmy.index,
      end: dmy.index + dmy[0].length,
    };
  }
  return best;
}

/** True when year-month-day is a real calendar date. */
export function isValidDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** The calendar date in Japan of an instant, as UTC-midnight milliseconds. */
function japanDay(instant: Date): number {
  const shifted = instant.getTime() + JST_OFFSET_MS;
  return shifted - (((shifted % DAY_MS) + DAY_MS) % DAY_MS);
}

/**
 * The year of a month/day written without one: the nearest such date that is
 * not more than {@link YEAR_INFERENCE_PAST_DAYS} before the reference (the
 * message Date, in Japan time). A December mail about 1/5 → next January.
 */
export function inferYear(month: number, day: number, reference: Date): number {
  const refDay = japanDay(reference);
  const refYear = new Date(refDay).getUTCFullYear();
  const earliest = refDay - YEAR_INFERENCE_PAST_DAYS * DAY_MS;
  for (const year of [refYear - 1, refYear, refYear + 1]) {
    // Feb 29 only exists in leap years: skip the years where it does not.
    if (!isValidDate(year, month, day)) continue;
    if (Date.UTC(year, month - 1, day) >= earliest) return year;
  }
  return refYear + 1;
}

/** Formats a date as YYYY-MM-DD. */
export function formatDate(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

// 18:30 / 18時30分 / 18時 / 6時半 / 午後6時半 / 7:00 PM / 7:00pm. Hours and minutes are
// bounded digit runs, the optional parts are literals: linear.
const CLOCK_TIME = /(午前|午後)? ?(\d{1,2})(?::(\d{2})|時(?:(\d{1,2})分|(半))?)(?::\d{2})?(?: ?([ap])\.?m\b\.?)?/i;
// "7 PM" (no minutes), only with a meridiem marker.
const HOUR_MERIDIEM = /(?<![\d:])(\d{1,2}) ?([ap])\.?m\b\.?/i;

export interface TimeMatch {
  /** HH:MM, or null when the digits do not make a valid time (25:99). */
  time: string | null;
  index: number;
}

/**
 * Finds the first clock time in a string. A range `12:00~13:00` yields its
 * start. Returns null when there is no time-looking text at all.
 */
export function findTime(text: string): TimeMatch | null {
  const clock = CLOCK_TIME.exec(text);
  const meridiem = HOUR_MERIDIEM.exec(text);
  if (meridiem && (clock === null || meridiem.index < clock.index)) {
    return { time: toTime(Number(meridiem[1]), 0, null, meridiem[2] as string), index: meridiem.index };
  }
  if (!clock) return null;
  const hour = Number(clock[2]);
  const minute = clock[3] ? Number(clock[3]) : clock[4] ? Number(clock[4]) : clock[5] ? 30 : 0;
  return { time: toTime(hour, minute, clock[1] ?? null, clock[6] ?? null), index: clock.index };
}

function toTime(
  hour: number,
  minute: number,
  japaneseMeridiem: string | null,
  latinMeridiem: string | null,
): string | null {
  let h = hour;
  const pm = japaneseMeridiem === '午後' || (latinMeridiem !== null && latinMeridiem.toLowerCase() === 'p');
  const am = japaneseMeridiem === '午前' || (latinMeridiem !== null && latinMeridiem.toLowerCase() === 'a');
  if (pm || am) {
    if (h < 1 || h > 12) return null;
    if (pm && h < 12) h += 12;
    if (am && h === 12) h = 0;
  }
  if (h > 23 || minute > 59) return null;
  return `${pad2(h)}:${pad2(minute)}`;
}

// An explicit zone makes a header date self-describing: leave it to Date.parse.
const EXPLICIT_ZONE = /(?:[+-]\d{4}\b|\bGMT\b|\bUTC\b|\bJST\b)/;

/**
 * Parses the Date line of a forwarded message as a mail client quoted it
 * (`Sun, Nov 8, 2026 at 10:14 AM`, `2026年11月8日(日) 10:14`, RFC 5322 with a
 * zone). Without a zone the time is taken as Japan time, never the host's.
 * Returns null when there is no usable date.
 */
export function parseQuotedHeaderDate(text: string): Date | null {
  if (EXPLICIT_ZONE.test(text)) {
    const ms = Date.parse(text.replace(/\bJST\b/, '+0900').replace(/ at /, ' '));
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  const date = findDate(text);
  if (!date || date.year === null || !isValidDate(date.year, date.month, date.day)) return null;
  const time = findTime(text.slice(date.end));
  const [hh, mm] = time?.time ? time.time.split(':').map(Number) : [0, 0];
  return new Date(Date.UTC(date.year, date.month - 1, date.day, hh, mm) - JST_OFFSET_MS);
}
