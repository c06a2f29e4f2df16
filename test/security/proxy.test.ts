/**
 * PROXY protocol (v1) behind a TCP load balancer: believed from the addresses
 * in smtp.proxyTrusted only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';
import { ByteClient } from './client.ts';

let app: TestApp | null = null;
afterEach(async () => {
  await app?.cleanup();
  app = null;
});

/** One transaction on an open client; returns the spool id. */
async function transaction(c: ByteClient): Promise<string> {
  expect((await c.cmd('EHLO lb-client.example'))?.code).toBe(250);
  expect((await c.cmd('MAIL FROM:<a@sender.example>'))?.code).toBe(250);
  expect((await c.cmd('RCPT TO:<ginza@intake.example>'))?.code).toBe(250);
  expect((await c.cmd('DATA'))?.code).toBe(354);
  const done = await c.cmd('Subject: via proxy\r\n\r\nhello\r\n.');
  expect(done?.code).toBe(250);
  return /queued as (\S+)/.exec(done!.text)![1]!;
}

describe('PROXY protocol', () => {
  it('takes the client address from the PROXY header of a trusted load balancer', async () => {
    app = await startTestApp({ 'smtp.proxyTrusted': ['127.0.0.1'] });
    const c = await ByteClient.open(app.smtpPort, 'PROXY TCP4 203.0.113.9 192.0.2.10 40001 25\r\n');
    expect((await c.greeting())?.code).toBe(220);
    const id = await transaction(c);
    expect((await waitProcessed(app, id)).client_ip).toBe('203.0.113.9');
    c.destroy();
  });

  it('applies the per-address limits to the proxied address, not to the load balancer', async () => {
    app = await startTestApp({
      'smtp.proxyTrusted': ['127.0.0.1'],
      'smtp.abuse.exempt': [],
      'smtp.abuse.connectionBurst': 1,
      'smtp.abuse.connectionsPerMinute': 1,
    });
    const first = await ByteClient.open(app.smtpPort, 'PROXY TCP4 203.0.113.9 192.0.2.10 40001 25\r\n');
    expect((await first.greeting())?.code).toBe(220);
    const other = await ByteClient.open(app.smtpPort, 'PROXY TCP4 198.51.100.4 192.0.2.10 40002 25\r\n');
    expect((await other.greeting())?.code).toBe(220);
    const again = await ByteClient.open(app.smtpPort, 'PROXY TCP4 203.0.113.9 192.0.2.10 40003 25\r\n');
    expect((await again.greeting())?.code).toBe(421);
    for (const c of [first, other, again]) c.destroy();
  });

  it('closes a connection from a trusted load balancer that does not send a valid PROXY header', async () => {
    app = await startTestApp({ 'smtp.proxyTrusted': ['127.0.0.1'] });
    const c = await ByteClient.open(app.smtpPort, 'EHLO no-proxy-header.example\r\n');
    await c.ended;
    expect(c.replies.some((r) => r.code === 220)).toBe(false);
  });

  it('refuses a PROXY header from an untrusted peer (sent before the greeting: 421) and never believes its address', async () => {
    app = await startTestApp({ 'smtp.proxyTrusted': ['192.0.2.1'] });
    const early = await ByteClient.open(app.smtpPort, 'PROXY TCP4 203.0.113.9 192.0.2.10 40001 25\r\n');
    expect((await early.greeting())?.code).toBe(421);
    await early.ended;

    // After the greeting it is just an unknown command; the session keeps the real peer address.
    const late = await ByteClient.open(app.smtpPort);
    expect((await late.greeting())?.code).toBe(220);
    expect((await late.cmd('PROXY TCP4 203.0.113.9 192.0.2.10 40001 25'))?.code).toBe(500);
    const id = await transaction(late);
    expect((await waitProcessed(app, id)).client_ip).toBe('127.0.0.1');
    late.destroy();
  });
});
