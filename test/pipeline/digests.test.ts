/**
 * Digests as a completeness check, end to end over SMTP: a 食べログ daily
 * list names three bookings, we imported two; the third raises the review
 * item that names it and the `ota_inbound_digest_missing_reservations` gauge,
 * and its notification arriving late clears the gauge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';
import { tabelogMail } from '../helpers/mail.ts';

const STORE = 'sakura-ginza';

async function send(app: TestApp, message: Buffer): Promise<string> {
  const { final } = await deliver(app.smtpPort, {
    from: 'forwarder@restaurant.example',
    to: [`${STORE}@intake.example`],
    message,
  });
  expect(final.code, final.text).toBe(250);
  return queuedId(final);
}

function digestMail(lines: string[]): Promise<Buffer> {
  const body = [
    'さくら食堂 銀座店 ご担当者様',
    '',
    '12月20日(日)のネット予約一覧をお送りします。',
    `本日のネット予約は${lines.length}件です。`,
    '',
    '━━━━━━━━━━━━━━━━━━━━━━━━',
    ...lines,
    '━━━━━━━━━━━━━━━━━━━━━━━━',
    '食べログネット予約 サポートデスク',
    '',
  ].join('\n');
  return new MailComposer({
    from: { name: '食べログ', address: 'noreply-rsv@tabelog.com' },
    to: `${STORE}@intake.example`,
    subject: '【食べログネット予約】12月20日(日)のネット予約一覧',
    date: new Date('2026-12-19T22:00:00Z'),
    messageId: '<list.20261220@rsv.tabelog.com>',
    text: body,
    textEncoding: 'base64',
  })
    .compile()
    .build();
}

async function missingGauge(app: TestApp): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${app.httpPort}/metrics`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith('ota_inbound_digest_missing_reservations{source="tabelog"}'));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('digest completeness check', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.cleanup());

  it('names the listed booking we never imported, alerts on it, and clears when it arrives late', async () => {
    const booked = [
      { bookingId: '2000101', time: '18:00', party: '2名', name: '佐藤 健' },
      { bookingId: '2000102', time: '19:00', party: '4名', name: '山田 太郎' },
    ];
    for (const [i, b] of booked.entries()) {
      const id = await send(
        app,
        await tabelogMail({
          event: 'new',
          ...b,
          visit: '12/20(日)',
          date: new Date(`2026-12-1${i}T03:00:00Z`),
          messageId: `<${b.bookingId}.new@rsv.tabelog.com>`,
        }),
      );
      expect((await waitProcessed(app, id)).state).toBe('processed');
    }

    const digestId = await send(
      app,
      await digestMail(['18:00 佐藤 健 様 2名', '19:00 山田 太郎 様 4名', '20:30 中村 美咲 様 3名']),
    );
    const digest = await waitProcessed(app, digestId);
    expect(digest.kind).toBe('digest');
    expect(digest.state).toBe('review');
    expect(JSON.parse(digest.extraction!)).toMatchObject({
      needsReview: true,
      reviewReasons: ['digest:missing-reservations', 'missing-reservation:20:30 3名 中村 美咲'],
    });
    expect((JSON.parse(digest.meta!) as { digest: unknown }).digest).toMatchObject({ date: '2026-12-20', count: 3 });

    // The review queue (loopback: no token needed) shows it with the booking it names.
    const res = await fetch(`http://127.0.0.1:${app.httpPort}/api/review`);
    expect(res.status).toBe(200);
    const review = (await res.json()) as { needsReview: Array<{ id: string; reviewReasons: string[] }> };
    const item = review.needsReview.find((m) => m.id === digestId);
    expect(item?.reviewReasons).toContain('missing-reservation:20:30 3名 中村 美咲');
    expect(await missingGauge(app)).toBe(1);

    // The lost notification turns up: the gap closes by itself.
    const late = await send(
      app,
      await tabelogMail({
        event: 'new',
        bookingId: '2000103',
        visit: '12/20(日)',
        time: '20:30',
        party: '3名',
        name: '中村 美咲',
        date: new Date('2026-12-18T03:00:00Z'),
        messageId: '<2000103.new@rsv.tabelog.com>',
      }),
    );
    expect((await waitProcessed(app, late)).state).toBe('processed');
    expect(await missingGauge(app)).toBe(0);
  });

  it('files a digest whose bookings are all imported as seen, not for review', async () => {
    // The evening list of the same day (another mail: fewer lines, its own Message-ID).
    const mail = (await digestMail(['19:00 山田 太郎 様 4名', '20:30 中村 美咲 様 3名'])).toString();
    const id = await send(app, Buffer.from(mail.replace('<list.20261220@', '<list-evening.20261220@')));
    const row = await waitProcessed(app, id);
    expect(row.kind).toBe('digest');
    expect(row.state).toBe('ignored');
    expect(JSON.parse(row.extraction!)).toMatchObject({ needsReview: false, reviewReasons: [] });
  });
});
