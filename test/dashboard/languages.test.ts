/**
 * The dashboard in Japanese and English, in a real browser (Debian's Chromium)
 * against a real node fed over SMTP: the language follows the browser, the
 * 日本語 / English switch is remembered across reloads, times are Japan time
 * whatever the browser's time zone, and a Japanese page has no English left
 * in it outside the data it shows (mail text, ids, addresses: `translate="no"`).
 */
import { describe, expect, it } from 'vitest';
import { sqliteOf } from '../../src/store/testing.ts';
import { startTestApp, tempDir, type TestApp } from '../helpers/app.ts';
import { tabelogMail } from '../helpers/mail.ts';
import { writeZone, zoneOf } from '../security/helpers.ts';
import { browserSuite } from './suite.ts';
import { gmailVerification, send } from './seed.ts';
import { englishLeft, pageTexts } from './text.ts';

const STORE = 'sakura-ginza';
/** Friday 4 December 2026, 19:00 in Japan (10:00 UTC). */
const AT = Date.parse('2026-12-04T10:00:00Z');
/** A browser far from Japan: the page must still show Japan time. */
const FAR_ZONE = 'America/Los_Angeles';

const suite = browserSuite();

interface Seeded {
  app: TestApp;
  review: string;
  reservation: number;
}

/**
 * A node that checks sender authentication against an empty DNS zone (so an
 * unsigned 食べログ mail is `unauthenticated:tabelog`, as on a first run with
 * `auth.resolver=system`), with a booking and a forwarding verification
 * received at a fixed instant.
 */
async function seeded(): Promise<Seeded> {
  const dir = tempDir();
  const app = await startTestApp(
    { 'auth.resolver': 'system', 'auth.dnsZoneFile': writeZone(dir, zoneOf([])) },
    { dir, clock: () => AT },
  );
  suite.track(app);
  const review = await send(
    app,
    STORE,
    await tabelogMail({
      event: 'new',
      bookingId: '73100001',
      name: '高橋 美咲',
      party: '3名',
      visit: '12/20(日)',
      time: '18:30',
      date: new Date('2026-12-04T18:55:00+09:00'),
      messageId: '<lang-73100001@tabelog.com>',
    }),
  );
  await send(app, STORE, gmailVerification('770213458', `${STORE}@intake.example`));
  const reservation = (
    sqliteOf(app.store).prepare('SELECT id FROM reservations WHERE reservation_id = ?').get('73100001') as {
      id: number;
    }
  ).id;
  return { app, review, reservation };
}

const base = (app: TestApp) => `http://127.0.0.1:${app.httpPort}/`;

describe('dashboard languages', () => {
  it('shows a Japanese browser every view in Japanese, with no English left outside the data, times in JST', async () => {
    const { app, review, reservation } = await seeded();
    const page = await suite.browser.page(undefined, { locale: 'ja-JP', timezoneId: FAR_ZONE });
    const views: [string, string][] = [
      ['#/overview', '#sources tbody tr'],
      ['#/messages', 'table.messages tbody tr'],
      [`#/messages/${review}`, '.mail-text'],
      ['#/reservations', 'table.reservations tbody tr'],
      [`#/reservations/${reservation}`, '#rh-title'],
      ['#/review', '#needs-review .chips'],
      ['#/stores', '.view-head h1'],
    ];
    for (const [hash, ready] of views) {
      await page.goto(`${base(app)}${hash}`);
      await page.locator(ready).first().waitFor();
      expect(await page.evaluate('document.documentElement.lang'), hash).toBe('ja');
      expect(englishLeft(await pageTexts(page)), hash).toEqual([]);
    }

    await page.goto(`${base(app)}#/overview`);
    await page.getByRole('heading', { name: '概要' }).waitFor();
    expect(await page.locator('#sources tbody tr').first().textContent()).toContain('食べログ');

    await page.goto(`${base(app)}#/messages`);
    const row = page.locator('table.messages tbody tr', { hasText: '73100001' });
    await row.waitFor();
    // Received at 10:00 UTC: 19:00 in Japan, on a Friday, written the Japanese way.
    expect(await row.locator('td').first().textContent()).toBe('2026年12月4日(金) 19:00');
    expect(await row.locator('.badge').first().textContent()).toBe('要確認');
    expect(await row.locator('.badge').first().getAttribute('data-value')).toBe('review');

    await page.goto(`${base(app)}#/messages/${review}`);
    await page.locator('.mail-text').waitFor();
    expect((await page.locator('td[data-field="visitDate"]').textContent())!.trim()).toBe('2026年12月20日(日)');
    expect((await page.locator('td[data-field="event"]').textContent())!.trim()).toBe('新規');

    await page.goto(`${base(app)}#/reservations/${reservation}`);
    await page.locator('#rh-title').waitFor();
    expect(await page.locator('.tags .badge').first().textContent()).toBe('受付済');
  });

  it('explains an unauthenticated:<site> review reason in a sentence with what to do, in both languages', async () => {
    const { app, review } = await seeded();
    const ja = await suite.browser.page(undefined, { locale: 'ja-JP' });
    await ja.goto(`${base(app)}#/review`);
    const chip = ja.locator('#needs-review .chips li[data-reason="unauthenticated:tabelog"]');
    await chip.waitFor();
    expect(await chip.textContent()).toBe('送信元未確認（食べログ）');
    const help = (await ja.locator('#needs-review .reason-help').textContent())!;
    expect(help).toContain('DKIM');
    expect(help).toContain('auth.arcTrustedSealers');
    expect(help).toContain('OTA_INBOUND_AUTH_RESOLVER=none');

    const en = await suite.browser.page(undefined, { locale: 'en-US' });
    await en.goto(`${base(app)}#/messages/${review}`);
    const callout = en.locator('.callout.tone-warn');
    await callout.waitFor();
    expect(await callout.locator('li[data-reason="unauthenticated:tabelog"]').textContent()).toBe(
      'sender not verified (Tabelog)',
    );
    const sentence = (await callout.locator('.reason-help').textContent())!;
    expect(sentence).toMatch(/^Not trusted: this mail says it is from Tabelog, but it carries no valid DKIM signature/);
    expect(sentence).toContain('OTA_INBOUND_AUTH_RESOLVER=none (demo only');
    // The sender-authentication panel says the same next to the verdict.
    expect(await en.locator('dl.props', { hasText: 'Site verdict' }).textContent()).toContain('not trusted');
  });

  it('shows an English browser English, with ISO-like dates marked JST', async () => {
    const { app } = await seeded();
    const page = await suite.browser.page(undefined, { locale: 'en-US', timezoneId: FAR_ZONE });
    await page.goto(`${base(app)}#/messages`);
    await page.getByRole('heading', { name: 'Messages' }).waitFor();
    expect(await page.evaluate('document.documentElement.lang')).toBe('en');
    const row = page.locator('table.messages tbody tr', { hasText: '73100001' });
    await row.waitFor();
    expect(await row.locator('td').first().textContent()).toBe('2026-12-04 (Fri) 19:00 JST');
    expect(await row.locator('.badge').first().textContent()).toBe('review');
    expect(await page.getByRole('link', { name: 'Review queue' }).count()).toBe(1);
  });

  it('shows English to a browser in neither language', async () => {
    const { app } = await seeded();
    const page = await suite.browser.page(undefined, { locale: 'fr-FR' });
    await page.goto(base(app));
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });

  it('remembers the 日本語 / English switch across reloads and new tabs', async () => {
    const { app } = await seeded();
    const page = await suite.browser.page(undefined, { locale: 'en-US' });
    await page.goto(base(app));
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.getByRole('button', { name: 'English' }).getAttribute('aria-pressed')).toBe('true');

    await page.getByRole('button', { name: '日本語' }).click();
    await page.getByRole('heading', { name: '概要' }).waitFor();
    expect(await page.getByRole('link', { name: '受信メール' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: '日本語' }).getAttribute('aria-pressed')).toBe('true');
    expect(await page.title()).toBe('概要 · ota-inbound');

    await page.reload();
    await page.getByRole('heading', { name: '概要' }).waitFor();
    const tab = await suite.browser.page(undefined, { context: page.context() });
    await tab.goto(`${base(app)}#/review`);
    await tab.getByRole('heading', { name: '要対応' }).waitFor();

    await tab.getByRole('button', { name: 'English' }).click();
    await tab.getByRole('heading', { name: 'Review queue' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });

  it('asks for the API token in Japanese', async () => {
    const app = await startTestApp({ 'http.apiToken': 'languages-test-token' });
    suite.track(app);
    const page = await suite.browser.page(undefined, { locale: 'ja-JP' });
    await page.goto(base(app));
    await page.getByText('このノードには API トークンが必要です。').waitFor();
    expect(englishLeft(await pageTexts(page))).toEqual([]);
    await page.getByLabel('API トークン').fill('wrong');
    await page.getByRole('button', { name: 'ログイン' }).click();
    await page.getByText('このトークンは受け付けられませんでした').waitFor();
    // The message follows a switch of language too.
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByText('That token was refused').waitFor();
  });
});
