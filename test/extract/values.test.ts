import { describe, expect, it } from 'vitest';
import {
  parseDateTime,
  parseName,
  parsePartySize,
  parsePhone,
  parseReservationId,
  splitChange,
} from '../../src/extract/index.ts';
import { findTime, inferYear, normalizeInline } from '../../src/parse/index.ts';

// A mail sent 2026-11-02 10:00 in Japan.
const NOV_2026 = new Date('2026-11-02T01:00:00Z');
const n = normalizeInline;

describe('dates', () => {
  it.each([
    ['2026年8月30日(日) 18:30', '2026-08-30', '18:30'],
    ['2026/08/30', '2026-08-30', null],
    ['2026-8-30 12:00~13:00', '2026-08-30', '12:00'],
    ['２０２６年１２月２４日（木）', '2026-12-24', null],
    ['Thursday, December 24, 2026 at 7:00 PM', '2026-12-24', '19:00'],
    ['24 Dec 2026 19:30', '2026-12-24', '19:30'],
  ])('reads %s', (raw, date, time) => {
    const parsed = parseDateTime(n(raw), NOV_2026);
    expect(parsed.date).toBe(date);
    expect(parsed.time).toBe(time);
  });

  it('infers the year of 11/09 from the message date', () => {
    expect(parseDateTime('11/09(月)', NOV_2026).date).toBe('2026-11-09');
    expect(parseDateTime('12月24日', NOV_2026).date).toBe('2026-12-24');
  });

  it('reads January in a December mail as next year', () => {
    expect(inferYear(1, 5, new Date('2026-12-28T12:00:00Z'))).toBe(2027);
  });

  it('keeps a date a few days in the past in the same year (late cancel notices)', () => {
    expect(inferYear(10, 30, NOV_2026)).toBe(2026);
  });

  it('reads a date more than a week in the past as next year', () => {
    expect(inferYear(10, 1, NOV_2026)).toBe(2027);
  });

  it('uses the Japanese calendar day, not the UTC one, as reference', () => {
    // 2027-01-01 00:30 in Japan is still 2026-12-31 in UTC: 12/24 is 8 days
    // back in Japan (next year), but only 7 in UTC.
    const newYearInJapan = new Date('2026-12-31T15:30:00Z');
    expect(inferYear(12, 24, newYearInJapan)).toBe(2027);
    expect(inferYear(12, 25, newYearInJapan)).toBe(2026);
  });

  it('reports an impossible date instead of inventing one', () => {
    const parsed = parseDateTime('2026/02/30 18:00', NOV_2026);
    expect(parsed.date).toBeNull();
    expect(parsed.invalidDate).toBe(true);
  });
});

describe('times', () => {
  it.each([
    ['18:30', '18:30'],
    ['18時30分', '18:30'],
    ['18時', '18:00'],
    ['午後6時半', '18:30'],
    ['午前11時', '11:00'],
    ['7:00 PM', '19:00'],
    ['7 pm', '19:00'],
    ['12:00 AM', '00:00'],
    ['12:00~13:00', '12:00'],
    ['１９：００〜２１：３０', '19:00'],
  ])('reads %s as %s', (raw, time) => {
    expect(findTime(n(raw))?.time).toBe(time);
  });

  it('gives null for a time that does not exist', () => {
    expect(findTime('25:99')?.time).toBeNull();
  });
});

describe('party size', () => {
  it.each([
    ['4名', 4],
    ['4名様', 4],
    ['2 people', 2],
    ['6', 6],
    ['大人2名 子供1名', 3],
    ['大人2名・お子様2名', 4],
    ['4名(大人4名・お子様0名)', 4],
  ])('reads %s as %d', (raw, size) => {
    expect(parsePartySize(n(raw))).toEqual({ value: size, problem: null });
  });

  it('reads じゃらん "2名(お1人様:2名)" as 2, not 1 (a vendor parser bug)', () => {
    expect(parsePartySize(n('2名(お1人様:2名)')).value).toBe(2);
    expect(parsePartySize(n('２名（お１人様：２名）')).value).toBe(2);
  });

  it('keeps the total and flags a breakdown that disagrees', () => {
    expect(parsePartySize(n('4名(大人2名・子供1名)'))).toEqual({ value: 4, problem: 'ambiguous:partySize' });
  });

  it('flags a value without a number', () => {
    expect(parsePartySize('未定')).toEqual({ value: null, problem: 'invalid:partySize' });
  });
});

describe('phone', () => {
  it.each([
    ['090-1234-5678', '09012345678'],
    ['０９０－１２３４－５６７８', '09012345678'],
    ['03 (1234) 5678', '0312345678'],
    ['+81 90-1234-5678', '09012345678'],
    ['+81 (0)3-1234-5678', '0312345678'],
    ['+81-3-1234-5678', '0312345678'],
    ['090-1234-5678 (携帯)', '09012345678'],
  ])('reads %s as %s', (raw, digits) => {
    expect(parsePhone(n(raw))).toEqual({ value: digits, problem: null });
  });

  it('gives null and masked:phone for a masked number', () => {
    expect(parsePhone('090-****-5678')).toEqual({ value: null, problem: 'masked:phone' });
    expect(parsePhone('090-XXXX-5678')).toEqual({ value: null, problem: 'masked:phone' });
  });

  it('flags a number too short to dial', () => {
    expect(parsePhone('1234')).toEqual({ value: null, problem: 'invalid:phone' });
  });
});

describe('names', () => {
  it('strips the honorific 様', () => {
    expect(parseName('山田 太郎 様', 'guestName')).toEqual({ value: '山田 太郎', problem: null });
    expect(parseName('山田太郎様', 'guestName').value).toBe('山田太郎');
  });

  it('keeps a masked name as written and flags it', () => {
    expect(parseName(n('山田 ＊＊ 様'), 'guestName')).toEqual({ value: '山田 **', problem: 'masked:guestName' });
    expect(parseName('***', 'guestName').problem).toBe('masked:guestName');
    expect(parseName('ヤマダ ●●', 'guestNameKana').problem).toBe('masked:guestNameKana');
  });
});

describe('change arrows', () => {
  it.each(['→', '⇒', '->', '=>', '⇨'])('splits "old %s new"', (arrow) => {
    expect(splitChange(`4名 ${arrow} 5名`)).toEqual({ from: '4名', to: '5名' });
  });

  it('leaves a value without an arrow alone', () => {
    expect(splitChange('4名')).toBeNull();
  });
});

describe('reservation id', () => {
  it('takes the first id-looking token', () => {
    expect(parseReservationId('GN-2026-1220-0047153')).toBe('GN-2026-1220-0047153');
    expect(parseReservationId('12345678 (ネット予約)')).toBe('12345678');
  });
});
