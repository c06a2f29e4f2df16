import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze, extract, loadSiteDefinitions, scanLabels, GENERIC_LABELS } from '../../src/extract/index.ts';
import type { ParsedMessage } from '../../src/extract/index.ts';

const sites = loadSiteDefinitions([fileURLToPath(new URL('../../config/sites', import.meta.url))]);
const fixture = (path: string): Buffer => readFileSync(fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url)));

/** A parsed message as parseMessage() would return it, for engine-only specs. */
function parsed(over: Partial<ParsedMessage> & { text: string }): ParsedMessage {
  return {
    messageId: '<t@test.example>',
    innerMessageId: null,
    date: new Date('2026-08-20T03:00:00Z'),
    outerDate: new Date('2026-08-20T03:00:00Z'),
    subject: '【ホットペッパーグルメ】ネット予約が入りました',
    outerSubject: '',
    from: { address: 'yoyaku@hotpepper.jp', name: 'ホットペッパーグルメ' },
    outerFrom: { address: 'yoyaku@hotpepper.jp', name: 'ホットペッパーグルメ' },
    to: [],
    forwarded: false,
    forwardKind: null,
    htmlDerived: false,
    warnings: [],
    rawText: over.text,
    ...over,
  };
}

const FULL = [
  '■予約番号:HP1',
  '■来店日時:2026年8月30日(日) 18:30',
  '■人数:2名様',
  '■お名前:伊藤 翔太 様',
  '■電話番号:090-4567-8901',
].join('\n');

describe('classification', () => {
  it('files digests with their count, day and the bookings they list, no reservation fields', async () => {
    const retty = await analyze(fixture('retty/digest.eml'), sites);
    expect(retty.extraction).toMatchObject({ kind: 'digest', source: 'retty', event: null });
    expect(retty.meta.digest).toEqual({
      date: '2026-11-15',
      count: 3,
      entries: [
        { time: '17:30', partySize: 2, guestName: '木村' },
        { time: '19:30', partySize: 6, guestName: '松本' },
        { time: '20:00', partySize: 3, guestName: '林' },
      ],
    });
    const tabelog = await analyze(fixture('tabelog/digest.eml'), sites);
    expect(tabelog.meta.digest).toEqual({
      date: '2026-11-09',
      count: 3,
      entries: [
        { time: '18:00', partySize: 2, guestName: '山本 一郎' },
        { time: '19:00', partySize: 2, guestName: '山田 太郎' },
        { time: '20:30', partySize: 4, guestName: '中村 美咲' },
      ],
    });
  });

  it('keeps the code and link of a Gmail forwarding confirmation', async () => {
    const a = await analyze(fixture('generic/verification-gmail.eml'), sites);
    expect(a.extraction).toMatchObject({ kind: 'verification', source: null, needsReview: false });
    expect(a.meta.verification).toEqual({
      code: '804413977',
      url: 'https://mail-settings.google.com/mail/vf-%5BANGjdJ8example%5D-Y2xb5qHc0nR1tW',
    });
  });

  it('keeps the じゃらん 認証キー', async () => {
    const a = await analyze(fixture('generic/verification-jalan.eml'), sites);
    expect(a.extraction).toMatchObject({ kind: 'verification', source: 'jalan' });
    expect(a.meta.verification).toEqual({
      code: 'K7Q2M9',
      url: 'https://gourmet-owner.jalan.net/settings/mail?step=verify',
    });
  });

  it('reports the outer and inner sender of a forward', async () => {
    const a = await analyze(fixture('generic/forward-gmail-inline.eml'), sites);
    expect(a.meta).toMatchObject({
      forwarded: true,
      forwardKind: 'inline',
      from: { address: 'tencho@sakura-shokudo.example' },
      innerFrom: { address: 'noreply-rsv@tabelog.com' },
      date: '2026-11-03T03:00:00.000Z',
    });
  });

  it('leaves unrelated mail unknown with null fields and no review', async () => {
    const a = await analyze(fixture('generic/spam.eml'), sites);
    expect(a.extraction).toMatchObject({ kind: 'unknown', source: null, visitDate: null, needsReview: false });
  });

  it('recognises a site by its subject marker when the sender is someone else', () => {
    const a = extract(parsed({ text: FULL, from: { address: 'owner@shop.example', name: '' } }), sites);
    expect(a.extraction).toMatchObject({ source: 'hotpepper', event: 'new' });
  });

  it('keeps a site newsletter as unknown, with its source', () => {
    const a = extract(
      parsed({ subject: 'ホットペッパーグルメ 夏のキャンペーンのご案内', text: '新機能のお知らせです。' }),
      sites,
    );
    expect(a.extraction).toMatchObject({ kind: 'unknown', source: 'hotpepper', needsReview: false });
  });

  it('flags a reservation whose event no marker names', () => {
    const a = extract(parsed({ subject: 'ホットペッパーグルメ', text: FULL }), sites);
    expect(a.extraction).toMatchObject({ kind: 'reservation', event: null, needsReview: true });
    expect(a.extraction.reviewReasons).toEqual(['unknown:event']);
  });
});

describe('review reasons', () => {
  it('flags nothing on a complete new reservation', () => {
    expect(extract(parsed({ text: FULL }), sites).extraction).toMatchObject({ needsReview: false, reviewReasons: [] });
  });

  it('names every missing field', () => {
    const a = extract(parsed({ text: '■予約番号:HP1\n■人数:2名' }), sites);
    expect(a.extraction.reviewReasons).toEqual([
      'missing:visitDate',
      'missing:visitTime',
      'missing:guestName',
      'missing:phone',
    ]);
  });

  it('does not flag the phone a ホットペッパー request omits on purpose', () => {
    const text = FULL.replace('■電話番号:090-4567-8901', '');
    const request = extract(parsed({ subject: '【ホットペッパーグルメ】リクエスト予約が届きました', text }), sites);
    expect(request.extraction).toMatchObject({ event: 'request', phone: null, needsReview: false });
    const booking = extract(parsed({ text }), sites);
    expect(booking.extraction.reviewReasons).toEqual(['missing:phone']);
  });

  it('flags masked names and phones', () => {
    const text = FULL.replace('伊藤 翔太 様', '伊藤 ** 様').replace('090-4567-8901', '090-****-8901');
    const a = extract(parsed({ text }), sites);
    expect(a.extraction).toMatchObject({ guestName: '伊藤 **', phone: null, needsReview: true });
    expect(a.extraction.reviewReasons).toEqual(['masked:guestName', 'masked:phone']);
  });

  it('flags an unreadable date once, not also as missing', () => {
    const a = extract(parsed({ text: FULL.replace('2026年8月30日(日) 18:30', '未定') }), sites);
    expect(a.extraction.reviewReasons).toEqual(['invalid:visitDate', 'missing:visitTime']);
  });

  it('uses opts.now for year inference when the message has no Date', () => {
    const a = extract(parsed({ date: null, text: FULL.replace('2026年8月30日(日)', '8/30') }), sites, {
      now: new Date('2027-08-01T00:00:00Z'),
    });
    expect(a.extraction.visitDate).toBe('2027-08-30');
  });
});

describe('changes', () => {
  const change = (text: string) =>
    extract(parsed({ subject: '【ホットペッパーグルメ】予約変更のお知らせ', text }), sites).extraction;

  it('reads "old → new" as the new value plus a change', () => {
    const e = change(FULL.replace('2名様', '2名様 → 4名様'));
    expect(e.partySize).toBe(4);
    expect(e.changes).toEqual({ partySize: { from: 2, to: 4 } });
  });

  it('keeps the date when only the time changes inside one 日時 value', () => {
    const e = change(FULL.replace('18:30', '18:30 → 19:00'));
    expect(e).toMatchObject({ visitDate: '2026-08-30', visitTime: '19:00' });
    expect(e.changes).toEqual({ visitTime: { from: '18:30', to: '19:00' } });
  });

  it('reads 変更前 / 変更後 sections', () => {
    const e = change(['【変更前】', '■人数:2名', '【変更後】', FULL.replace('2名様', '3名様')].join('\n'));
    expect(e.partySize).toBe(3);
    expect(e.changes).toEqual({ partySize: { from: 2, to: 3 } });
  });

  it('ignores arrows outside change mails (a note may contain one)', () => {
    const e = extract(parsed({ text: FULL + '\n■ご要望:乾杯 → ケーキの順で' }), sites).extraction;
    expect(e.notes).toBe('乾杯 → ケーキの順で');
    expect(e.changes).toEqual({});
  });
});

describe('label engine', () => {
  const labels = new Map(Object.entries({ 人数: 'partySize', 備考: 'notes', お名前: 'guestName' } as const));

  it.each([['■人数:2名'], ['【人数】2名'], ['[人数] 2名'], ['・人数 : 2名'], ['人数\t2名'], ['◆人 数:2名']])(
    'reads %s',
    (line) => {
      expect(scanLabels([line], labels).main.partySize).toBe('2名');
    },
  );

  it('takes the value from the next lines when the label line has none', () => {
    expect(scanLabels(['【備考】', '一行目', '二行目', '', 'その他'], labels).main.notes).toBe('一行目\n二行目');
  });

  it('continues a value over indented lines only', () => {
    const fields = scanLabels(['■備考:アレルギー', ' 海老', 'お名前:山田'], labels).main;
    expect(fields).toEqual({ notes: 'アレルギー\n海老', guestName: '山田' });
  });

  it('does not read 予約受付日時 (when it was booked) as the visit', () => {
    const a = extract(parsed({ text: '■予約受付日時:2026年8月20日 12:00\n' + FULL }), sites);
    expect(a.extraction.visitDate).toBe('2026-08-30');
  });

  it('knows 代表者氏名(カナ) (regression: じゃらん kana was missed)', () => {
    expect(GENERIC_LABELS.guestNameKana).toContain('代表者氏名(カナ)');
  });
});
