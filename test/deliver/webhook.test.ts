/**
 * Reservation webhooks end to end: SMTP in, a real local HTTP receiver out.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import {
  idempotencyKey,
  verifySignature,
  parseSignatureHeader,
  type AttemptEvent,
  type WebhookPayload,
} from '../../src/deliver/index.ts';
import { tabelogMail, type TabelogMail } from './mail.ts';
import { Receiver, api, progress, until } from './receiver.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const SECRET = 'whsec_test_current';
const OLD_SECRET = 'whsec_test_previous';
const TOKEN = 'api-token';

/** Fast retries so the whole schedule plays out within a test; one generated certificate for the file. */
const FAST = {
  'webhook.retryBaseMs': 20,
  'webhook.retryMaxMs': 200,
  'webhook.timeoutMs': 2_000,
  'http.apiToken': TOKEN,
  certsDir: tempDir('ota-certs-'),
};

async function send(app: TestApp, m: TabelogMail): Promise<string> {
  const { final } = await deliver(app.smtpPort, {
    from: 'info@tabelog.com',
    to: [`${m.store ?? 'shibuya'}@intake.example`],
    message: tabelogMail(m),
  });
  expect(final.code).toBe(250);
  const id = queuedId(final);
  const row = await waitProcessed(app, id);
  expect(row.state).toBe('processed');
  return id;
}

interface DeliveryJson {
  id: string;
  event: string;
  endpoint: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastErrorCode: string | null;
  lastError: string | null;
  idempotencyKey: string;
}

async function deliveries(app: TestApp, query = ''): Promise<DeliveryJson[]> {
  const r = await api<{ items: DeliveryJson[] }>(app, `/api/deliveries?limit=500${query}`);
  expect(r.status).toBe(200);
  return r.body.items;
}

/** Deliveries of the node in the given state once none is pending any more. */
function settled(app: TestApp): Promise<{ state: string; id: string }[]> {
  return until(() => {
    const rows = sqliteOf(app.store).prepare('SELECT id, state FROM deliveries ORDER BY seq').all() as {
      state: string;
      id: string;
    }[];
    return rows.length > 0 && rows.every((r) => r.state !== 'pending') ? rows : undefined;
  }, progress(app));
}

describe('reservation webhooks', () => {
  let receiver: Receiver;
  let app: TestApp | null = null;

  beforeAll(async () => {
    receiver = await new Receiver().start();
  });
  afterAll(async () => {
    await receiver.close();
  });
  afterEach(async () => {
    await app?.cleanup();
    app = null;
    receiver.requests.length = 0;
    receiver.arrivals = 0;
    receiver.respond = () => 200;
    receiver.maxInflight = 0;
    if (!receiver.listening) await receiver.start();
  });

  async function node(overrides: Record<string, unknown> = {}): Promise<TestApp> {
    app = await startTestApp({ ...FAST, 'webhook.url': receiver.url, 'webhook.secret': SECRET, ...overrides });
    return app;
  }

  it('delivers a signed reservation.new whose signature, key and payload a receiver can check', async () => {
    const a = await node();
    const spoolId = await send(a, { bookingId: '12345678', messageId: 'new-12345678@tabelog.com' });
    const got = await until(() => receiver.requests[0], progress(a, receiver));
    const sig = String(got.headers['x-ota-signature']);

    expect(got.method).toBe('POST');
    expect(got.headers['content-type']).toMatch(/^application\/json/);
    expect(verifySignature({ header: sig, body: got.body, secret: SECRET })).toBe(true);
    expect(verifySignature({ header: sig, body: got.body, secret: 'not-the-secret' })).toBe(false);
    expect(verifySignature({ header: sig, body: got.body.replace('山田', '田中'), secret: SECRET })).toBe(false);
    expect(parseSignatureHeader(sig).timestamp).toBe(Number(got.headers['x-ota-timestamp']));
    expect(parseSignatureHeader(sig).signatures).toHaveLength(1);

    const p: WebhookPayload = got.json;
    expect(got.headers['x-ota-delivery-id']).toBe(p.id);
    expect(got.headers['x-ota-event']).toBe('reservation.new');
    expect(got.headers['idempotency-key']).toBe(
      idempotencyKey({
        source: 'tabelog',
        reservationId: '12345678',
        event: 'new',
        messageId: '<new-12345678@tabelog.com>',
        contentHash: null,
        spoolId,
      }),
    );
    expect(p).toMatchObject({
      event: 'reservation.new',
      occurredAt: '2026-11-20T01:00:00.000Z',
      applied: true,
      store: 'shibuya',
      source: 'tabelog',
    });
    expect(p.message).toMatchObject({ spoolId, messageId: '<new-12345678@tabelog.com>' });
    expect(p.reservation).toEqual({
      source: 'tabelog',
      reservationId: '12345678',
      store: 'shibuya',
      status: 'booked',
      visitDate: '2026-12-20',
      visitTime: '19:00',
      partySize: 4,
      guestName: '山田 太郎',
      guestNameKana: null,
      phone: '09012345678',
      course: '季節のおまかせコース',
      seats: null,
      notes: null,
      storeName: null,
      needsReview: false,
      reviewReasons: [],
    });
    expect(p.extraction).toMatchObject({
      kind: 'reservation',
      source: 'tabelog',
      event: 'new',
      reservationId: '12345678',
      partySize: 4,
      changes: {},
    });

    await settled(a);
    const [d] = await deliveries(a);
    expect(d).toMatchObject({
      id: p.id,
      state: 'delivered',
      attempts: 1,
      lastStatus: 200,
      event: 'reservation.new',
      endpoint: 'default',
    });
  });

  it('retries 408, 429 and 500 with backoff, resending the same id, key and bytes, until a 2xx', async () => {
    const answers = [500, 429, 408, 503];
    receiver.respond = (_r, n) => (n < answers.length ? { status: answers[n]!, body: 'try later' } : 204);
    const a = await node();
    await send(a, { bookingId: '20000001' });
    await settled(a);
    expect(receiver.requests.map((r) => r.status)).toEqual([...answers, 204]);
    const [first, ...rest] = receiver.requests;
    for (const r of rest) {
      expect(r.body).toBe(first!.body);
      expect(r.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
      expect(r.headers['x-ota-delivery-id']).toBe(first!.headers['x-ota-delivery-id']);
      expect(verifySignature({ header: String(r.headers['x-ota-signature']), body: r.body, secret: SECRET })).toBe(
        true,
      );
    }
    expect(receiver.requests.map((r) => r.headers['x-ota-attempt'])).toEqual(['1', '2', '3', '4', '5']);
    const [d] = await deliveries(a);
    expect(d).toMatchObject({ state: 'delivered', attempts: 5, lastStatus: 204, lastErrorCode: null });
  });

  it('dead-letters a 400 at once, shows it, and redelivers it from the API with the same id and key', async () => {
    receiver.respond = () => ({ status: 400, body: 'unknown store' });
    const a = await node();
    await send(a, { bookingId: '30000001' });
    await settled(a);
    expect(receiver.requests).toHaveLength(1);
    const [dead] = await deliveries(a, '&state=dead');
    expect(dead).toMatchObject({ state: 'dead', attempts: 1, lastStatus: 400, lastErrorCode: 'WEBHOOK_REJECTED' });
    expect(dead!.lastError).toContain('unknown store');
    expect(await deliveries(a, '&state=pending')).toEqual([]);

    receiver.respond = () => 200;
    const r = await api<{ delivery: DeliveryJson }>(a, `/api/deliveries/${dead!.id}/redeliver`, { method: 'POST' });
    expect(r.status).toBe(202);
    expect(r.body.delivery.state).toBe('pending');
    await until(() => receiver.acked.length === 1, progress(a, receiver));
    await settled(a);
    expect(receiver.acked[0]!.headers['x-ota-delivery-id']).toBe(dead!.id);
    expect(receiver.acked[0]!.headers['idempotency-key']).toBe(dead!.idempotencyKey);
    expect(receiver.acked[0]!.body).toBe(receiver.requests[0]!.body);
    const [after] = await deliveries(a);
    expect(after).toMatchObject({ id: dead!.id, state: 'delivered', attempts: 2, lastStatus: 200 });

    // Redelivering something already queued is a conflict, an unknown id a 404.
    expect((await api(a, `/api/deliveries/dlv_nope/redeliver`, { method: 'POST' })).status).toBe(404);
  });

  it('does not follow redirects: a 3xx is a failure with the reason', async () => {
    receiver.respond = (req) =>
      req.url.endsWith('/moved') ? 200 : { status: 301, headers: { location: `${receiver.url}/moved` } };
    const a = await node();
    await send(a, { bookingId: '40000001' });
    await settled(a);
    expect(receiver.requests.map((r) => r.url)).toEqual(['/hooks/reservations']);
    const [d] = await deliveries(a);
    expect(d).toMatchObject({ state: 'dead', lastStatus: 301, lastErrorCode: 'WEBHOOK_REDIRECT' });
    expect(d!.lastError).toContain('/moved');
  });

  it('receiver down for a while: everything arrives after it comes back, in order per reservation, each id acknowledged once', async () => {
    await receiver.close(); // the port now refuses connections
    const a = await node();
    // One reservation's three mails, processed one after the other, and two more bookings.
    await send(a, { bookingId: '50000001', kind: 'new', sentAt: 'Fri, 20 Nov 2026 10:00:00 +0900' });
    await send(a, { bookingId: '50000002', kind: 'new', name: '佐藤 花子' });
    await send(a, { bookingId: '50000001', kind: 'change', party: 6, sentAt: 'Fri, 20 Nov 2026 11:00:00 +0900' });
    await send(a, { bookingId: '50000003', kind: 'new', name: '鈴木 一郎', store: 'ginza' });
    await send(a, { bookingId: '50000001', kind: 'cancel', party: 6, sentAt: 'Fri, 20 Nov 2026 12:00:00 +0900' });
    // Let it fail a few times (connection refused), retrying.
    let refused = 0;
    const onAttempt = (e: { code: string | null }) => {
      if (e.code === 'WEBHOOK_CONNECT') refused++;
    };
    a.dispatcher.on('attempt', onAttempt);
    await until(() => refused >= 6, progress(a));
    a.dispatcher.off('attempt', onAttempt);
    expect(receiver.requests).toHaveLength(0);
    const pending = await deliveries(a, '&state=pending');
    expect(pending).toHaveLength(5);
    // Only the head of each reservation's chain was tried; the rest wait behind it.
    expect(pending.filter((d) => d.attempts > 0).every((d) => d.lastErrorCode === 'WEBHOOK_CONNECT')).toBe(true);
    const tried = new Set(pending.filter((d) => d.attempts > 0).map((d) => d.event));
    expect(tried).toEqual(new Set(['reservation.new']));

    await receiver.start(); // back, on the same port
    await until(() => receiver.acked.length >= 5, progress(a, receiver));
    await settled(a);

    const ids = receiver.acked.map((r) => r.json.id);
    expect(new Set(ids).size).toBe(ids.length); // no delivery id acknowledged twice
    expect(ids).toHaveLength(5);
    const ofFirst = receiver.acked.filter((r) => r.json.reservation.reservationId === '50000001');
    expect(ofFirst.map((r) => r.json.event)).toEqual(['reservation.new', 'reservation.change', 'reservation.cancel']);
    expect(ofFirst.map((r) => r.json.reservation.status)).toEqual(['booked', 'booked', 'cancelled']);
    expect(ofFirst[1]!.json.reservation.partySize).toBe(6);
    expect(new Set(receiver.acked.map((r) => r.json.reservation.reservationId))).toEqual(
      new Set(['50000001', '50000002', '50000003']),
    );
    expect((await deliveries(a, '&state=delivered')).length).toBe(5);
  });

  it('signs with both secrets during a rotation, so receivers on either secret accept', async () => {
    const a = await node({ 'webhook.secretPrevious': OLD_SECRET });
    await send(a, { bookingId: '60000001' });
    const got = await until(() => receiver.acked[0], progress(a, receiver));
    const header = String(got.headers['x-ota-signature']);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(verifySignature({ header, body: got.body, secret: SECRET })).toBe(true);
    expect(verifySignature({ header, body: got.body, secret: OLD_SECRET })).toBe(true);
    expect(verifySignature({ header, body: got.body, secret: 'whsec_other' })).toBe(false);
  });

  it('counts a request without an answer within webhook.timeoutMs as failed and retries it', async () => {
    receiver.respond = (_r, n) => (n === 0 ? { status: 200, delayMs: 4_000 } : 200);
    const a = await node({ 'webhook.timeoutMs': 1_000 });
    const results: [string, string | null][] = [];
    a.dispatcher.on('attempt', (e: AttemptEvent) => results.push([e.result, e.code]));
    await send(a, { bookingId: '70000001' });
    await settled(a);
    expect(results[0]).toEqual(['retry', 'WEBHOOK_TIMEOUT']);
    expect(results.at(-1)).toEqual(['delivered', null]);
    const [d] = await deliveries(a);
    expect(d).toMatchObject({ state: 'delivered', attempts: results.length, lastStatus: 200 });
  });

  it('keeps at most webhook.concurrency requests in flight', async () => {
    receiver.respond = () => ({ status: 200, delayMs: 50 });
    const a = await node({ 'webhook.concurrency': 2 });
    for (let i = 0; i < 6; i++) await send(a, { bookingId: `8000000${i}` });
    await until(() => receiver.acked.length === 6, progress(a, receiver));
    expect(receiver.maxInflight).toBeLessThanOrEqual(2);
  });

  it('sends a store listed in webhook.storeUrls to its own endpoint and the others to webhook.url', async () => {
    const ginza = await new Receiver().start();
    try {
      const a = await node({ 'webhook.storeUrls': [`ginza=${ginza.url}`] });
      await send(a, { bookingId: '90000001', store: 'ginza' });
      await send(a, { bookingId: '90000002', store: 'shibuya' });
      await settled(a);
      expect(ginza.acked.map((r) => r.json.reservation.reservationId)).toEqual(['90000001']);
      expect(receiver.acked.map((r) => r.json.reservation.reservationId)).toEqual(['90000002']);
      expect((await deliveries(a)).map((d) => d.endpoint).sort()).toEqual(['default', 'store:ginza']);
    } finally {
      await ginza.close();
    }
  });

  it('stops retrying after webhook.maxAgeHours: the delivery is dead and says why', async () => {
    receiver.respond = () => 503;
    let offset = 0;
    const a = await startTestApp(
      { ...FAST, 'webhook.url': receiver.url, 'webhook.secret': SECRET, 'webhook.maxAgeHours': 1 },
      { clock: () => Date.now() + offset },
    );
    app = a;
    await send(a, { bookingId: '91000001' });
    await until(() => receiver.requests.length >= 2, progress(a, receiver));
    offset = 2 * 3_600_000; // two hours later
    await settled(a);
    const [d] = await deliveries(a);
    expect(d).toMatchObject({ state: 'dead', lastErrorCode: 'WEBHOOK_EXPIRED', lastStatus: 503 });
    expect(d!.lastError).toContain('HTTP 503');
  });

  it('exports delivery metrics', async () => {
    const a = await node();
    await send(a, { bookingId: '92000001' });
    await settled(a);
    const text = await (await fetch(`http://127.0.0.1:${a.httpPort}/metrics`)).text();
    expect(text).toMatch(/^ota_inbound_webhook_deliveries_total\{result="delivered"\} 1$/m);
    expect(text).toMatch(/^ota_inbound_webhook_pending_deliveries 0$/m);
    expect(text).toMatch(/^ota_inbound_webhook_oldest_pending_age_seconds 0$/m);
    expect(text).toMatch(/^ota_inbound_webhook_delivery_duration_seconds_count 1$/m);
  });
});
