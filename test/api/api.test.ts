/**
 * The HTTP API under /api/: authorisation, filters, cursor pagination,
 * details, raw download, actions and the OpenAPI document — against a real
 * node fed over SMTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { checkAuth } from '../../src/http/auth.ts';
import { tabelogMail, type TabelogMail } from '../deliver/mail.ts';
import { Receiver, api, progress, until } from '../deliver/receiver.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const TOKEN = 's3cr3t-api-token';

interface ReservationJson {
  id: number;
  reservationId: string;
  store: string;
  status: string;
  visitDate: string;
  guestName: string;
  needsReview: boolean;
  reviewReasons: string[];
  events?: { event: string; message: string; applied: boolean; deliveries: { state: string; event: string }[] }[];
}
interface MessageJson {
  id: string;
  state: string;
  kind: string;
  source: string | null;
  store: string | null;
  subject: string | null;
  handledAt: string | null;
  attempts: number;
  reservationId: string | null;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const VERIFICATION = [
  'From: Gmail Team <forwarding-noreply@google.com>',
  'To: ginza@intake.example',
  'Subject: (#804413977) Gmail Forwarding Confirmation - Receive Mail from tencho@ginza.example',
  'Date: Sun, 1 Nov 2026 09:00:00 +0900',
  'Message-ID: <verify-804413977@google.com>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=UTF-8',
  '',
  'tencho@ginza.example has requested to automatically forward mail to your email',
  'address ginza@intake.example.',
  'Confirmation code: 804413977',
  '',
].join('\r\n');

const NEWSLETTER = [
  'From: news@shop.example',
  'To: shibuya@intake.example',
  'Subject: Autumn sale',
  'Date: Sun, 1 Nov 2026 09:00:00 +0900',
  'Message-ID: <sale-1@shop.example>',
  '',
  'Everything must go.',
  '',
].join('\r\n');

describe('HTTP API', () => {
  let app: TestApp;
  let receiver: Receiver;
  const certsDir = tempDir('ota-certs-');
  const ids: Record<string, string> = {};
  const raws: Record<string, Buffer> = {};

  async function send(name: string, to: string, message: Buffer, expectState?: string): Promise<string> {
    const { final } = await deliver(app.smtpPort, { to: [to], message });
    expect(final.code).toBe(250);
    const id = queuedId(final);
    const row = await waitProcessed(app, id);
    if (expectState) expect(row.state).toBe(expectState);
    ids[name] = id;
    raws[name] = message;
    return id;
  }
  const mail = (name: string, m: TabelogMail, state = 'processed') =>
    send(name, `${m.store ?? 'shibuya'}@intake.example`, tabelogMail(m), state);

  beforeAll(async () => {
    receiver = await new Receiver().start();
    app = await startTestApp({
      'http.apiToken': TOKEN,
      'webhook.url': receiver.url,
      'webhook.secret': 'whsec',
      'webhook.retryBaseMs': 20,
      certsDir,
    });
    await mail('yamada', {
      bookingId: '11110001',
      name: '山田 太郎',
      date: '2026/12/20',
      sentAt: 'Fri, 20 Nov 2026 10:00:00 +0900',
    });
    await mail('sato', { bookingId: '11110002', name: '佐藤 花子', date: '2026/12/24', phone: '080-2222-3333' });
    await mail('suzuki', { bookingId: '11110003', name: '鈴木 一郎', date: '2026/12/31', store: 'ginza' });
    await mail(
      'takahashi',
      { bookingId: '11110004', name: '高橋 次郎', date: '2027/01/05', store: 'ginza', phone: null },
      'review',
    );
    await mail('yamadaChange', {
      kind: 'change',
      bookingId: '11110001',
      name: '山田 太郎',
      party: 6,
      sentAt: 'Fri, 20 Nov 2026 11:00:00 +0900',
    });
    await mail('satoCancel', {
      kind: 'cancel',
      bookingId: '11110002',
      name: '佐藤 花子',
      date: '2026/12/24',
      phone: '080-2222-3333',
    });
    await send('verification', 'ginza@intake.example', Buffer.from(VERIFICATION), 'review');
    await send('newsletter', 'shibuya@intake.example', Buffer.from(NEWSLETTER), 'ignored');
    await until(
      () => {
        const n = sqliteOf(app.store)
          .prepare(`SELECT COUNT(*) AS n FROM deliveries WHERE state = 'delivered'`)
          .get() as {
          n: number;
        };
        return n.n === 6;
      },
      progress(app, receiver),
    );
  });
  afterAll(async () => {
    await app?.cleanup();
    await receiver?.close();
  });

  const reservations = async (query: string) => {
    const r = await api<Page<ReservationJson>>(app, `/api/reservations${query}`);
    expect(r.status).toBe(200);
    return r.body.items.map((x) => x.reservationId).sort();
  };

  describe('authorisation', () => {
    it('refuses a request without the token with 401, an error body and WWW-Authenticate', async () => {
      const r = await api<{ error: { code: string; message: string } }>(app, '/api/reservations', { token: null });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHORIZED');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('refuses a wrong token', async () => {
      const r = await api<{ error: { code: string } }>(app, '/api/reservations', { token: 'not-the-token' });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHORIZED');
      expect((await api(app, '/api/messages', { token: `${TOKEN}x` })).status).toBe(401);
    });

    it('guards every path under /api/, including routes other modules add and unknown ones', async () => {
      for (const path of [
        '/api/alerts',
        '/api/openapi.json',
        '/api/nope',
        `/api/messages/${ids.yamada}/raw`,
        '/API/reservations',
      ]) {
        expect((await api(app, path, { token: null })).status, path).toBe(401);
      }
      const post = await fetch(`http://127.0.0.1:${app.httpPort}/api/messages/${ids.yamada}/replay`, {
        method: 'POST',
      });
      expect(post.status).toBe(401);
      const notFound = await api<{ error: { code: string } }>(app, '/api/nope');
      expect(notFound.status).toBe(404);
      expect(notFound.body.error.code).toBe('NOT_FOUND');
    });

    it('leaves health and metrics open', async () => {
      expect((await fetch(`http://127.0.0.1:${app.httpPort}/healthz`)).status).toBe(200);
    });

    it('without a configured token answers loopback clients only', async () => {
      const open = await startTestApp({ certsDir });
      try {
        expect((await api(open, '/api/reservations', { token: null })).status).toBe(200);
      } finally {
        await open.cleanup();
      }
      const req = (remoteAddress: string, authorization?: string) =>
        ({ headers: { authorization }, socket: { remoteAddress } }) as never;
      expect(checkAuth(req('127.0.0.1'), null)).toEqual({ ok: true });
      expect(checkAuth(req('::ffff:127.0.0.1'), null)).toEqual({ ok: true });
      expect(checkAuth(req('::1'), null)).toEqual({ ok: true });
      expect(checkAuth(req('203.0.113.5'), null)).toMatchObject({ ok: false, status: 403, code: 'FORBIDDEN' });
      expect(checkAuth(req('203.0.113.5', `Bearer ${TOKEN}`), TOKEN)).toEqual({ ok: true });
      expect(checkAuth(req('127.0.0.1'), TOKEN)).toMatchObject({ ok: false, status: 401 });
    });
  });

  describe('reservations', () => {
    it('filters by store, source, status, needsReview, visit date range and q', async () => {
      expect(await reservations('')).toEqual(['11110001', '11110002', '11110003', '11110004']);
      expect(await reservations('?store=ginza')).toEqual(['11110003', '11110004']);
      expect(await reservations('?source=tabelog&store=shibuya')).toEqual(['11110001', '11110002']);
      expect(await reservations('?source=hotpepper')).toEqual([]);
      expect(await reservations('?status=cancelled')).toEqual(['11110002']);
      expect(await reservations('?needsReview=true')).toEqual(['11110004']);
      expect(await reservations('?needsReview=false')).toEqual(['11110001', '11110002', '11110003']);
      expect(await reservations('?visitFrom=2026-12-21&visitTo=2026-12-31')).toEqual(['11110002', '11110003']);
      expect(await reservations('?visitFrom=2027-01-01')).toEqual(['11110004']);
      expect(await reservations(`?q=${encodeURIComponent('佐藤')}`)).toEqual(['11110002']);
      expect(await reservations(`?q=${encodeURIComponent('山田太郎')}`)).toEqual(['11110001']);
      expect(await reservations('?q=11110003')).toEqual(['11110003']);
      expect(await reservations('?q=08022223333')).toEqual(['11110002']);
      expect(await reservations(`?q=${encodeURIComponent('%')}`)).toEqual([]);
    });

    it('pages with an opaque cursor: every row once, newest first, null at the end', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = `/api/reservations?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
        const r = await api<Page<ReservationJson>>(app, q);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...r.body.items.map((x) => x.reservationId));
        cursor = r.body.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(2);
      expect(seen).toEqual(['11110004', '11110003', '11110002', '11110001']);
      // Filters and cursor together.
      const first = await api<Page<ReservationJson>>(app, '/api/reservations?store=ginza&limit=1');
      const second = await api<Page<ReservationJson>>(
        app,
        `/api/reservations?store=ginza&limit=1&cursor=${first.body.nextCursor}`,
      );
      expect([...first.body.items, ...second.body.items].map((x) => x.reservationId)).toEqual(['11110004', '11110003']);
      expect(second.body.nextCursor).toBeNull();
    });

    it('answers 400 with an error body for a bad cursor or parameter', async () => {
      for (const q of [
        '?cursor=garbage',
        '?cursor=WyJ4Il0',
        '?limit=0',
        '?limit=10000',
        '?status=lost',
        '?visitFrom=20261220',
        '?needsReview=maybe',
      ]) {
        const r = await api<{ error: { code: string; message: string } }>(app, `/api/reservations${q}`);
        expect(r.status, q).toBe(400);
        expect(r.body.error.code, q).toMatch(/^INVALID_(CURSOR|REQUEST)$/);
        expect(typeof r.body.error.message).toBe('string');
      }
    });

    it('shows one reservation with its event history and the deliveries of each event', async () => {
      const [row] = (await api<Page<ReservationJson>>(app, '/api/reservations?q=11110001')).body.items;
      const r = await api<ReservationJson>(app, `/api/reservations/${row!.id}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        reservationId: '11110001',
        status: 'booked',
        guestName: '山田 太郎',
        store: 'shibuya',
      });
      expect(r.body.events!.map((e) => [e.event, e.message, e.applied])).toEqual([
        ['new', ids.yamada, true],
        ['change', ids.yamadaChange, true],
      ]);
      expect(r.body.events!.map((e) => e.deliveries.map((d) => [d.event, d.state]))).toEqual([
        [['reservation.new', 'delivered']],
        [['reservation.change', 'delivered']],
      ]);
      expect((await api(app, '/api/reservations/999999')).status).toBe(404);
      expect((await api(app, '/api/reservations/abc')).status).toBe(400);
    });
  });

  describe('messages', () => {
    const messages = async (query: string) => {
      const r = await api<Page<MessageJson>>(app, `/api/messages${query}`);
      expect(r.status).toBe(200);
      return r.body.items.map((m) => m.id).sort();
    };

    it('filters by state, kind, source, store and event', async () => {
      expect(await messages('?state=review')).toEqual([ids.takahashi, ids.verification].sort());
      expect(await messages('?kind=verification')).toEqual([ids.verification]);
      expect(await messages('?state=ignored')).toEqual([ids.newsletter]);
      expect((await messages('?source=tabelog')).length).toBe(6);
      expect(await messages('?store=ginza')).toEqual([ids.suzuki, ids.takahashi, ids.verification].sort());
      expect(await messages('?event=cancel')).toEqual([ids.satoCancel]);
      expect(await messages('?state=dead')).toEqual([]);
    });

    it('pages through all messages once', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r: { body: Page<MessageJson> } = await api<Page<MessageJson>>(
          app,
          `/api/messages?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...r.body.items.map((m) => m.id));
        cursor = r.body.nextCursor;
      } while (cursor);
      expect(seen).toHaveLength(8);
      expect(new Set(seen).size).toBe(8);
      expect([...seen].sort()).toEqual(Object.values(ids).sort());
    });

    it('shows a message with envelope, extraction, metadata, events and deliveries', async () => {
      const r = await api<
        Record<string, unknown> & {
          envelope: { rcptTo: string[] };
          extraction: { reservationId: string };
          meta: { subject: string };
          events: unknown[];
          deliveries: { state: string }[];
        }
      >(app, `/api/messages/${ids.suzuki}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        id: ids.suzuki,
        state: 'processed',
        kind: 'reservation',
        source: 'tabelog',
        store: 'ginza',
        reservationId: '11110003',
        rawAvailable: true,
      });
      expect(r.body.envelope.rcptTo).toEqual(['ginza@intake.example']);
      expect(r.body.extraction.reservationId).toBe('11110003');
      expect(r.body.meta.subject).toContain('【新規予約】');
      expect(r.body.events).toHaveLength(1);
      expect(r.body.deliveries.map((d) => d.state)).toEqual(['delivered']);
      expect((await api(app, '/api/messages/nope')).status).toBe(404);
    });

    it('downloads the raw .eml exactly as received', async () => {
      const res = await fetch(`http://127.0.0.1:${app.httpPort}/api/messages/${ids.yamada}/raw`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('message/rfc822');
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${ids.yamada}.eml"`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.toString('utf8')).toContain('bookingId=net:11110001');
      expect(body.toString('utf8')).toContain('お名前 ：山田 太郎 様');
      expect(body.equals(raws.yamada!)).toBe(true);
    });
  });

  describe('actions', () => {
    it('marks a verification mail handled (and a review reservation reviewed)', async () => {
      expect(
        await (async () =>
          (await api<Page<MessageJson>>(app, '/api/messages?state=review&handled=false')).body.items.length)(),
      ).toBe(2);
      const r = await api<{ message: MessageJson }>(app, `/api/messages/${ids.verification}/handled`, {
        method: 'POST',
      });
      expect(r.status).toBe(200);
      expect(r.body.message.handledAt).not.toBeNull();
      const t = await api<{ message: MessageJson }>(app, `/api/messages/${ids.takahashi}/handled`, { method: 'POST' });
      expect(t.status).toBe(200);
      expect((await api<Page<MessageJson>>(app, '/api/messages?state=review&handled=false')).body.items).toEqual([]);
      expect(
        (await api<Page<MessageJson>>(app, '/api/messages?handled=true')).body.items.map((m) => m.id).sort(),
      ).toEqual([ids.takahashi, ids.verification].sort());
      expect(await reservations('?needsReview=true')).toEqual([]);
    });

    it('replays a message: processed again, without a second reservation event or delivery', async () => {
      const before = sqliteOf(app.store)
        .prepare('SELECT (SELECT COUNT(*) FROM reservation_events) AS e, (SELECT COUNT(*) FROM deliveries) AS d')
        .get();
      const processedAt = app.store.message(ids.sato!)!.processed_at;
      const res = await fetch(`http://127.0.0.1:${app.httpPort}/api/messages/${ids.sato}/replay`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      });
      expect(res.status).toBe(202);
      const row = await until(() => {
        const m = app.store.message(ids.sato!)!;
        return m.state === 'processed' && m.processed_at !== processedAt ? m : undefined;
      }, progress(app));
      expect(row.attempts).toBe(1);
      expect(
        sqliteOf(app.store)
          .prepare('SELECT (SELECT COUNT(*) FROM reservation_events) AS e, (SELECT COUNT(*) FROM deliveries) AS d')
          .get(),
      ).toEqual(before);
      expect((await api(app, '/api/messages/nope/replay', { method: 'POST' })).status).toBe(404);
    });

    it('lists deliveries by state and event, and refuses to redeliver one that is already queued', async () => {
      const all = await api<Page<{ id: string; state: string; event: string }>>(
        app,
        '/api/deliveries?state=delivered&limit=2',
      );
      expect(all.body.items).toHaveLength(2);
      expect(all.body.nextCursor).not.toBeNull();
      const cancels = await api<Page<{ id: string; event: string }>>(app, '/api/deliveries?event=reservation.cancel');
      expect(cancels.body.items).toHaveLength(1);
      const detail = await api<{ payload: { event: string; reservation: { status: string } } }>(
        app,
        `/api/deliveries/${cancels.body.items[0]!.id}`,
      );
      expect(detail.body.payload).toMatchObject({ event: 'reservation.cancel', reservation: { status: 'cancelled' } });

      receiver.respond = () => ({ status: 200, delayMs: 300 });
      const id = cancels.body.items[0]!.id;
      const first = await api(app, `/api/deliveries/${id}/redeliver`, { method: 'POST' });
      expect(first.status).toBe(202);
      const again = await api<{ error: { code: string } }>(app, `/api/deliveries/${id}/redeliver`, { method: 'POST' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('ALREADY_PENDING');
      await until(
        () =>
          (sqliteOf(app.store).prepare('SELECT state FROM deliveries WHERE id = ?').get(id) as { state: string })
            .state === 'delivered',
        progress(app, receiver),
      );
      receiver.respond = () => 200;
    });
  });

  describe('OpenAPI', () => {
    it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
      const r = await api<{
        openapi: string;
        paths: Record<string, Record<string, { parameters: { name: string; in: string }[] }>>;
        components: { securitySchemes: object };
      }>(app, '/api/openapi.json');
      expect(r.status).toBe(200);
      expect(r.body.openapi).toBe('3.1.0');
      expect(Object.keys(r.body.paths)).toEqual(
        expect.arrayContaining([
          '/api/reservations',
          '/api/reservations/{id}',
          '/api/messages',
          '/api/messages/{id}',
          '/api/messages/{id}/raw',
          '/api/messages/{id}/replay',
          '/api/messages/{id}/handled',
          '/api/deliveries',
          '/api/deliveries/{id}',
          '/api/deliveries/{id}/redeliver',
        ]),
      );
      expect(r.body.paths['/api/deliveries/{id}/redeliver']!.post).toBeDefined();
      const params = r.body.paths['/api/reservations']!.get!.parameters.map((p) => `${p.in}:${p.name}`);
      expect(params).toEqual(
        expect.arrayContaining([
          'query:limit',
          'query:cursor',
          'query:store',
          'query:q',
          'query:visitFrom',
          'query:needsReview',
        ]),
      );
      expect(r.body.paths['/api/messages/{id}']!.get!.parameters).toEqual([
        expect.objectContaining({ name: 'id', in: 'path' }),
      ]);
      expect(r.body.components.securitySchemes).toHaveProperty('bearer');
    });
  });
});
