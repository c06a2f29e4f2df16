/**
 * The store registry end to end: the /api/stores contract, mail over real
 * SMTP to the intake addresses it hands out, rotation with its grace period
 * (the node's clock is moved, not waited for), revocation, and the quarantine
 * reasons of addresses that no longer deliver.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { tabelogMail } from '../deliver/mail.ts';
import { DAY_MS } from '../../src/shared/time.ts';

const TOKEN = 'registry-test-token';
const FIXTURES = path.join(import.meta.dirname, '../fixtures');
const ADDRESS_RE = /^r-[a-z2-7]{20}@intake\.example$/;

interface StoreJson {
  id: string;
  name: string;
  status: 'active' | 'revoked';
  address: string;
  previousAddresses: { address: string; validUntil: string | null }[];
  createdAt: string;
  revokedAt: string | null;
  sites: {
    site: string;
    state: 'unconfigured' | 'configured' | 'receiving';
    lastMailAt: string | null;
    lastReservationAt: string | null;
    verification: null | { messageId: string; receivedAt: string; code: string | null; link: string | null };
  }[];
  verification: null | { messageId: string; code: string | null; link: string | null };
}

async function call<T>(
  app: TestApp,
  method: string,
  url: string,
  body?: unknown,
  token: string | null = TOKEN,
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${app.httpPort}${url}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** Delivers one mail to `to` and waits until processing settled it; returns the message JSON. */
async function mailTo(app: TestApp, to: string, message: Buffer | string) {
  const { final } = await deliver(app.smtpPort, { from: 'bounce@tabelog.com', to: [to], message });
  expect(final.code).toBe(250);
  const id = queuedId(final);
  await waitProcessed(app, id);
  return (
    await call<{ id: string; state: string; store: string | null; quarantineReason: string | null }>(
      app,
      'GET',
      `/api/messages/${id}`,
    )
  ).body;
}

const site = (s: StoreJson, id: string) => s.sites.find((x) => x.site === id)!;

describe('store registry API and routing', () => {
  let app: TestApp;
  let now = Date.parse('2026-12-01T00:00:00Z');

  beforeAll(async () => {
    app = await startTestApp(
      { 'http.apiToken': TOKEN, routes: ['{store}@intake.example'], 'registry.graceDays': 14 },
      { clock: () => now },
    );
  });
  afterAll(() => app.cleanup());

  it('answers 401 without the API token, like every /api route', async () => {
    const r = await call<{ error: { code: string } }>(app, 'GET', '/api/stores', undefined, null);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('UNAUTHORIZED');
  });

  it('creates a store with an unguessable intake address and every site unconfigured', async () => {
    const r = await call<StoreJson>(app, 'POST', '/api/stores', { name: 'Sakura Ginza' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ id: 'sakura-ginza', name: 'Sakura Ginza', status: 'active', revokedAt: null });
    expect(r.body.address).toMatch(ADDRESS_RE);
    expect(r.body.previousAddresses).toEqual([]);
    expect(r.body.sites.map((s) => s.site)).toEqual(expect.arrayContaining(['tabelog', 'hotpepper', 'jalan']));
    expect(r.body.sites.every((s) => s.state === 'unconfigured' && s.lastMailAt === null)).toBe(true);
  });

  it('gives a store named in Japanese a random id, and two stores never share an address', async () => {
    const a = await call<StoreJson>(app, 'POST', '/api/stores', { name: 'さくら食堂 渋谷店' });
    expect(a.status).toBe(201);
    expect(a.body.id).toMatch(/^s-[a-z2-7]{8}$/);
    const b = await call<StoreJson>(app, 'POST', '/api/stores', { name: 'Sakura Ginza' });
    expect(b.body.id).toBe('sakura-ginza-2');
    expect(new Set([a.body.address, b.body.address]).size).toBe(2);
  });

  it('refuses a taken id (409), a malformed id and an empty name (400)', async () => {
    expect((await call(app, 'POST', '/api/stores', { name: 'X', id: 'sakura-ginza' })).status).toBe(409);
    const bad = await call<{ error: { code: string } }>(app, 'POST', '/api/stores', { name: 'X', id: 'No Spaces!' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_STORE_ID');
    expect((await call(app, 'POST', '/api/stores', { name: '   ' })).status).toBe(400);
  });

  it('lists, shows and renames; an unknown id is 404', async () => {
    const list = await call<{ stores: StoreJson[] }>(app, 'GET', '/api/stores');
    expect(list.body.stores.map((s) => s.id)).toContain('sakura-ginza');
    const renamed = await call<StoreJson>(app, 'PATCH', '/api/stores/sakura-ginza', { name: 'さくら 銀座本店' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('さくら 銀座本店');
    expect((await call<StoreJson>(app, 'GET', '/api/stores/sakura-ginza')).body.name).toBe('さくら 銀座本店');
    const missing = await call<{ error: { code: string } }>(app, 'GET', '/api/stores/no-such-store');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('STORE_NOT_FOUND');
  });

  it('routes mail to the intake address to its store; the site turns "receiving"', async () => {
    const { address } = (await call<StoreJson>(app, 'GET', '/api/stores/sakura-ginza')).body;
    const m = await mailTo(app, address, tabelogMail({ bookingId: '40010001', store: 'sakura' }));
    expect(m).toMatchObject({ state: 'processed', store: 'sakura-ginza', quarantineReason: null });
    const s = (await call<StoreJson>(app, 'GET', '/api/stores/sakura-ginza')).body;
    expect(site(s, 'tabelog')).toMatchObject({ state: 'receiving', lastMailAt: new Date(now).toISOString() });
    expect(site(s, 'tabelog').lastReservationAt).not.toBeNull();
    expect(site(s, 'hotpepper').state).toBe('unconfigured');
  });

  it('shows a waiting forwarding verification with its code, per site and for Gmail', async () => {
    const { address } = (await call<StoreJson>(app, 'GET', '/api/stores/sakura-ginza')).body;
    const jalan = await mailTo(app, address, fs.readFileSync(path.join(FIXTURES, 'generic/verification-jalan.eml')));
    const gmail = await mailTo(app, address, fs.readFileSync(path.join(FIXTURES, 'generic/verification-gmail.eml')));
    expect([jalan.state, gmail.state]).toEqual(['review', 'review']);
    const s = (await call<StoreJson>(app, 'GET', '/api/stores/sakura-ginza')).body;
    expect(site(s, 'jalan').state).toBe('configured');
    expect(site(s, 'jalan').verification).toMatchObject({ messageId: jalan.id });
    expect(site(s, 'jalan').verification!.code ?? site(s, 'jalan').verification!.link).not.toBeNull();
    expect(s.verification).toMatchObject({ messageId: gmail.id });
    expect(s.verification!.code).toMatch(/^\d+$/);
    // Marked handled: no longer waiting.
    expect((await call(app, 'POST', `/api/messages/${jalan.id}/handled`)).status).toBe(200);
    expect(site((await call<StoreJson>(app, 'GET', '/api/stores/sakura-ginza')).body, 'jalan').verification).toBeNull();
  });

  it('declares a site set up before any mail came', async () => {
    const r = await call<StoreJson>(app, 'POST', '/api/stores/sakura-ginza/sites/ikyu/declare');
    expect(site(r.body, 'ikyu').state).toBe('configured');
    const undone = await call<StoreJson>(app, 'POST', '/api/stores/sakura-ginza/sites/ikyu/declare', {
      declared: false,
    });
    expect(site(undone.body, 'ikyu').state).toBe('unconfigured');
  });

  it('quarantines mail to an r- address that was never issued, saying so', async () => {
    const m = await mailTo(app, 'r-aaaaaaaaaaaaaaaaaaaa@intake.example', tabelogMail({ bookingId: '40010002' }));
    expect(m).toMatchObject({ state: 'quarantined', store: null, quarantineReason: 'unknown-address' });
  });

  it('rotates: the new address delivers, the old one until the grace period ends', async () => {
    const before = (await call<StoreJson>(app, 'GET', '/api/stores/sakura-ginza')).body;
    const r = await call<StoreJson>(app, 'POST', '/api/stores/sakura-ginza/rotate');
    expect(r.status).toBe(200);
    expect(r.body.address).toMatch(ADDRESS_RE);
    expect(r.body.address).not.toBe(before.address);
    expect(r.body.previousAddresses).toEqual([
      { address: before.address, validUntil: new Date(now + 14 * DAY_MS).toISOString() },
    ]);
    expect((await mailTo(app, r.body.address, tabelogMail({ bookingId: '40010003' }))).store).toBe('sakura-ginza');
    now += 13 * DAY_MS;
    expect((await mailTo(app, before.address, tabelogMail({ bookingId: '40010004' }))).store).toBe('sakura-ginza');
    now += 2 * DAY_MS;
    const late = await mailTo(app, before.address, tabelogMail({ bookingId: '40010005' }));
    expect(late).toMatchObject({ state: 'quarantined', store: null, quarantineReason: 'expired-address' });
  });

  it('revokes: every address and the {store} pattern stop delivering; rotate is refused', async () => {
    const { address } = (await call<StoreJson>(app, 'GET', '/api/stores/sakura-ginza')).body;
    const r = await call<StoreJson>(app, 'POST', '/api/stores/sakura-ginza/revoke');
    expect(r.body).toMatchObject({ status: 'revoked', revokedAt: new Date(now).toISOString() });
    const viaAddress = await mailTo(app, address, tabelogMail({ bookingId: '40010006' }));
    expect(viaAddress).toMatchObject({ state: 'quarantined', quarantineReason: 'revoked-store' });
    const viaPattern = await mailTo(app, 'sakura-ginza@intake.example', tabelogMail({ bookingId: '40010007' }));
    expect(viaPattern).toMatchObject({ state: 'quarantined', quarantineReason: 'revoked-store' });
    // Other pattern addresses are untouched.
    expect((await mailTo(app, 'shibuya@intake.example', tabelogMail({ bookingId: '40010008' }))).store).toBe('shibuya');
    const again = await call<{ error: { code: string } }>(app, 'POST', '/api/stores/sakura-ginza/rotate');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('STORE_REVOKED');
  });

  it('lists the store routes in the OpenAPI document', async () => {
    const doc = await call<{ paths: Record<string, unknown> }>(app, 'GET', '/api/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/stores', '/api/stores/{id}', '/api/stores/{id}/rotate', '/api/stores/{id}/revoke']),
    );
  });
});

describe('registry.inactiveAddress=reject', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ routes: [], 'registry.inactiveAddress': 'reject' });
  });
  afterAll(() => app.cleanup());

  it('answers 550 5.1.6 for a revoked store and 550 5.1.1 for an address never issued', async () => {
    const s = app.registry.create({ name: 'Hanare' });
    const ok = await deliver(app.smtpPort, {
      to: [`${s.current.localPart}@intake.example`],
      message: tabelogMail({ bookingId: '50000001' }),
    });
    expect(ok.final.code).toBe(250);
    app.registry.revoke(s.id);
    const revoked = await deliver(app.smtpPort, {
      to: [`${s.current.localPart}@intake.example`],
      message: tabelogMail({ bookingId: '50000002' }),
    });
    expect(revoked.final.code).toBe(550);
    expect(revoked.final.text).toMatch(/^5\.1\.6 .*no longer in use/);
    const unknown = await deliver(app.smtpPort, {
      to: ['r-bbbbbbbbbbbbbbbbbbbb@intake.example'],
      message: tabelogMail({ bookingId: '50000003' }),
    });
    expect(unknown.final.code).toBe(550);
    expect(unknown.final.text).toMatch(/^5\.1\.1 /);
  });

  it('with routes [] a guessable local part is no store (quarantined as unknown-recipient)', async () => {
    const { final } = await deliver(app.smtpPort, {
      to: ['no-such-store@intake.example'],
      message: tabelogMail({ bookingId: '50000004' }),
    });
    expect(final.code).toBe(250);
    const row = await waitProcessed(app, queuedId(final));
    expect(row).toMatchObject({ state: 'quarantined', store: null, quarantine_reason: 'unknown-recipient' });
  });
});
