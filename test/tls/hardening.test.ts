/**
 * TLS choices of the SMTP listeners (docs/security.md, "TLS"): TLS 1.2 at
 * least, forward-secret AEAD suites only for TLS 1.2 and in our order, and no
 * renegotiation. Real handshakes against the implicit-TLS port and STARTTLS.
 */
import tls from 'node:tls';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { RawSmtp } from '../helpers/smtp.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ 'smtp.tlsPort': 0, 'tls.watchIntervalMs': 3_600_000 });
});
afterAll(() => app.cleanup());

async function handshake(opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port: app.smtpTlsPort!, rejectUnauthorized: false, ...opts });
  await once(socket, 'secureConnect');
  return socket;
}

describe('TLS hardening', () => {
  it('negotiates an AEAD suite over TLS 1.2, picked by the server (GCM first)', async () => {
    // The client prefers a CHACHA20 suite; the server's order (AES-GCM first) wins.
    const s = await handshake({
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA',
    });
    expect(s.getProtocol()).toBe('TLSv1.2');
    expect(s.getCipher().name).toBe('ECDHE-RSA-AES128-GCM-SHA256');
    s.destroy();
  });

  it('negotiates TLS 1.3 by default', async () => {
    const s = await handshake({});
    expect(s.getProtocol()).toBe('TLSv1.3');
    expect(s.getCipher().name).toMatch(/GCM|CHACHA20/);
    s.destroy();
  });

  it('refuses a TLS 1.2 client that offers only CBC suites', async () => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: app.smtpTlsPort!,
      rejectUnauthorized: false,
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:AES128-SHA',
    });
    const err = await new Promise<Error & { code?: string }>((resolve) => {
      socket.once('error', resolve);
      socket.once('secureConnect', () => resolve(new Error(`handshake succeeded with ${socket.getCipher().name}`)));
    });
    socket.destroy();
    expect(err.code ?? err.message).toMatch(/HANDSHAKE_FAILURE|handshake failure/i);
  });

  it('refuses TLS 1.1', async () => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: app.smtpTlsPort!,
      rejectUnauthorized: false,
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
    });
    const [err] = (await once(socket, 'error')) as [Error];
    expect(err.message).toMatch(/protocol version|unsupported protocol|no protocols available/i);
  });

  it('refuses client-initiated renegotiation (implicit TLS)', async () => {
    const s = await handshake({ maxVersion: 'TLSv1.2' });
    const outcome = await new Promise<Error | null>((resolve) => {
      s.once('error', (err: Error) => resolve(err));
      s.once('close', () => resolve(new Error('closed')));
      const asked = s.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ?? null));
      if (!asked) resolve(new Error('renegotiate() refused locally'));
    });
    expect(outcome).not.toBeNull();
    expect(outcome!.message).toMatch(/renegotiation|closed/i);
    s.destroy();
  });

  it('refuses client-initiated renegotiation after STARTTLS', async () => {
    const { client, greeting } = await RawSmtp.connect(app.smtpPort);
    expect(greeting.code).toBe(220);
    await client.cmd('EHLO renegotiator.example');
    const secure = await client.starttlsSocket({ maxVersion: 'TLSv1.2' });
    expect(secure.getCipher().name).toMatch(/GCM|CHACHA20/);
    const outcome = await new Promise<Error | null>((resolve) => {
      secure.once('error', (err: Error) => resolve(err));
      secure.once('close', () => resolve(new Error('closed')));
      secure.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ?? null));
    });
    expect(outcome).not.toBeNull();
    client.destroy();
  });
});
