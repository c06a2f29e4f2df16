import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp, deliver, queuedId } from '../helpers/smtp.ts';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';
import { refOf } from '../../src/store/index.ts';

const BENCH_MAIL = fs.readFileSync(path.join(import.meta.dirname, '../../bench/reservation-iso2022jp.eml'));
const simple = (subject: string) =>
  `From: sender@sender.example\r\nTo: shop@intake.example\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@sender.example>\r\n\r\nhello\r\n`;

describe('SMTP ingest', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      'smtp.maxMessageBytes': 64 * 1024,
      'smtp.maxRecipients': 3,
      stores: ['sakura-ginza', 'shop'],
    });
  });
  afterAll(() => app.cleanup());

  it('spools a mail byte for byte, answers 250 with the spool id, and records it in the database', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: app.smtpPort,
      secure: false,
      ignoreTLS: true,
    });
    const info = await transport.sendMail({
      envelope: { from: 'yoyaku-noreply@ota.example', to: ['sakura-ginza@intake.example'] },
      raw: BENCH_MAIL,
    });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \S+$/);
    const id = /queued as (\S+)/.exec(info.response)![1]!;
    const row = await waitProcessed(app, id);
    expect(row.store).toBe('sakura-ginza');
    expect(row.mail_from).toBe('yoyaku-noreply@ota.example');
    expect(JSON.parse(row.rcpt_to)).toEqual(['sakura-ginza@intake.example']);
    // The file has LF line ends; on the wire (and so in the spool) they are CRLF.
    const wire = Buffer.from(BENCH_MAIL.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    expect(row.size).toBe(wire.length);
    const raw = await app.spool.journal.read(refOf(row), row.id);
    expect(raw.equals(wire)).toBe(true);
  });

  it('refuses relaying to a domain it does not serve with 550 5.7.1', async () => {
    const { replies } = await deliver(app.smtpPort, { to: ['victim@elsewhere.example'], message: simple('relay') });
    expect(replies.at(-1)).toMatchObject({ code: 550 });
    expect(replies.at(-1)!.text).toMatch(/^5\.7\.1 Relaying denied/);
  });

  it('quarantines mail for an unknown store of an accepted domain by default', async () => {
    const { final } = await deliver(app.smtpPort, {
      to: ['nobody-here@intake.example'],
      message: simple('quarantine'),
    });
    expect(final.code).toBe(250);
    const row = await waitProcessed(app, queuedId(final));
    expect(row.quarantined).toBe(1);
    expect(row.store).toBeNull();
    expect(row.error, row.error ?? '').toBeNull();
    expect(row.state).toBe('quarantined');
  });

  it('refuses a message over the size limit with 552 5.3.4 after reading it, and keeps serving', async () => {
    const big = simple('big') + 'x'.repeat(100 * 1024) + '\r\n';
    const { client } = await RawSmtp.connect(app.smtpPort);
    await client.cmd('EHLO sender.example');
    expect((await client.cmd('MAIL FROM:<a@sender.example>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<shop@intake.example>')).code).toBe(250);
    const r = await client.data(big);
    expect(r.code).toBe(552);
    expect(r.text).toMatch(/^5\.3\.4 Message too big/);
    // Same connection, next transaction works.
    await client.cmd('RSET');
    await client.cmd('MAIL FROM:<a@sender.example>');
    await client.cmd('RCPT TO:<shop@intake.example>');
    expect((await client.data(simple('after-big'))).code).toBe(250);
    await client.quit();
  });

  it('advertises SIZE in the EHLO reply', async () => {
    const { client } = await RawSmtp.connect(app.smtpPort);
    const ehlo = await client.cmd('EHLO sender.example');
    expect(ehlo.lines).toContain(`SIZE ${64 * 1024}`);
    expect(ehlo.lines).toContain('STARTTLS');
    await client.quit();
  });

  it('answers 452 4.5.3 to one recipient too many', async () => {
    const { replies } = await deliver(app.smtpPort, {
      to: ['shop@intake.example', 'shop@intake.example', 'sakura-ginza@intake.example', 'shop@intake.example'].map(
        (a, i) => a.replace('@', i === 1 ? '+x@' : '@'),
      ),
      message: simple('rcpts'),
    });
    const rcptReplies = replies.slice(2, 6);
    expect(rcptReplies.slice(0, 3).every((r) => r.code === 250)).toBe(true);
    expect(rcptReplies[3]).toMatchObject({ code: 452 });
    expect(rcptReplies[3]!.text).toMatch(/^4\.5\.3 /);
  });
});

describe('SMTP ingest, strict recipients and limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ 'smtp.unknownRecipient': 'reject', stores: ['shop'], 'smtp.maxConnectionsPerIp': 2 });
  });
  afterAll(() => app.cleanup());

  it('answers 550 5.1.1 for an unknown store when configured strict', async () => {
    const { replies } = await deliver(app.smtpPort, { to: ['nobody@intake.example'], message: simple('strict') });
    expect(replies.at(-1)).toMatchObject({ code: 550 });
    expect(replies.at(-1)!.text).toMatch(/^5\.1\.1 /);
  });

  it('refuses a connection over the per-address limit with 421 4.7.0', async () => {
    const a = await RawSmtp.connect(app.smtpPort);
    const b = await RawSmtp.connect(app.smtpPort);
    const c = await RawSmtp.connect(app.smtpPort);
    expect(a.greeting.code).toBe(220);
    expect(b.greeting.code).toBe(220);
    expect(c.greeting.code).toBe(421);
    expect(c.greeting.text).toMatch(/^4\.7\.0 /);
    await a.client.quit();
    await b.client.quit();
    c.client.destroy();
  });
});

describe('SMTP ingest, disk space', () => {
  it('answers MAIL FROM with 452 4.3.1 while the spool disk is below the reserve, and accepts again once space returns', async () => {
    const disk = { free: 10 * 1024 * 1024 * 1024 };
    const app = await startTestApp({ 'smtp.minFreeBytes': 1024 * 1024 }, { freeBytes: async () => disk.free });
    try {
      disk.free = 1000;
      app.spool.invalidateFreeSpace();
      const { replies } = await deliver(app.smtpPort, { to: ['shop@intake.example'], message: simple('full') });
      expect(replies[1]).toMatchObject({ code: 452 });
      expect(replies[1]!.text).toMatch(/^4\.3\.1 Insufficient system storage/);
      const ready = await fetch(`http://127.0.0.1:${app.httpPort}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, { ok: boolean }> }).checks.spool!.ok).toBe(false);
      disk.free = 10 * 1024 * 1024 * 1024;
      app.spool.invalidateFreeSpace();
      expect(
        (await deliver(app.smtpPort, { to: ['shop@intake.example'], message: simple('space-back') })).final.code,
      ).toBe(250);
    } finally {
      await app.cleanup();
    }
  });
});
