/**
 * Protocol details (issue 12 item 6, issue 16 item 7; docs/security.md):
 * SIZE= at MAIL FROM, postmaster@, the Received trace header, and what bare
 * LF / bare CR in DATA become. Real sockets, the bytes compared in the spool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp, deliver, queuedId } from '../helpers/smtp.ts';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';
import { refOf } from '../../src/store/index.ts';

const MAX = 64 * 1024;

describe('SMTP protocol details', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      'smtp.maxMessageBytes': MAX,
      // Strict routing: only known stores, unknown recipients refused. postmaster must still get through.
      stores: ['sakura-ginza'],
      'smtp.unknownRecipient': 'reject',
    });
  });
  afterAll(() => app.cleanup());

  it('answers a MAIL FROM whose SIZE= exceeds the limit with 552 5.3.4 and a sentence, and accepts one within it', async () => {
    const { client } = await RawSmtp.connect(app.smtpPort);
    const ehlo = await client.cmd('EHLO mx.sender.example');
    expect(ehlo.lines).toContain(`SIZE ${MAX}`);
    const r = await client.cmd(`MAIL FROM:<yoyaku@ota.example> SIZE=${MAX + 1}`);
    expect(r.code).toBe(552);
    expect(r.text).toBe(`5.3.4 Message too big: the declared SIZE=${MAX + 1} exceeds the limit of ${MAX} bytes`);
    expect((await client.cmd(`MAIL FROM:<yoyaku@ota.example> SIZE=${MAX}`)).code).toBe(250);
    await client.quit();
  });

  it('accepts postmaster@ an accepted domain into quarantine (RFC 5321 §4.5.1), though unknown recipients are refused', async () => {
    const message =
      'From: Hanako Suzuki <hanako.suzuki@sender.example>\r\nTo: postmaster@intake.example\r\n' +
      'Subject: Your server bounced our reservation notice\r\nMessage-ID: <pm-1@sender.example>\r\n\r\n' +
      'Hello postmaster, a notice to sakura-ginza bounced yesterday.\r\n';
    const { replies, final } = await deliver(app.smtpPort, { to: ['PostMaster@Intake.Example'], message });
    expect(replies[2]).toMatchObject({ code: 250 });
    expect(final.code).toBe(250);
    const id = queuedId(final);
    const row = await waitProcessed(app, id);
    expect(row.state).toBe('quarantined');
    expect(row.store).toBeNull();
    const rec = await app.spool.journal.readRecord(refOf(row), id);
    expect(rec.envelope.quarantineReason).toBe('postmaster');

    // A plain unknown address is still refused, and the bare <postmaster> is accepted.
    const { client } = await RawSmtp.connect(app.smtpPort);
    await client.cmd('EHLO mx.sender.example');
    await client.cmd('MAIL FROM:<hanako.suzuki@sender.example>');
    expect((await client.cmd('RCPT TO:<no-such-store@intake.example>')).code).toBe(550);
    expect((await client.cmd('RCPT TO:<postmaster>')).code).toBe(250);
    await client.quit();
  });

  it('records a Received trace header in the journal envelope and keeps the raw bytes exactly as sent', async () => {
    const message =
      'From: yoyaku@ota.example\r\nTo: sakura-ginza@intake.example\r\nSubject: trace\r\n' +
      'Message-ID: <trace-1@ota.example>\r\n\r\nThank you for your reservation.\r\n';
    const { final } = await deliver(app.smtpPort, {
      to: ['sakura-ginza@intake.example'],
      message,
      ehlo: 'mail.ota.example',
    });
    const id = queuedId(final);
    const row = await waitProcessed(app, id);
    const rec = await app.spool.journal.readRecord(refOf(row), id);
    expect(rec.body.equals(Buffer.from(message, 'latin1'))).toBe(true);
    const received = rec.envelope.received!;
    const lines = received.split('\r\n');
    expect(lines[0]).toBe('Received: from mail.ota.example ([127.0.0.1])');
    expect(lines[1]).toBe('\tby mx.test.example (ota-inbound) with ESMTP');
    expect(lines[2]).toBe(`\tid ${id}`);
    expect(lines[3]).toMatch(
      /^\tfor <sakura-ginza@intake\.example>; \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/,
    );
    expect(lines[4]).toBe('');
    const date = Date.parse(lines[3]!.split('; ')[1]!);
    expect(Math.abs(date - rec.receivedAt)).toBeLessThan(1000);
  });

  it('keeps bare LF and bare CR in DATA as they were sent, ends DATA only on CRLF.CRLF, and still parses the mail', async () => {
    // Bare LF line ends (a sender that never learned CRLF), a bare CR inside a line, and the
    // smuggling candidates "\n.\r\n" and "\r\n.\n", which are not the end of DATA.
    const body =
      'From: yoyaku@ota.example\nTo: sakura-ginza@intake.example\nSubject: bare line ends\n' +
      'Message-ID: <bare-1@ota.example>\n\nline one\nline two\rstill line two\r\n' +
      'not the end\n.\r\nMAIL FROM:<smuggled@evil.example>\r\n.\nstill data\r\n';
    const { client } = await RawSmtp.connect(app.smtpPort);
    await client.cmd('EHLO mx.sender.example');
    await client.cmd('MAIL FROM:<yoyaku@ota.example>');
    await client.cmd('RCPT TO:<sakura-ginza@intake.example>');
    expect((await client.cmd('DATA')).code).toBe(354);
    client.write(Buffer.from(`${body}.\r\n`, 'latin1'));
    const done = await client.read();
    expect(done.code).toBe(250);
    // Nothing smuggled: the next reply is to our own command.
    expect((await client.cmd('NOOP')).code).toBe(250);
    await client.quit();

    const id = queuedId(done);
    const row = await waitProcessed(app, id);
    const raw = await app.spool.journal.read(refOf(row), id);
    expect(raw.toString('latin1')).toBe(body);
    // The parser reads bare LF, bare CR and CRLF alike as a line end: header fields and body lines come out right.
    expect(row.message_id).toBe('<bare-1@ota.example>');
    const res = await fetch(`http://127.0.0.1:${app.httpPort}/api/messages/${id}/text`);
    const parsed = (await res.json()) as { subject: string; text: string };
    expect(parsed.subject).toBe('bare line ends');
    expect(parsed.text).toBe(
      'line one\nline two\nstill line two\nnot the end\n.\nMAIL FROM:<smuggled@evil.example>\n.\nstill data\n',
    );
    expect(JSON.parse(row.rcpt_to)).toEqual(['sakura-ginza@intake.example']);
  });
});
