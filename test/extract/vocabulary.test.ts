/**
 * The shared event vocabulary, the subject, the booking-evidence rule, free
 * text as written and the reading split, checked
 * one by one on small messages (the fixture corpus checks them on whole mails).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  decide,
  defaultVocabulary,
  extract,
  loadSiteDefinitions,
  loadVocabulary,
  scoreClasses,
  splitReading,
  stripSubjectPrefixes,
} from '../../src/extract/index.ts';
import type { ParsedMessage } from '../../src/extract/index.ts';
import { foldText, normalizeText } from '../../src/parse/index.ts';

const sites = loadSiteDefinitions([fileURLToPath(new URL('../../config/sites', import.meta.url))]);
const vocabulary = defaultVocabulary();

function mail(subject: string, body: string, from = 'yoyaku@hotpepper.jp'): ParsedMessage {
  return {
    messageId: '<v@test.example>',
    innerMessageId: null,
    date: new Date('2026-11-20T03:00:00Z'),
    outerDate: new Date('2026-11-20T03:00:00Z'),
    subject: normalizeText(subject).trim(),
    outerSubject: '',
    from: { address: from, name: '' },
    outerFrom: { address: from, name: '' },
    to: [],
    forwarded: false,
    forwardKind: null,
    htmlDerived: false,
    warnings: [],
    text: normalizeText(body),
    rawText: foldText(body),
  };
}

describe('subject prefixes', () => {
  it('strips forwarding and reply prefixes, repeated and in any case', () => {
    expect(stripSubjectPrefixes('Fwd: FW: Re: 【転送】予約キャンセル', vocabulary)).toBe('予約キャンセル');
    expect(stripSubjectPrefixes('転送: RE : 新規予約', vocabulary)).toBe('新規予約');
    expect(stripSubjectPrefixes('Reservation for 2', vocabulary)).toBe('Reservation for 2');
  });
});

describe('scoring', () => {
  it('reads the event from subject and body together', () => {
    const s = scoreClasses(vocabulary, '予約の件', 'お客様より以下の予約がキャンセルされました。');
    expect(decide(vocabulary, s)).toEqual({ kind: 'event', event: 'cancel' });
  });

  it('reports a cancelled request as a cancel, not a request', () => {
    const s = scoreClasses(vocabulary, 'リクエスト予約がキャンセルされました', '');
    expect(decide(vocabulary, s)).toEqual({ kind: 'event', event: 'cancel' });
  });

  it('calls two events with the same evidence ambiguous instead of guessing', () => {
    const s = scoreClasses(vocabulary, '', '予約が入りました。予約がキャンセルされました。');
    expect(decide(vocabulary, s)).toEqual({ kind: 'none', reason: 'ambiguous:event' });
  });

  it('gives nothing without evidence, and never new', () => {
    expect(
      decide(vocabulary, scoreClasses(vocabulary, 'お世話になっております', '明日もよろしくお願いします')),
    ).toEqual({
      kind: 'none',
      reason: null,
    });
  });

  it('lets a point summary win over booking words in it', () => {
    const s = scoreClasses(vocabulary, '今月のポイント明細', '予約が入りました件数: 12件');
    expect(decide(vocabulary, s)).toEqual({ kind: 'non-booking', what: 'non-booking:points' });
  });
});

describe('extraction', () => {
  it('takes the event from the body when a forward rewrote the subject', () => {
    const a = extract(
      mail(
        'Fwd: 見てください',
        '■予約番号:HP9\n■来店日時:2026年12月1日 18:00\n■お名前:伊藤 様\n以下の予約がキャンセルされました。',
      ),
      sites,
    );
    expect(a.extraction).toMatchObject({
      kind: 'reservation',
      source: 'hotpepper',
      event: 'cancel',
      reservationId: 'HP9',
    });
  });

  it('fills from the subject only what the body lacks; the body wins', () => {
    const a = extract(
      mail(
        '【ホットペッパーグルメ】ネット予約が入りました 山田 太郎様 12/05 19:00 4名',
        '■人数:2名\n■電話番号:090-1111-2222',
      ),
      sites,
    );
    expect(a.extraction).toMatchObject({
      visitDate: '2026-12-05',
      visitTime: '19:00',
      partySize: 2,
      guestName: '山田 太郎',
      event: 'new',
    });
  });

  it('refuses a booking without evidence: a date alone is not a reservation', () => {
    const a = extract(
      mail('【ホットペッパーグルメ】お知らせ', '■日付:2026年12月1日\nいつもありがとうございます。'),
      sites,
    );
    expect(a.extraction).toMatchObject({ kind: 'unknown', source: 'hotpepper', event: null });
  });

  it('keeps free text as written and normalises only what it parses', () => {
    const a = extract(
      mail(
        '【ホットペッパーグルメ】ネット予約が入りました',
        '■予約番号：ＨＰ１２\n■来店日時：２０２６年１２月１日 １８：００\n■人数：２名\n■お名前：髙橋　一郎（タカハシ　イチロウ）様\n■電話番号：０９０－１２３４－５６７８\n■コース：コース①　㈱特製　全８品',
      ),
      sites,
    );
    expect(a.extraction).toMatchObject({
      reservationId: 'HP12',
      visitDate: '2026-12-01',
      visitTime: '18:00',
      partySize: 2,
      phone: '09012345678',
      guestName: '髙橋 一郎',
      guestNameKana: 'タカハシ イチロウ',
      course: 'コース① ㈱特製 全８品',
      needsReview: false,
    });
  });

  it('reads an unconfigured site with the generic labels and flags it for a person', () => {
    const a = extract(
      mail(
        '新規予約のお知らせ',
        '予約番号：X-1\n来店日時：2026年12月3日 19:00\n人数：2名\nお名前：森 様\n電話番号：090-1111-3333',
        'info@tiny-gourmet.example',
      ),
      sites,
    );
    expect(a.extraction).toMatchObject({
      kind: 'reservation',
      source: null,
      senderDomain: 'tiny-gourmet.example',
      event: 'new',
      needsReview: true,
      reviewReasons: ['unconfigured-site'],
    });
  });

  it('does not make a reservation of an unconfigured sender with one label', () => {
    const a = extract(mail('セールのお知らせ', '日付: 12/30まで\n最大50%OFF', 'news@shop.example'), sites);
    expect(a.extraction).toMatchObject({ kind: 'unknown', source: null, senderDomain: 'shop.example' });
  });
});

describe('readings', () => {
  it('splits a reading in full- or half-width parentheses', () => {
    expect(splitReading('山田 太郎（ヤマダ タロウ）様')).toEqual({ name: '山田 太郎', reading: 'ヤマダ タロウ' });
    expect(splitReading('山田(ﾔﾏﾀﾞ)')).toEqual({ name: '山田', reading: 'ﾔﾏﾀﾞ' });
    expect(splitReading('山田 太郎 (やまだ たろう)')).toEqual({ name: '山田 太郎', reading: 'やまだ たろう' });
  });

  it('leaves other parentheses in the name', () => {
    expect(splitReading('山田 太郎(会社名)')).toBeNull();
    expect(splitReading('(ヤマダ)')).toBeNull();
  });
});

describe('vocabulary file', () => {
  it('names the file and every bad field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vocab-'));
    const file = join(dir, 'vocabulary.json');
    writeFileSync(
      file,
      JSON.stringify({
        subjectPrefixes: ['fwd:'],
        subjectWeight: 2,
        siteMarkerScore: 6,
        minScore: 'three',
        ambiguityMargin: 1,
        classes: { new: [{ text: '', score: 4 }], gossip: [] },
        subjectPatterns: [{ regex: '(a+)+', fields: { partySize: 1 } }],
      }),
    );
    expect(() => loadVocabulary(file)).toThrow(
      new RegExp(
        `${file}: .*minScore: must be a number.*classes.new\\[0\\].text.*classes.gossip: unknown class.*catastrophic`,
      ),
    );
  });
});
