import http from 'node:http';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY, HOUR, MINUTE, MONDAY, bench, daytimeHistory, type Bench } from './helpers.ts';
import { sqliteOf } from '../../src/store/testing.ts';

interface Receiver {
  url: string;
  bodies: unknown[];
  /** Status codes to answer, in order; 200 after they run out. */
  statuses: number[];
  close(): Promise<void>;
}

async function receiver(statuses: number[] = []): Promise<Receiver> {
  const bodies: unknown[] = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      if (status === 200) bodies.push(JSON.parse(data));
      res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    bodies,
    statuses,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function silentDay(format: 'json' | 'slack', statuses: number[] = []): Promise<{ b: Bench; r: Receiver }> {
  const r = await receiver(statuses);
  cleanups.push(() => r.close());
  const start = MONDAY + 14 * DAY + 12 * HOUR;
  const b = bench({
    start,
    webhook: { url: r.url, format, retryBaseMs: 10 },
    seed: (s) => daytimeHistory(s, start, { store: 'shop' }),
  });
  cleanups.push(() => b.close());
  return { b, r };
}

describe('alert webhook', () => {
  it('receives exactly one fire and one resolve (generic JSON), however often the watchdogs run', async () => {
    const { b, r } = await silentDay('json');
    for (let i = 0; i < 12; i++) {
      b.advance(10 * MINUTE);
      await b.watchdogs.tick();
    }
    b.insert({ at: b.now });
    for (let i = 0; i < 3; i++) {
      b.advance(MINUTE);
      await b.watchdogs.tick();
    }
    await b.alerts.flush();
    const overall = r.bodies.filter((x) => (x as { alert: { name: string } }).alert.name === 'NoMailProcessed');
    expect(overall.map((x) => (x as { status: string }).status)).toEqual(['firing', 'resolved']);
    expect(overall[0]).toMatchObject({
      version: 1,
      service: 'ota-inbound',
      status: 'firing',
      escalated: false,
      alert: { name: 'NoMailProcessed', key: 'NoMailProcessed', severity: 'critical', labels: {} },
    });
    const fired = overall[0] as { alert: { summary: string; check: string; since: string } };
    expect(fired.alert.summary).toMatch(/No mail processed/);
    expect(fired.alert.check.length).toBeGreaterThan(20);
    expect(new Date(fired.alert.since).getTime()).toBe(MONDAY + 14 * DAY + 12 * HOUR + 40 * MINUTE);
    // Per-source and per-store alerts are separate instances, each once.
    expect(r.bodies).toHaveLength(6);
    expect((await b.metrics.alertNotifications.get()).values.find((v) => v.labels.result === 'delivered')?.value).toBe(
      6,
    );
  });

  it('sends Slack-compatible {text} bodies when alerts.webhookFormat is slack', async () => {
    const { b, r } = await silentDay('slack');
    b.advance(45 * MINUTE);
    await b.watchdogs.tick();
    await b.alerts.flush();
    expect(r.bodies.length).toBe(3);
    for (const body of r.bodies) expect(Object.keys(body as object)).toEqual(['text']);
    const text = (r.bodies as { text: string }[]).find((x) => x.text.includes('NoMailProcessed'))!.text;
    expect(text).toMatch(/^:rotating_light: CRITICAL NoMailProcessed on .+: No mail processed for 45 min/);
    expect(text).toMatch(/\nCheck: /);
  });

  it('retries a failing receiver a few times, then delivers once', async () => {
    const { b, r } = await silentDay('json', [500, 503]);
    b.advance(45 * MINUTE);
    sqliteOf(b.store).exec('UPDATE messages SET store = NULL, source = NULL'); // one alert only: the overall one
    await b.watchdogs.tick();
    await b.alerts.flush();
    expect(r.bodies).toHaveLength(1);
    expect(r.statuses).toEqual([]);
  });

  it('gives up after its retries without blocking the watchdogs, and counts the failure', async () => {
    const { b, r } = await silentDay('json', [500, 500, 500, 500]);
    sqliteOf(b.store).exec('UPDATE messages SET store = NULL, source = NULL');
    b.advance(45 * MINUTE);
    await b.watchdogs.tick();
    expect(b.firing()).toEqual(['NoMailProcessed']); // state changed before any delivery finished
    await b.alerts.flush();
    expect(r.bodies).toHaveLength(0);
    expect((await b.metrics.alertNotifications.get()).values.find((v) => v.labels.result === 'failed')?.value).toBe(1);
  });
});
