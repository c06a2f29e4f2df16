/**
 * DNS rebinding (issue 12 item 6): without http.apiToken the API serves
 * loopback clients, and a browser on attacker.example whose name was rebound
 * to 127.0.0.1 is one. It names attacker.example in Host, so it is refused.
 * Real HTTP over a real socket; the Host header as a browser sends it.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { isLoopbackHost } from '../../src/http/auth.ts';

function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('DNS rebinding protection of the token-less API', () => {
  let open: TestApp;
  let withToken: TestApp;
  beforeAll(async () => {
    open = await startTestApp();
    withToken = await startTestApp({ 'http.apiToken': 'rebinding-test-token-0123456789' });
  });
  afterAll(async () => {
    await open.cleanup();
    await withToken.cleanup();
  });

  it('answers 403 to a request whose Host names another site', async () => {
    for (const host of [
      `attacker.example:${open.httpPort}`,
      'attacker.example',
      '127.0.0.1.nip.io',
      'localhost.attacker.example',
    ]) {
      const r = await get(open.httpPort, '/api/reservations', { host });
      expect(r.status, host).toBe(403);
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'FORBIDDEN' } });
      expect(r.body).toMatch(/DNS rebinding/);
    }
  });

  it('answers 200 to loopback names, with or without a port', async () => {
    for (const host of [
      `localhost:${open.httpPort}`,
      'localhost',
      `127.0.0.1:${open.httpPort}`,
      `[::1]:${open.httpPort}`,
      'LOCALHOST.',
    ]) {
      expect((await get(open.httpPort, '/api/reservations', { host })).status, host).toBe(200);
    }
  });

  it('leaves health and metrics open whatever the Host (no personal data there)', async () => {
    expect((await get(open.httpPort, '/healthz', { host: 'attacker.example' })).status).toBe(200);
  });

  it('with a token configured, the token is the gate, whatever the Host', async () => {
    const r = await get(withToken.httpPort, '/api/reservations', {
      host: 'ota-inbound.internal.example',
      authorization: 'Bearer rebinding-test-token-0123456789',
    });
    expect(r.status).toBe(200);
  });

  it('recognises exactly the loopback names', () => {
    for (const h of ['localhost', 'localhost:8080', 'app.localhost:1', '127.0.0.1', '127.1.2.3:9', '[::1]', '[::1]:80'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of [
      '',
      'attacker.example',
      '127.0.0.1.attacker.example',
      '[::2]',
      '0.0.0.0',
      'localhost:',
      '::1',
      '127.0.0.1:80:80',
    ])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});
