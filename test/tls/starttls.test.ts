import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp } from '../helpers/smtp.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { generateCertificate } from '../../src/tls/index.ts';

async function servedFingerprint(port: number): Promise<string> {
  const { client } = await RawSmtp.connect(port);
  await client.cmd('EHLO sender.example');
  const cert = await client.starttls();
  const after = await client.cmd('EHLO sender.example');
  expect(after.code).toBe(250);
  await client.quit();
  return cert.fingerprint256;
}

describe('STARTTLS and certificates', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ 'tls.watchIntervalMs': 3_600_000 });
  });
  afterAll(() => app.cleanup());

  it('generates a 365-day SHA-256 certificate for the hostname, key readable by the owner only', () => {
    const certPem = fs.readFileSync(path.join(app.config.certsDir, 'cert.pem'), 'utf8');
    const x = new crypto.X509Certificate(certPem);
    expect(x.subjectAltName).toContain('DNS:mx.test.example');
    const days = (Date.parse(x.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThan(366);
    expect(fs.statSync(path.join(app.config.certsDir, 'key.pem')).mode & 0o777).toBe(0o600);
  });

  it('delivers over STARTTLS with TLS 1.2 or newer and records the TLS state', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: app.smtpPort,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    });
    const info = await transport.sendMail({
      from: 'a@sender.example',
      to: 'shop@intake.example',
      subject: 'tls',
      text: 'over tls',
    });
    const id = /queued as (\S+)/.exec(info.response)![1]!;
    const row = app.store.message(id)!;
    expect((JSON.parse(row.tls!) as { protocol: string }).protocol).toMatch(/^TLSv1\.[23]$/);
  });

  it('refuses TLS 1.1 clients', async () => {
    const { client } = await RawSmtp.connect(app.smtpPort);
    await client.cmd('EHLO old.example');
    await expect(
      (async () => {
        const r = await client.cmd('STARTTLS');
        expect(r.code).toBe(220);
        const tls = await import('node:tls');
        const sock = tls.connect({
          socket: (client as unknown as { socket: import('node:net').Socket }).socket,
          rejectUnauthorized: false,
          maxVersion: 'TLSv1.1',
          minVersion: 'TLSv1',
        });
        await new Promise((resolve, reject) => {
          sock.once('secureConnect', resolve);
          sock.once('error', reject);
        });
      })(),
    ).rejects.toThrow();
    client.destroy();
  });

  it('serves a replaced certificate on the next STARTTLS without a restart', async () => {
    const before = await servedFingerprint(app.smtpPort);
    await generateCertificate(
      {
        certFile: path.join(app.config.certsDir, 'cert.pem'),
        keyFile: path.join(app.config.certsDir, 'key.pem'),
        chainFile: null,
      },
      'mx.test.example',
      { days: 90 },
    );
    await app.certificates.check();
    const after = await servedFingerprint(app.smtpPort);
    expect(after).not.toBe(before);
    expect(after).toBe(app.certificates.certificate.fingerprint256);
    const metrics = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/ota_inbound_tls_certificate_reloads_total\{result="success"\} 1/);
  });

  it('keeps the old certificate when the new files are garbage', async () => {
    const before = await servedFingerprint(app.smtpPort);
    fs.writeFileSync(
      path.join(app.config.certsDir, 'cert.pem'),
      '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n',
    );
    await app.certificates.check();
    expect(await servedFingerprint(app.smtpPort)).toBe(before);
    const metrics = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/ota_inbound_tls_certificate_reloads_total\{result="failure"\} 1/);
  });
});

describe('implicit TLS port', () => {
  it('accepts mail on the implicit-TLS port', async () => {
    const app = await startTestApp({ 'smtp.tlsPort': 0 });
    try {
      expect(app.smtpTlsPort).toBeGreaterThan(0);
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: app.smtpTlsPort!,
        secure: true,
        tls: { rejectUnauthorized: false },
      });
      const info = await transport.sendMail({
        from: 'a@sender.example',
        to: 'shop@intake.example',
        subject: 'implicit',
        text: 'x',
      });
      expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as/);
    } finally {
      await app.cleanup();
    }
  });
});
