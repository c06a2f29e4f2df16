/**
 * The outbox's rules in isolation: keys, signatures, settings — and
 * deliveries written by another process on the same database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config/index.ts';
import { OutboxWriter, idempotencyKey, signatureHeader, verifySignature } from '../../src/deliver/index.ts';
import { databaseFile } from '../../src/app.ts';
import { Store } from '../../src/store/index.ts';
import type { Extraction } from '../../src/extract/types.ts';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { tabelogMail } from './mail.ts';
import { Receiver, progress, until } from './receiver.ts';

describe('idempotency key', () => {
  const base = {
    source: 'tabelog',
    reservationId: '123',
    event: 'new',
    messageId: '<a@tabelog.com>',
    contentHash: 'c0ffee',
    spoolId: 'node-local-1',
  };

  it('depends on the mail and the event only, not on the node', () => {
    expect(idempotencyKey(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(idempotencyKey({ ...base, spoolId: 'node-local-2' })).toBe(idempotencyKey(base));
    expect(idempotencyKey({ ...base, event: 'cancel' })).not.toBe(idempotencyKey(base));
    expect(idempotencyKey({ ...base, messageId: '<b@tabelog.com>' })).not.toBe(idempotencyKey(base));
    expect(idempotencyKey({ ...base, reservationId: '124' })).not.toBe(idempotencyKey(base));
  });

  it('falls back to the content hash, then the spool id, when there is no Message-ID', () => {
    const noMid = { ...base, messageId: null };
    expect(idempotencyKey({ ...noMid, spoolId: 'x' })).toBe(idempotencyKey({ ...noMid, spoolId: 'y' }));
    expect(idempotencyKey({ ...noMid, contentHash: 'other' })).not.toBe(idempotencyKey(noMid));
    expect(idempotencyKey({ ...noMid, contentHash: null, spoolId: 'x' })).not.toBe(
      idempotencyKey({ ...noMid, contentHash: null, spoolId: 'y' }),
    );
  });

  it('changes for a replay correction, equally on every node', () => {
    const x = { kind: 'reservation', partySize: 5 } as unknown as Extraction;
    expect(idempotencyKey({ ...base, revision: x })).not.toBe(idempotencyKey(base));
    expect(idempotencyKey({ ...base, revision: x, spoolId: 'other-node' })).toBe(
      idempotencyKey({ ...base, revision: x }),
    );
  });
});

describe('signature', () => {
  it('refuses a timestamp outside the tolerance and a header without v1', () => {
    const body = '{"a":1}';
    const now = Date.now();
    const old = Math.floor(now / 1000) - 600;
    expect(verifySignature({ header: signatureHeader(['s'], old, body), body, secret: 's', now })).toBe(false);
    expect(
      verifySignature({ header: signatureHeader(['s'], old, body), body, secret: 's', now, toleranceSeconds: 900 }),
    ).toBe(true);
    expect(verifySignature({ header: `t=${Math.floor(now / 1000)}`, body, secret: 's', now })).toBe(false);
    expect(verifySignature({ header: 'garbage', body, secret: 's', now })).toBe(false);
  });
});

describe('webhook settings', () => {
  const load = (overrides: Record<string, unknown>, env: Record<string, string> = {}) =>
    loadConfig({ env, file: null, overrides: { dataDir: tempDir(), ...overrides } });

  it('parses per-store endpoints and names the setting when one is wrong', () => {
    const c = load({
      'webhook.storeUrls': ['ginza=https://a.example/h', 'Ginza=https://b.example/h'],
      'webhook.secret': 's',
    });
    expect(c.webhook.storeUrls).toEqual([
      { store: 'ginza', url: 'https://a.example/h' },
      { store: 'ginza', url: 'https://b.example/h' },
    ]);
    expect(() => load({ 'webhook.storeUrls': ['https://a.example/h'], 'webhook.secret': 's' })).toThrow(
      /webhook\.storeUrls/,
    );
    expect(() => load({ 'webhook.storeUrls': ['ginza=ftp://a.example/'], 'webhook.secret': 's' })).toThrow(ConfigError);
    expect(() => load({}, { OTA_INBOUND_WEBHOOK_STORE_URLS: 'ginza=https://a.example/h' })).toThrow(/webhook\.secret/);
    expect(load({}).webhook).toMatchObject({
      maxAgeHours: 72,
      concurrency: 8,
      timeoutMs: 10_000,
      secretPrevious: null,
      storeUrls: [],
    });
  });
});

describe('deliveries written by another process', () => {
  let receiver: Receiver;
  let app: TestApp;

  beforeAll(async () => {
    receiver = await new Receiver().start();
    app = await startTestApp({ 'webhook.url': receiver.url, 'webhook.secret': 'whsec', 'webhook.retryBaseMs': 20 });
  });
  afterAll(async () => {
    await app?.cleanup();
    await receiver?.close();
  });

  it('are sent by the running server (a replay correction, with its own key)', async () => {
    const { final } = await deliver(app.smtpPort, {
      to: ['shibuya@intake.example'],
      message: tabelogMail({ bookingId: '55550001' }),
    });
    const id = queuedId(final);
    await waitProcessed(app, id);
    const first = await until(() => receiver.acked[0], progress(app, receiver));

    // Another process (like `ota-inbound replay`) records a corrected event on the same database.
    const other = new Store(databaseFile(app.config));
    try {
      const writer = new OutboxWriter(other.outbox, app.config.webhook);
      const row = other.message(id)!;
      const extraction = { ...(JSON.parse(row.extraction!) as Extraction), partySize: 5 };
      const queued = other.transaction(() => {
        const { events } = other.applyOutcome(
          row,
          {
            id,
            messageId: row.message_id,
            sentAt: row.sent_at,
            contentHash: row.content_hash,
            subject: null,
            extraction,
            meta: {},
          },
          { replayReason: 'replay: extraction changed' },
        );
        return events.reduce((n, e) => n + writer.write(e), 0);
      });
      expect(queued).toBe(1);
    } finally {
      other.close();
    }

    const second = await until(() => receiver.acked[1], progress(app, receiver));
    expect(second.json).toMatchObject({
      event: 'reservation.new',
      replayReason: 'replay: extraction changed',
      reservation: { partySize: 5 },
    });
    expect(second.headers['idempotency-key']).not.toBe(first.headers['idempotency-key']);
    expect(first.json.replayReason).toBeNull();
  });
});
