/**
 * Bounded resources at the SMTP front end (issue 12 item 4; docs/security.md,
 * "Resource limits"): the memory budget of all sessions in DATA, the deadline
 * before the first MAIL FROM, eviction at the connection limit, the overall
 * DATA deadline and the PROXY header deadline. Real sockets, real server.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RawSmtp, deliver, queuedId } from '../helpers/smtp.ts';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';

let app: TestApp | null = null;
afterEach(async () => {
  await app?.cleanup();
  app = null;
});

/** A made-up booking-site notification padded with body lines to about `bytes` bytes. */
function paddedMail(subject: string, bytes: number): string {
  const head =
    `From: yoyaku@ota.example\r\nTo: sakura-ginza@intake.example\r\nSubject: ${subject}\r\n` +
    `Message-ID: <${subject.replace(/\W/g, '')}@ota.example>\r\n\r\nご予約を承りました。\r\n`;
  const line = `${'x'.repeat(76)}\r\n`;
  return head + line.repeat(Math.max(0, Math.ceil((bytes - head.length) / line.length)));
}

/** Re-checks a condition on every turn of the event loop's timer phase until it holds (the test timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function limitCount(a: TestApp, limit: string): Promise<number> {
  const m = await a.metrics.smtpLimitActions.get();
  return m.values.find((v) => v.labels.limit === limit)?.value ?? 0;
}

/** A session that has sent DATA and `partial` of the message, not the end. */
async function openData(port: number, partial: string): Promise<RawSmtp> {
  const { client } = await RawSmtp.connect(port);
  expect((await client.cmd('EHLO big-sender.example')).code).toBe(250);
  expect((await client.cmd('MAIL FROM:<yoyaku@ota.example>')).code).toBe(250);
  expect((await client.cmd('RCPT TO:<sakura-ginza@intake.example>')).code).toBe(250);
  expect((await client.cmd('DATA')).code).toBe(354);
  client.write(partial);
  return client;
}

describe('SMTP resource limits', () => {
  it('answers 452 4.3.1 when the bytes of all sessions in DATA would pass smtp.dataMemoryBytes, and accepts again once they are spooled', async () => {
    app = await startTestApp({ 'smtp.dataMemoryBytes': 1024 * 1024 });
    const a = await openData(app.smtpPort, paddedMail('first large', 700_000));
    // smtp-stream holds back the last bytes of a chunk until it knows they are not the terminator.
    await until(() => app!.smtp.budget.held > 690_000);
    expect((await app.metrics.smtpDataBuffered.get()).values[0]!.value).toBeGreaterThan(690_000);

    const second = paddedMail('second large', 500_000);
    const refused = await deliver(app.smtpPort, { to: ['sakura-ginza@intake.example'], message: second });
    expect(refused.final.code).toBe(452);
    expect(refused.final.text).toMatch(/^4\.3\.1 Too many large messages are being received at once/);
    expect(await limitCount(app, 'data_memory')).toBe(1);

    a.write('.\r\n');
    const first = await a.read();
    expect(first.code).toBe(250);
    await a.quit();
    expect(app.smtp.budget.held).toBe(0);

    // The sender's retry fits now.
    const retry = await deliver(app.smtpPort, { to: ['sakura-ginza@intake.example'], message: second });
    expect(retry.final.code).toBe(250);
    expect((await waitProcessed(app, queuedId(retry.final))).size).toBeGreaterThan(500_000);
    expect(app.smtp.budget.held).toBe(0);
  });

  it('gives the budget back when a client disconnects in the middle of DATA', async () => {
    app = await startTestApp({ 'smtp.dataMemoryBytes': 1024 * 1024 });
    const a = await openData(app.smtpPort, paddedMail('abandoned', 600_000));
    await until(() => app!.smtp.budget.held > 590_000);
    a.destroy();
    await until(() => app!.smtp.budget.held === 0);
    const { final } = await deliver(app.smtpPort, {
      to: ['sakura-ginza@intake.example'],
      message: paddedMail('after the abandoned one', 900_000),
    });
    expect(final.code).toBe(250);
  });

  it('answers MAIL FROM with 452 4.3.1 when its SIZE= does not fit the free memory budget', async () => {
    app = await startTestApp({ 'smtp.dataMemoryBytes': 1024 * 1024 });
    const { client } = await RawSmtp.connect(app.smtpPort);
    await client.cmd('EHLO big-sender.example');
    const r = await client.cmd('MAIL FROM:<yoyaku@ota.example> SIZE=2000000');
    expect(r.code).toBe(452);
    expect(r.text).toMatch(/^4\.3\.1 /);
    expect((await client.cmd('MAIL FROM:<yoyaku@ota.example> SIZE=20000')).code).toBe(250);
    await client.quit();
  });

  it('closes a session that sends no MAIL FROM within smtp.preMailTimeoutMs with 421 4.4.2, and leaves a session in a transaction alone', async () => {
    app = await startTestApp({ 'smtp.preMailTimeoutMs': 1000 });
    const t0 = Date.now();
    const { client: idle } = await RawSmtp.connect(app.smtpPort);
    const { client: sender } = await RawSmtp.connect(app.smtpPort);
    expect((await idle.cmd('EHLO idle.example')).code).toBe(250);
    expect((await sender.cmd('EHLO mx.sender.example')).code).toBe(250);
    expect((await sender.cmd('MAIL FROM:<yoyaku@ota.example>')).code).toBe(250);

    const cut = await idle.read();
    expect(cut.code).toBe(421);
    expect(cut.text).toBe('4.4.2 No MAIL FROM within 1 seconds of connecting, closing the connection');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    await until(() => idle.closed);

    // Older than the timeout now, but in a transaction: it delivers.
    expect((await sender.cmd('RCPT TO:<sakura-ginza@intake.example>')).code).toBe(250);
    expect((await sender.data(paddedMail('after the idle one', 500))).code).toBe(250);
    await sender.quit();
    expect(await limitCount(app, 'pre_mail_timeout')).toBe(1);
  });

  it('at the connection limit, evicts the oldest session without a transaction (421 4.4.5) instead of refusing a new sender', async () => {
    app = await startTestApp({ 'smtp.maxClients': 3, 'smtp.reservedConnections': 1 });
    const { client: oldest } = await RawSmtp.connect(app.smtpPort);
    await oldest.cmd('EHLO idle-1.example');
    const { client: busy } = await RawSmtp.connect(app.smtpPort);
    await busy.cmd('EHLO mx.sender.example');
    expect((await busy.cmd('MAIL FROM:<yoyaku@ota.example>')).code).toBe(250);
    const { client: younger } = await RawSmtp.connect(app.smtpPort);
    await younger.cmd('EHLO idle-2.example');

    // Full (3 of 3): the newcomer gets in, the oldest idle session goes.
    const { client: newcomer, greeting } = await RawSmtp.connect(app.smtpPort);
    expect(greeting.code).toBe(220);
    const evicted = await oldest.read();
    expect(evicted.code).toBe(421);
    expect(evicted.text).toMatch(/^4\.4\.5 All connection slots are taken/);
    expect(await limitCount(app, 'evicted')).toBe(1);

    // Everyone left is in a transaction: nothing to evict, so the next one is refused.
    expect((await younger.cmd('MAIL FROM:<yoyaku@ota.example>')).code).toBe(250);
    await newcomer.cmd('EHLO mx2.sender.example');
    expect((await newcomer.cmd('MAIL FROM:<yoyaku@ota.example>')).code).toBe(250);
    const { greeting: refused } = await RawSmtp.connect(app.smtpPort);
    expect(refused.code).toBe(421);
    expect(refused.text).toMatch(/^4\.7\.0 Too many connections/);

    // The session that was in a transaction all along delivers.
    expect((await busy.cmd('RCPT TO:<sakura-ginza@intake.example>')).code).toBe(250);
    expect((await busy.data(paddedMail('kept while full', 500))).code).toBe(250);
    for (const c of [busy, younger, newcomer]) await c.quit();
  });

  it('ends a DATA phase that passes smtp.dataTimeoutMs with 421 4.4.2 and does not accept the message', async () => {
    app = await startTestApp({ 'smtp.dataTimeoutMs': 1000 });
    const t0 = Date.now();
    // A trickling sender: it never goes idle long enough for the idle timeout.
    const client = await openData(app.smtpPort, paddedMail('trickle', 2_000));
    const trickle = setInterval(() => client.write('x'), 100);
    try {
      const r = await client.read();
      expect(r.code).toBe(421);
      expect(r.text).toBe(
        '4.4.2 The message took longer than 1 seconds to transfer and was not accepted, closing the connection',
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    } finally {
      clearInterval(trickle);
    }
    await until(() => client.closed);
    expect(await limitCount(app, 'data_timeout')).toBe(1);
    expect(app.smtp.budget.held).toBe(0);
    const accepted = await app.metrics.smtpMessages.get();
    expect(accepted.values.find((v) => v.labels.result === 'accepted')).toBeUndefined();
  });

  it('closes a connection from a trusted load balancer that sends no PROXY header within smtp.proxyHeaderTimeoutMs', async () => {
    app = await startTestApp({ 'smtp.proxyTrusted': ['127.0.0.1'], 'smtp.proxyHeaderTimeoutMs': 300 });
    const t0 = Date.now();
    const socket = net.connect(app.smtpPort, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    await new Promise((resolve) => socket.once('close', resolve));
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    // The idle timeout (5 minutes) would have held it that long.
    expect(elapsed).toBeLessThan(5_000);
    expect(received).toBe('');
    expect(await limitCount(app, 'proxy_header_timeout')).toBe(1);
  });
});
