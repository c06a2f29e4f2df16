/**
 * The operator dashboard in a real browser (Debian's Chromium through
 * playwright-core) against a real node fed over SMTP. Every wait is on a
 * real condition: Playwright's locators wait for what the page shows, and
 * `waitProcessed` for the pipeline.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { certificateFiles, generateCertificate } from '../../src/tls/index.ts';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { tabelogMail } from '../helpers/mail.ts';
import { PHONE, hasHorizontalScroll } from './browser.ts';
import { browserSuite } from './suite.ts';
import { corruptRecordBeforeStart, gmailVerification, send } from './seed.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const TOKEN = 'dashboard-test-token';
const HOUR = 3_600_000;
const STORE = 'sakura-ginza';

const suite = browserSuite();

async function start(
  overrides: Record<string, unknown> = {},
  opts: Parameters<typeof startTestApp>[1] = {},
): Promise<TestApp> {
  const app = await startTestApp(overrides, opts);
  suite.track(app);
  return app;
}

const base = (app: TestApp) => `http://127.0.0.1:${app.httpPort}/`;

let seq = 0;
function booking(over: Partial<Parameters<typeof tabelogMail>[0]> = {}): Promise<Buffer> {
  seq += 1;
  return tabelogMail({
    event: 'new',
    bookingId: String(71000000 + seq),
    date: new Date('2026-12-01T10:00:00+09:00'),
    messageId: `<dash-${seq}@tabelog.com>`,
    ...over,
  });
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Text of the extracted field `name` on a message detail page, once shown. */
async function field(page: Page, name: string): Promise<string> {
  return (await page.locator(`td[data-field="${name}"]`).textContent())!.trim();
}

describe('dashboard', () => {
  it('shows a mail delivered over SMTP with its extracted fields beside its decoded text, and finds its reservation', async () => {
    const app = await start({ 'http.apiToken': TOKEN });
    const id = await send(
      app,
      STORE,
      await booking({ bookingId: '71234567', name: '山田 太郎', party: '4名', visit: '12/20(日)', time: '19:00' }),
    );
    const page = await suite.browser.page();
    await page.goto(base(app));
    await signIn(page, TOKEN);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    await page.getByRole('link', { name: 'Messages' }).click();
    const row = page.locator('table.messages tbody tr', { hasText: '71234567' });
    await row.waitFor();
    expect(await row.textContent()).toContain('【新規予約】山田 太郎様');
    expect(await row.locator('.badge').first().textContent()).toBe('processed');
    await row.getByRole('link').first().click();

    await page.locator('.mail-text').waitFor();
    expect(page.url()).toContain(`#/messages/${id}`);
    expect(await field(page, 'reservationId')).toBe('71234567');
    expect(await field(page, 'guestName')).toBe('山田 太郎');
    expect(await field(page, 'visitDate')).toBe('2026-12-20 (Sun)');
    expect(await page.locator('td[data-field="visitDate"] time').getAttribute('datetime')).toBe('2026-12-20');
    expect(await field(page, 'visitTime')).toBe('19:00');
    expect(await field(page, 'partySize')).toBe('4');
    expect(await field(page, 'phone')).toBe('09012345678');
    const text = await page.locator('.mail-text').textContent();
    expect(text).toContain('山田 太郎 様');
    expect(text).toContain('bookingId=net:71234567');
    expect(await page.locator('dl.props').first().textContent()).toContain(`${STORE}@intake.example`);

    await page.getByRole('link', { name: 'Reservations' }).click();
    await page.getByLabel('Name, reservation id or phone').fill('山田');
    await page.getByRole('button', { name: 'Search' }).click();
    const r = page.locator('table.reservations tbody tr', { hasText: '71234567' });
    await r.waitFor();
    expect(await r.textContent()).toContain('4 people');
    await r.getByRole('link').first().click();
    await page.getByRole('heading', { name: 'Event history' }).waitFor();
    expect(await page.locator('section', { hasText: 'Event history' }).locator('tbody tr').count()).toBe(1);
  });

  it('replays a dead mail from the page once its cause is fixed, and shows it processed', async () => {
    const dir = tempDir();
    const corrupt = await corruptRecordBeforeStart(
      dir,
      await booking({ bookingId: '71999001', name: '佐藤 花子' }),
      await booking({ bookingId: '71999002' }),
      STORE,
    );
    const app = await start({}, { dir });
    expect((await waitProcessed(app, corrupt.id)).state).toBe('dead');
    await waitProcessed(app, corrupt.nextId);

    const page = await suite.browser.page();
    await page.goto(`${base(app)}#/review`);
    const item = page.locator('#failed tbody tr', { hasText: 'SPOOL_CORRUPT' });
    await item.waitFor();
    expect(await item.textContent()).toContain('dead');
    await item.getByRole('link').first().click();
    await page.getByText('SPOOL_CORRUPT after 1 attempt').waitFor();

    corrupt.repair();
    await page.getByRole('button', { name: 'Replay' }).click();
    // The page follows the replay until the pipeline settles it, then re-renders.
    await page.locator('.tags .badge', { hasText: 'processed' }).waitFor();
    expect(await field(page, 'guestName')).toBe('佐藤 花子');
    expect(await page.getByText('SPOOL_CORRUPT').count()).toBe(0);
    expect(app.store.message(corrupt.id)!.state).toBe('processed');

    await page.goto(`${base(app)}#/review`);
    await page.getByText('No failed mail.').waitFor();
  });

  it('colours stale stores amber then red as time passes and warns about a certificate expiring in 5 days', async () => {
    const dir = tempDir();
    const certsDir = path.join(dir, 'certs');
    fs.mkdirSync(certsDir, { recursive: true });
    await generateCertificate(
      certificateFiles({ certsDir, certFile: null, keyFile: null, hostname: 'mx.test.example', generate: true }),
      'mx.test.example',
      { days: 5 },
    );
    let now = Date.now();
    const app = await start(
      { stores: [STORE, 'umeda'], 'alerts.staleAfterMinutes': 30, 'alerts.fallbackStaleMinutes': 360 },
      { dir, clock: () => now },
    );
    await send(app, STORE, await booking());

    const page = await suite.browser.page();
    await page.goto(base(app));
    const storeRow = page.locator('#freshness tbody tr', { hasText: STORE });
    const status = storeRow.locator('.status');
    await status.getByText('Fresh').waitFor();
    expect(await page.locator('#freshness tbody tr', { hasText: 'umeda' }).locator('.status').textContent()).toContain(
      'Stale',
    );
    expect(await page.locator('#sources tbody tr', { hasText: 'Tabelog' }).locator('.status').textContent()).toContain(
      'Fresh',
    );

    const cert = page.locator('#cert-card');
    await cert.getByText('5 days left').waitFor();
    expect(await cert.getAttribute('class')).toContain('tone-bad');
    expect(await cert.textContent()).toContain('Renew now');

    now += 2 * HOUR;
    await page.reload();
    await status.getByText('Late').waitFor();
    expect(await storeRow.textContent()).toContain('2 h ago');

    now += 5 * HOUR;
    await app.watchdogs.tick();
    await page.reload();
    await status.getByText('Stale').waitFor();
    expect(await storeRow.locator('.age').first().getAttribute('class')).toContain('tone-bad');
    const alerts = page.locator('#alerts');
    await alerts.getByText('CertificateExpiring').waitFor();
    await alerts.getByText('NoMailProcessed').waitFor();
    expect(await alerts.locator('.alert', { hasText: 'CertificateExpiring' }).locator('.badge').textContent()).toBe(
      'critical',
    );
  });

  it('renders every view on a 390×844 phone screen without horizontal scrolling', async () => {
    const app = await start();
    const id = await send(app, STORE, await booking({ name: '長谷川 ひとみ', bookingId: '71555555' }));
    await send(app, STORE, gmailVerification('551200331', `${STORE}@intake.example`));
    await send(app, STORE, await booking({ event: 'change', bookingId: '71555556', phone: '090-****-5678' }));
    const reservation = (
      sqliteOf(app.store).prepare('SELECT id FROM reservations WHERE reservation_id = ?').get('71555555') as {
        id: number;
      }
    ).id;

    const page = await suite.browser.page(PHONE);
    const views: [string, string][] = [
      ['#/overview', '#freshness tbody tr'],
      ['#/messages', 'table.messages tbody tr'],
      [`#/messages/${id}`, '.mail-text'],
      ['#/reservations', 'table.reservations tbody tr'],
      [`#/reservations/${reservation}`, 'h2:text("Event history")'],
      ['#/review', '.verification .code'],
      ['#/stores', '.view-head h1'],
    ];
    for (const [hash, ready] of views) {
      await page.goto(`${base(app)}${hash}`);
      await page.locator(ready).first().waitFor();
      expect(await hasHorizontalScroll(page), `${hash} scrolls sideways`).toBe(false);
    }
    // Tables become labelled cards: the column header is shown with each value.
    await page.goto(`${base(app)}#/messages`);
    const cell = page.locator('table.messages tbody td[data-label="Site"]').first();
    await cell.waitFor();
    expect(
      await page.evaluate(
        `getComputedStyle(document.querySelector('table.messages tbody td[data-label="Site"]'), '::before').content`,
      ),
    ).toBe('"Site"');
  });

  it('shows a forwarding verification code prominently in the review queue and marks it handled', async () => {
    const app = await start();
    const id = await send(app, STORE, gmailVerification('804413977', `${STORE}@intake.example`));
    const page = await suite.browser.page();
    await page.goto(`${base(app)}#/review`);
    const code = page.locator('#verify .verification .code');
    await code.waitFor();
    expect(await code.textContent()).toBe('804413977');
    expect(await page.locator('#verify .verification a').getAttribute('href')).toMatch(
      /^https:\/\/mail-settings\.google\.com\//,
    );
    await page.locator('#verify').getByRole('button', { name: 'Mark handled' }).click();
    await page.getByText('No verification mail waiting.').waitFor();
    expect(app.store.message(id)!.handled_at).not.toBeNull();
  });

  it('asks for the token, refuses a wrong one, keeps the right one for the tab, and signs out', async () => {
    const app = await start({ 'http.apiToken': TOKEN });
    const page = await suite.browser.page();
    await page.goto(base(app));
    await page.getByText('This node needs its API token.').waitFor();
    await signIn(page, 'wrong-token');
    await page.getByText('That token was refused').waitFor();
    await signIn(page, TOKEN);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.locator('#login').isHidden()).toBe(true);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('Signed out.').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });
});

describe('dashboard HTTP surface', () => {
  it('serves the page and assets with a strict CSP and ETags, and guards its API endpoints', async () => {
    const app = await start({ 'http.apiToken': TOKEN });
    const id = await send(app, STORE, await booking({ name: '山田 太郎' }));
    const url = base(app);

    const page = await fetch(url);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    // Prettier writes void elements self-closed (`<meta … />`); both are the same HTML.
    expect(html).toMatch(/<meta charset="utf-8"\s*\/?>/);
    // No inline script or style anywhere: every <script> has a src, no style attributes.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/https?:\/\//);

    const again = await fetch(url, { headers: { 'if-none-match': page.headers.get('etag')! } });
    expect(again.status).toBe(304);
    const js = await fetch(`${url}assets/app.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    for (const bad of ['assets/nope.js', 'assets/..%2Fpackage.json', 'assets/%2e%2e%2findex.html'])
      expect((await fetch(`${url}${bad}`)).status, bad).toBe(404);

    for (const p of ['api/overview', 'api/review', `api/messages/${id}/text`])
      expect((await fetch(`${url}${p}`)).status, p).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const overview = (await (await fetch(`${url}api/overview`, { headers: auth })).json()) as {
      stores: { store: string; received24h: number }[];
      hourly: unknown[];
      certificate: { daysLeft: number };
    };
    expect(overview.stores).toEqual([expect.objectContaining({ store: STORE, received24h: 1 })]);
    expect(overview.hourly).toHaveLength(24);
    expect(overview.certificate.daysLeft).toBe(365);
    const text = (await (await fetch(`${url}api/messages/${id}/text`, { headers: auth })).json()) as {
      text: string;
      truncated: boolean;
    };
    expect(text.text).toContain('山田 太郎 様');
    expect(text.truncated).toBe(false);
    const doc = (await (await fetch(`${url}api/openapi.json`, { headers: auth })).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/overview', '/api/review', '/api/messages/{id}/text']),
    );
  });
});
