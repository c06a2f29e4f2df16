/**
 * Shutdown within Docker's 10 s grace (issue 12 item 5): idle sessions get
 * 421 4.3.2 at once, only a message in flight gets the grace
 * (smtp.closeTimeoutMs), and its session is closed right after its reply.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RawSmtp } from '../helpers/smtp.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

let app: TestApp | null = null;
afterEach(async () => {
  await app?.cleanup();
  app = null;
});

const MAIL =
  'From: yoyaku@ota.example\r\nTo: sakura-ginza@intake.example\r\nSubject: during shutdown\r\n' +
  'Message-ID: <shutdown-1@ota.example>\r\n\r\nA reservation that arrives while the node stops.\r\n';

describe('SMTP shutdown', () => {
  it('stops in well under 10 s with idle sessions open: each gets 421 4.3.2 at once', async () => {
    app = await startTestApp();
    const { client: greeted } = await RawSmtp.connect(app.smtpPort);
    const { client: helloed } = await RawSmtp.connect(app.smtpPort);
    await helloed.cmd('EHLO idle.example');
    const { client: inTransaction } = await RawSmtp.connect(app.smtpPort);
    await inTransaction.cmd('EHLO idle.example');
    await inTransaction.cmd('MAIL FROM:<yoyaku@ota.example>');

    const t0 = Date.now();
    await app.stop();
    const stopMs = Date.now() - t0;
    for (const c of [greeted, helloed, inTransaction]) {
      const r = await c.read();
      expect(r.code).toBe(421);
      expect(r.text).toBe('4.3.2 Service shutting down, try again later');
    }
    // smtp.closeTimeoutMs (8 s) is the bound for mail in flight; idle sessions do not wait for it.
    expect(stopMs).toBeLessThan(3_000);
    expect(await app.metrics.smtpLimitActions.get()).toMatchObject({
      values: [{ labels: { limit: 'shutdown_idle' }, value: 3 }],
    });
  });

  it('lets a message in DATA finish (250), then closes that session too', async () => {
    app = await startTestApp();
    const { client: idle } = await RawSmtp.connect(app.smtpPort);
    await idle.cmd('EHLO idle.example');
    const { client: sender } = await RawSmtp.connect(app.smtpPort);
    await sender.cmd('EHLO mx.sender.example');
    await sender.cmd('MAIL FROM:<yoyaku@ota.example>');
    await sender.cmd('RCPT TO:<sakura-ginza@intake.example>');
    expect((await sender.cmd('DATA')).code).toBe(354);
    sender.write(MAIL.slice(0, 60));

    const t0 = Date.now();
    const stopped = app.stop();
    expect((await idle.read()).code).toBe(421);
    // The idle one is gone while the sender is still mid-message: finish it.
    sender.write(`${MAIL.slice(60)}.\r\n`);
    const accepted = await sender.read();
    expect(accepted.code).toBe(250);
    const closing = await sender.read();
    expect(closing).toMatchObject({ code: 421, text: '4.3.2 Service shutting down, try again later' });
    await stopped;
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('refuses new connections while stopping', async () => {
    app = await startTestApp();
    const { client: sender } = await RawSmtp.connect(app.smtpPort);
    await sender.cmd('EHLO mx.sender.example');
    await sender.cmd('MAIL FROM:<yoyaku@ota.example>');
    await sender.cmd('RCPT TO:<sakura-ginza@intake.example>');
    expect((await sender.cmd('DATA')).code).toBe(354);
    const stopped = app.stop();
    // The listener is closed: a new sender is refused at the TCP level and retries elsewhere or later.
    const refused = await RawSmtp.connect(app.smtpPort).then(
      () => 'connected',
      (err: NodeJS.ErrnoException) => err.code ?? err.message,
    );
    expect(refused).not.toBe('connected');
    sender.write(`${MAIL}.\r\n`);
    expect((await sender.read()).code).toBe(250);
    await stopped;
  });
});
