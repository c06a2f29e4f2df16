import { execFile } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { databaseFile } from '../../src/app.ts';
import { generateCertificate } from '../../src/tls/index.ts';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';

const ROOT = path.join(import.meta.dirname, '../..');
const DAY_MS = 86_400_000;

const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.cleanup();
});
async function start(...args: Parameters<typeof startTestApp>): Promise<TestApp> {
  const app = await startTestApp(...args);
  apps.push(app);
  return app;
}

async function get(app: TestApp, url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${app.httpPort}${url}`);
  return { status: res.status, body: await res.text() };
}

/** Runs `ota-inbound healthcheck` against the app, as Docker would. */
function healthcheck(app: TestApp): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'healthcheck'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          OTA_INBOUND_CONFIG: path.join(ROOT, 'config/ota-inbound.json'),
          OTA_INBOUND_HTTP_HOST: '127.0.0.1',
          OTA_INBOUND_HTTP_PORT: String(app.httpPort),
        },
      },
      (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
}

/** Parses the Prometheus text format into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('readiness and ota-inbound healthcheck', () => {
  it('turns /readyz 503 while the database cannot be written, and ready again after', async () => {
    const app = await start();
    expect((await get(app, '/readyz')).status).toBe(200);
    expect(await healthcheck(app)).toMatchObject({ code: 0 });

    const other = new Database(databaseFile(app.config));
    other.pragma('busy_timeout = 0');
    other.exec('BEGIN EXCLUSIVE');
    try {
      const r = await get(app, '/readyz');
      expect(r.status).toBe(503);
      const body = JSON.parse(r.body) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
      expect(body.status).toBe('not ready');
      expect(body.checks.database).toEqual({ ok: false, detail: 'database is not writable' });
      expect(body.checks.smtp).toEqual({ ok: true });
      const hc = await healthcheck(app);
      expect(hc.code).toBe(1);
      expect(hc.stdout).toContain('database is not writable');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect((await get(app, '/readyz')).status).toBe(200);
    expect((await get(app, '/healthz')).status).toBe(200);
  });

  it('turns /readyz 503 when the spool disk is below its free-space reserve', async () => {
    let free = 10 * 1024 ** 3;
    const app = await start({}, { freeBytes: async () => free });
    expect((await get(app, '/readyz')).status).toBe(200);
    free = 1024;
    app.spool.invalidateFreeSpace();
    const r = await get(app, '/readyz');
    expect(r.status).toBe(503);
    expect((JSON.parse(r.body) as { checks: { spool: { ok: boolean } } }).checks.spool.ok).toBe(false);
  });

  it('healthcheck exits non-zero when nothing listens', async () => {
    const app = await start();
    const port = app.httpPort;
    await app.stop();
    const hc = await healthcheck({ ...app, httpPort: port });
    expect(hc.code).not.toBe(0);
  });
});

describe('/metrics after real deliveries', () => {
  it('exports the documented names with the values the deliveries produced', async () => {
    const before = Date.now() / 1000;
    const app = await start();
    const message = (n: number) =>
      `From: a@sender.example\r\nTo: shop@intake.example\r\nSubject: hello ${n}\r\nMessage-ID: <m${n}@sender.example>\r\n\r\nbody ${n}\r\n`;
    const rows = [];
    for (const n of [1, 2]) {
      const { final } = await deliver(app.smtpPort, { to: ['shop@intake.example'], message: message(n) });
      expect(final.code).toBe(250);
      rows.push(await waitProcessed(app, queuedId(final)));
    }
    const res = await fetch(`http://127.0.0.1:${app.httpPort}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const m = parseMetrics(await res.text());
    const after = Date.now() / 1000;

    expect(m.get('ota_inbound_smtp_messages_total{result="accepted",code="250"}')).toBe(2);
    expect(m.get('ota_inbound_smtp_connections_total{result="accepted"}')).toBe(2);
    expect(m.get('ota_inbound_smtp_recipients_total{result="store"}')).toBe(2);
    expect(m.get('ota_inbound_smtp_received_bytes_total')).toBe(rows[0]!.size + rows[1]!.size);
    expect(m.get('ota_inbound_smtp_message_size_bytes_count')).toBe(2);
    expect(m.get('ota_inbound_smtp_accept_duration_seconds_count')).toBe(2);
    expect(m.get('ota_inbound_accept_to_persisted_seconds_count')).toBe(2);
    const processed = [...m]
      .filter(([k]) => k.startsWith('ota_inbound_messages_processed_total{'))
      .reduce((s, [, v]) => s + v, 0);
    expect(processed).toBe(2);
    expect(m.get('ota_inbound_messages_processed_total{source="none",kind="unknown",result="ignored"}')).toBe(2);
    expect(m.get('ota_inbound_spool_pending_messages')).toBe(0);
    expect(m.get('ota_inbound_spool_oldest_pending_age_seconds')).toBe(0);
    expect(m.get('ota_inbound_dead_letter_messages')).toBe(0);
    for (const k of [
      'ota_inbound_last_processed_timestamp_seconds{source="all"}',
      'ota_inbound_last_received_timestamp_seconds',
    ]) {
      expect(m.get(k), k).toBeGreaterThanOrEqual(Math.floor(before));
      expect(m.get(k), k).toBeLessThanOrEqual(after + 1);
    }
    const notAfter = m.get('ota_inbound_tls_certificate_not_after_timestamp_seconds{certificate="smtp"}')!;
    expect(notAfter - after).toBeGreaterThan(364 * 86_400);
    expect(m.get('ota_inbound_alert_active{alert="NoMailProcessed"}')).toBe(0);
    expect(m.get('ota_inbound_alert_active{alert="CertificateExpiring"}')).toBe(0);
    expect(m.get('ota_inbound_tls_certificate_reload_failed')).toBe(0);
    expect([...m.keys()].some((k) => k.startsWith('ota_inbound_build_info{version="'))).toBe(true);
    expect(m.get('ota_inbound_process_start_time_seconds')).toBeGreaterThan(0);
    // Every name follows the conventions (docs/architecture.md, "Metrics").
    for (const metric of await app.metrics.registry.getMetricsAsJSON()) {
      expect(metric.name).toMatch(/^ota_inbound_[a-z0-9_]+$/);
      if (String(metric.type) === 'counter') expect(metric.name).toMatch(/_total$/);
    }
  });
});

describe('TLS certificate watchdog', () => {
  it('raises a critical alert for a certificate in use expiring in 5 days, a warning for a spare one, and resolves after renewal', async () => {
    const dir = tempDir();
    const certs = path.join(dir, 'certs');
    const files = { keyFile: path.join(certs, 'key.pem'), certFile: path.join(certs, 'cert.pem'), chainFile: null };
    await generateCertificate(files, 'mx.test.example', { days: 5 });
    await generateCertificate(
      { keyFile: path.join(certs, 'spare-key.pem'), certFile: path.join(certs, 'spare.pem'), chainFile: null },
      'mx.test.example',
      { days: 20 },
    );
    const app = await start({}, { dir });

    await app.watchdogs.tick();
    const active = app.alerts.active().filter((a) => a.name === 'CertificateExpiring');
    expect(active.map((a) => [a.labels.certificate, a.severity]).sort()).toEqual([
      ['in use', 'critical'],
      ['spare.pem', 'warning'],
    ]);
    const critical = active.find((a) => a.severity === 'critical')!;
    expect(critical.summary).toMatch(/in use .*cert\.pem.* expires in 5\.0 days/);
    expect(critical.check).toMatch(/Renew/);
    const metrics = parseMetrics(await app.metrics.registry.metrics());
    expect(metrics.get('ota_inbound_alert_active{alert="CertificateExpiring"}')).toBe(2);
    expect(
      metrics.get('ota_inbound_tls_certificate_not_after_timestamp_seconds{certificate="spare.pem"}')! * 1000 -
        Date.now(),
    ).toBeGreaterThan(19 * DAY_MS);

    const api = JSON.parse((await get(app, '/api/alerts')).body) as {
      active: { name: string; severity: string }[];
      history: { status: string }[];
    };
    expect(api.active.filter((a) => a.name === 'CertificateExpiring')).toHaveLength(2);
    expect(api.history.every((e) => e.status === 'firing')).toBe(true);

    await generateCertificate(files, 'mx.test.example', { days: 365 });
    await app.certificates.check(); // the watcher's own poll, run now
    await app.watchdogs.tick();
    const left = app.alerts.active().filter((a) => a.name === 'CertificateExpiring');
    expect(left.map((a) => a.labels.certificate)).toEqual(['spare.pem']);
    const resolved = app.alerts.history().filter((e) => e.status === 'resolved');
    expect(resolved.map((e) => e.alert.labels.certificate)).toEqual(['in use']);
  });
});
