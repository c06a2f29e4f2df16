/**
 * Two MX nodes (two ota-inbound instances, separate data directories) both
 * take the same mail — a sender that retried to the backup MX after the
 * primary had already accepted it. The reservation system receives two
 * deliveries with different delivery ids and the same Idempotency-Key, so it
 * can keep one (docs/webhooks.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { verifySignature } from '../../src/deliver/index.ts';
import { tabelogMail } from './mail.ts';
import { Receiver, progress, until } from './receiver.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const SECRET = 'whsec_shared_by_both_nodes';

describe('two nodes behind MX priorities', () => {
  let receiver: Receiver;
  let primary: TestApp;
  let backup: TestApp;

  beforeAll(async () => {
    receiver = await new Receiver().start();
    const certsDir = tempDir('ota-certs-');
    const common = { 'webhook.url': receiver.url, 'webhook.secret': SECRET, 'webhook.retryBaseMs': 20, certsDir };
    primary = await startTestApp({ ...common, 'smtp.hostname': 'mx1.test.example' });
    backup = await startTestApp({ ...common, 'smtp.hostname': 'mx2.test.example' });
  });
  afterAll(async () => {
    await primary?.cleanup();
    await backup?.cleanup();
    await receiver.close();
  });

  async function both(mail: Buffer): Promise<void> {
    for (const node of [primary, backup]) {
      const { final } = await deliver(node.smtpPort, {
        from: 'info@tabelog.com',
        to: ['shibuya@intake.example'],
        message: mail,
      });
      expect(final.code).toBe(250);
      expect((await waitProcessed(node, queuedId(final))).state).toBe('processed');
    }
  }

  it('delivers the same mail from both nodes with one Idempotency-Key and two delivery ids', async () => {
    await both(tabelogMail({ bookingId: '77770001', messageId: 'ha-new-77770001@tabelog.com' }));
    const got = await until(
      () => (receiver.acked.length >= 2 ? receiver.acked : undefined),
      [...progress(primary, receiver), ...progress(backup)],
    );
    expect(got).toHaveLength(2);
    const [a, b] = got as [(typeof got)[0], (typeof got)[0]];
    expect(a.headers['idempotency-key']).toBe(b.headers['idempotency-key']);
    expect(a.headers['x-ota-delivery-id']).not.toBe(b.headers['x-ota-delivery-id']);
    for (const r of got)
      expect(verifySignature({ header: String(r.headers['x-ota-signature']), body: r.body, secret: SECRET })).toBe(
        true,
      );
    // The business content is identical; only node-local references differ.
    const strip = (p: typeof a.json) => ({
      ...p,
      id: undefined,
      message: { ...p.message, spoolId: undefined, receivedAt: undefined },
    });
    expect(strip(a.json)).toEqual(strip(b.json));
  });

  it('gives a different key to a different event of the same reservation, the same one again on both nodes', async () => {
    receiver.requests.length = 0;
    await both(
      tabelogMail({
        kind: 'change',
        bookingId: '77770001',
        party: 5,
        messageId: 'ha-change-77770001@tabelog.com',
        sentAt: 'Fri, 20 Nov 2026 11:00:00 +0900',
      }),
    );
    const got = await until(
      () => (receiver.acked.length >= 2 ? receiver.acked : undefined),
      [...progress(primary, receiver), ...progress(backup)],
    );
    const keys = new Set(got.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect(got.every((r) => r.json.event === 'reservation.change' && r.json.reservation.partySize === 5)).toBe(true);
    const newKey = sqliteOf(primary.store)
      .prepare(`SELECT idempotency_key AS k FROM deliveries WHERE event = 'reservation.new'`)
      .get() as { k: string };
    expect(keys.has(newKey.k)).toBe(false);
  });

  it('falls back to the content hash for a mail without Message-ID, still equal on both nodes', async () => {
    receiver.requests.length = 0;
    const raw = tabelogMail({ bookingId: '77770002' })
      .toString('utf8')
      .replace(/^Message-ID: .*\r\n/m, '');
    await both(Buffer.from(raw, 'utf8'));
    const got = await until(
      () => (receiver.acked.length >= 2 ? receiver.acked : undefined),
      [...progress(primary, receiver), ...progress(backup)],
    );
    expect(got[0]!.json.message.messageId).toBeNull();
    expect(got[0]!.headers['idempotency-key']).toBe(got[1]!.headers['idempotency-key']);
  });
});
