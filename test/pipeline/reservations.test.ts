import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';
import { tabelogMail } from '../helpers/mail.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const FIXTURES = path.join(import.meta.dirname, '../fixtures');
/** The retty/digest fixture's subject says 【予約件数 3件】. */
const DIGEST_COUNT = 3;
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, `${name}.eml`));

async function send(app: TestApp, message: Buffer | string, to = 'sakura-ginza@intake.example'): Promise<string> {
  const { final } = await deliver(app.smtpPort, { from: 'forwarder@restaurant.example', to: [to], message });
  expect(final.code, final.text).toBe(250);
  return queuedId(final);
}

interface ReservationRow {
  id: number;
  status: string;
  visit_date: string;
  visit_time: string;
  party_size: number;
  guest_name: string;
  phone: string;
  store: string;
  needs_review: number;
  review_reasons: string;
  last_message: string;
}

describe('from mail to reservation', () => {
  let app: TestApp;
  const reservation = (source: string, id: string) =>
    sqliteOf(app.store)
      .prepare('SELECT * FROM reservations WHERE source = ? AND reservation_id = ?')
      .get(source, id) as ReservationRow | undefined;
  const events = (rowId: number) =>
    sqliteOf(app.store)
      .prepare('SELECT event, applied, message FROM reservation_events WHERE reservation = ? ORDER BY id')
      .all(rowId) as { event: string; applied: number; message: string }[];

  beforeAll(async () => {
    app = await startTestApp({ routes: ['{store}@intake.example'] });
  });
  afterAll(() => app.cleanup());

  it('turns a delivered 食べログ mail into a reservation with the extracted fields', async () => {
    const id = await send(app, fixture('tabelog/new'));
    const row = await waitProcessed(app, id);
    expect(row.state).toBe('processed');
    expect(row.source).toBe('tabelog');
    const expected: unknown = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tabelog/new.json'), 'utf8'));
    expect(JSON.parse(row.extraction!)).toEqual(expected);
    const r = reservation('tabelog', '10482715')!;
    expect(r).toMatchObject({
      status: 'booked',
      visit_date: '2026-11-09',
      visit_time: '19:00',
      party_size: 2,
      guest_name: '山田 太郎',
      phone: '09012345678',
      store: 'sakura-ginza',
      needs_review: 0,
    });
    expect(events(r.id)).toEqual([{ event: 'new', applied: 1, message: id }]);
  });

  it('records the same mail delivered twice as a duplicate, not a second event', async () => {
    const first = await send(app, fixture('hotpepper/new'));
    const second = await send(app, fixture('hotpepper/new'));
    await waitProcessed(app, first);
    const dup = await waitProcessed(app, second);
    expect(dup.state).toBe('duplicate');
    expect(dup.duplicate_of).toBe(first);
    const x = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'hotpepper/new.json'), 'utf8')) as {
      reservationId: string;
    };
    expect(events(reservation('hotpepper', x.reservationId)!.id)).toHaveLength(1);
  });

  it('recognises a resend through another forwarding path (new Message-ID, same content) as a duplicate', async () => {
    const date = new Date('2026-12-01T10:00:00+09:00');
    const a = await send(
      app,
      await tabelogMail({ event: 'new', bookingId: '77000001', date, messageId: '<a-77000001@tabelog.com>' }),
    );
    const b = await send(
      app,
      await tabelogMail({ event: 'new', bookingId: '77000001', date, messageId: '<b-77000001@tabelog.com>' }),
    );
    await waitProcessed(app, a);
    expect((await waitProcessed(app, b)).state).toBe('duplicate');
  });

  it('applies a change back to an earlier value (A → B → A → B) as a new event each time, never as a duplicate', async () => {
    // Same booking, party 4 → 5 → 4 → 5: the 1st and 3rd mails (and 2nd and 4th) have the same text, but later Dates.
    const parties = ['5名', '4名', '5名', '4名'];
    const ids: string[] = [];
    for (const [i, party] of parties.entries()) {
      ids.push(
        await send(
          app,
          await tabelogMail({
            event: 'change',
            bookingId: '77000010',
            date: new Date(Date.UTC(2026, 11, 4, 1, 10 * i)),
            messageId: `<change-${i}-77000010@tabelog.com>`,
            party,
          }),
        ),
      );
      await waitProcessed(app, ids.at(-1)!);
    }
    for (const id of ids) expect(app.store.message(id)!.state).not.toBe('duplicate');
    const r = reservation('tabelog', '77000010')!;
    expect(r.party_size).toBe(4);
    expect(r.last_message).toBe(ids.at(-1));
    expect(events(r.id).map((e) => [e.event, e.applied, e.message])).toEqual(ids.map((id) => ['change', 1, id]));
  });

  it('never lets an older mail roll a newer state back (cancel dated after a change that arrives later)', async () => {
    const cancel = await send(
      app,
      await tabelogMail({
        event: 'cancel',
        bookingId: '77000002',
        date: new Date('2026-12-02T12:00:00+09:00'),
        messageId: '<cancel-77000002@tabelog.com>',
      }),
    );
    await waitProcessed(app, cancel);
    const change = await send(
      app,
      await tabelogMail({
        event: 'change',
        bookingId: '77000002',
        date: new Date('2026-12-02T11:00:00+09:00'),
        messageId: '<change-77000002@tabelog.com>',
        party: '6名',
      }),
    );
    await waitProcessed(app, change);
    const r = reservation('tabelog', '77000002')!;
    expect(r.status).toBe('cancelled');
    expect(r.party_size).toBe(4);
    expect(events(r.id).map((e) => [e.event, e.applied])).toEqual([
      ['cancel', 1],
      ['change', 0],
    ]);
  });

  it('creates a reservation flagged for review from a change for a booking it has never seen', async () => {
    const id = await send(
      app,
      await tabelogMail({
        event: 'change',
        bookingId: '77000003',
        date: new Date('2026-12-03T10:00:00+09:00'),
        messageId: '<change-77000003@tabelog.com>',
      }),
    );
    await waitProcessed(app, id);
    const r = reservation('tabelog', '77000003')!;
    expect(r.status).toBe('booked');
    expect(r.needs_review).toBe(1);
    expect(JSON.parse(r.review_reasons)).toContain('unknown-reservation:change');
  });

  it('keeps cancel + new for the same booking as two events (ぐるなび style change)', async () => {
    const c = await send(
      app,
      await tabelogMail({
        event: 'cancel',
        bookingId: '77000004',
        date: new Date('2026-12-04T10:00:00+09:00'),
        messageId: '<c-77000004@tabelog.com>',
      }),
    );
    await waitProcessed(app, c);
    const n = await send(
      app,
      await tabelogMail({
        event: 'new',
        bookingId: '77000004',
        date: new Date('2026-12-04T10:00:05+09:00'),
        messageId: '<n-77000004@tabelog.com>',
        time: '20:00',
      }),
    );
    await waitProcessed(app, n);
    const r = reservation('tabelog', '77000004')!;
    expect(r.status).toBe('booked');
    expect(r.visit_time).toBe('20:00');
    expect(events(r.id).map((e) => e.event)).toEqual(['cancel', 'new']);
  });

  it('stores a digest without creating reservations, with its count for reconciliation', async () => {
    const before = (sqliteOf(app.store).prepare('SELECT COUNT(*) AS n FROM reservations').get() as { n: number }).n;
    const id = await send(app, fixture('retty/digest'));
    const row = await waitProcessed(app, id);
    expect(row.kind).toBe('digest');
    // None of the three bookings it lists was imported here: a review item (test/pipeline/digests.test.ts).
    expect(row.state).toBe('review');
    expect((JSON.parse(row.meta!) as { digest: { count: number } }).digest.count).toBe(DIGEST_COUNT);
    expect((sqliteOf(app.store).prepare('SELECT COUNT(*) AS n FROM reservations').get() as { n: number }).n).toBe(
      before,
    );
  });

  it('keeps a forwarding verification mail for a person, with its code', async () => {
    const id = await send(app, fixture('generic/verification-gmail'));
    const row = await waitProcessed(app, id);
    expect(row.kind).toBe('verification');
    expect(row.state).toBe('review');
    const meta = JSON.parse(row.meta!) as { verification: { code?: string; url?: string } };
    expect(meta.verification.code ?? meta.verification.url).toBeTruthy();
  });

  it('stores unrelated mail as visible but not imported', async () => {
    const id = await send(app, fixture('generic/spam'));
    const row = await waitProcessed(app, id);
    expect(row.kind).toBe('unknown');
    expect(row.state).toBe('ignored');
  });
});
