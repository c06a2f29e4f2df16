/**
 * The store page in a real browser against a real node and its store
 * registry API (/api/stores): register a store, copy its intake address,
 * see a booking site turn メール受信済 when mail arrives at that address over
 * SMTP and a forwarding code waiting, rename, rotate and revoke with
 * confirmation. And the note a node without the registry gets.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';
import { tabelogMail } from '../helpers/mail.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { PHONE, hasHorizontalScroll } from './browser.ts';
import { browserSuite } from './suite.ts';
import { gmailVerification } from './seed.ts';
import { englishLeft, pageTexts } from './text.ts';

const suite = browserSuite();

async function start(): Promise<TestApp> {
  const app = await startTestApp();
  suite.track(app);
  return app;
}

const base = (app: TestApp) => `http://127.0.0.1:${app.httpPort}/`;

/** Delivers to an address over SMTP and waits until the pipeline is done with it. */
async function mailTo(app: TestApp, address: string, message: Buffer | string): Promise<void> {
  const { final } = await deliver(app.smtpPort, { from: 'forwarder@restaurant.example', to: [address], message });
  expect(final.code).toBe(250);
  await waitProcessed(app, queuedId(final));
}

async function intakeAddress(page: Page): Promise<string> {
  return (await page.locator('#intake .address').textContent())!.trim();
}

describe('store page', () => {
  // Needs the store registry API (/api/stores, the operator branch).
  it('registers a store, copies its address, shows per-site forwarding status, renames, rotates and revokes it', async () => {
    const app = await start();
    expect((await fetch(`${base(app)}api/stores`)).status, 'needs the store registry API (/api/stores)').toBe(200);
    const page = await suite.browser.page(undefined, { locale: 'ja-JP' });
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base(app) });
    await page.goto(`${base(app)}#/stores`);
    await page.getByRole('heading', { name: '店舗を登録' }).waitFor();
    expect(await page.getByText('登録済みの店舗はまだありません。').count()).toBe(1);

    await page.getByLabel('店舗名').fill('さくら食堂 銀座店');
    await page.getByRole('button', { name: '登録する' }).click();
    await page.getByRole('heading', { name: 'さくら食堂 銀座店' }).waitFor();
    expect(page.url()).toMatch(/#\/stores\/[a-z0-9._-]+$/);
    const first = await intakeAddress(page);
    expect(first).toMatch(/^r-[a-z0-9]{16,}@intake\.example$/);

    await page.getByRole('button', { name: 'コピー' }).click();
    await page.getByText(`${first} をコピーしました。`).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(first);

    // Every site starts 未設定, with the forwarding step naming the address.
    const tabelog = page.locator('table.store-sites tbody tr', { hasText: '食べログ' });
    expect(await tabelog.locator('[data-state]').getAttribute('data-state')).toBe('unconfigured');
    expect(await tabelog.locator('[data-state]').textContent()).toBe('未設定');
    expect(await tabelog.textContent()).toContain(first);

    // A reservation mail and a Gmail forwarding confirmation arrive at the address.
    await mailTo(
      app,
      first,
      await tabelogMail({
        event: 'new',
        bookingId: '74100001',
        name: '小林 直樹',
        date: new Date('2026-12-01T10:00:00+09:00'),
        messageId: '<store-74100001@tabelog.com>',
      }),
    );
    await mailTo(app, first, gmailVerification('318842207', first));
    await page.reload();
    await tabelog.locator('[data-state="receiving"]').waitFor();
    expect(await tabelog.locator('[data-state]').textContent()).toBe('メール受信済');
    expect(await tabelog.locator('time').count()).toBe(2); // last mail, last reservation
    expect(await page.locator('#intake .verification .code').textContent()).toBe('318842207');
    expect(englishLeft(await pageTexts(page))).toEqual([]);
    // The same page on a phone: no sideways scrolling.
    const phone = await suite.browser.page(PHONE, { locale: 'ja-JP' });
    await phone.goto(page.url());
    await phone.locator('table.store-sites tbody tr').first().waitFor();
    expect(await hasHorizontalScroll(phone)).toBe(false);
    await phone.close();

    await page.getByLabel('店舗名').fill('さくら食堂 銀座本店');
    await page.getByRole('button', { name: '名前を変更' }).click();
    await page.getByRole('heading', { name: 'さくら食堂 銀座本店' }).waitFor();

    // Rotation asks first; cancelling changes nothing.
    await page.getByRole('button', { name: '新しいアドレスを発行' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(`${first} に代わる新しいアドレスを発行します。`).waitFor();
    await dialog.getByRole('button', { name: 'キャンセル' }).click();
    expect(await page.getByRole('dialog').count()).toBe(0);
    expect(await intakeAddress(page)).toBe(first);
    await page.getByRole('button', { name: '新しいアドレスを発行' }).click();
    await page.getByRole('dialog').getByRole('button', { name: '発行する' }).click();
    await page.locator('#intake .previous').waitFor();
    const second = await intakeAddress(page);
    expect(second).not.toBe(first);
    expect(await page.locator('#intake .previous').textContent()).toContain(first);
    expect(await page.locator('#intake .previous').textContent()).toMatch(
      /\d{4}年\d{1,2}月\d{1,2}日\(.\) \d\d:\d\d まで有効/,
    );

    await page.getByRole('button', { name: '無効化' }).click();
    await page.getByRole('dialog').getByText('「さくら食堂 銀座本店」を無効化しますか？').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: '無効化する' }).click();
    await page.getByText('この店舗は無効化されています。').waitFor();
    expect(await page.locator('.tags .badge').first().textContent()).toBe('無効');
    expect(await page.getByRole('button', { name: '無効化' }).count()).toBe(0);

    await page.goto(`${base(app)}#/stores`);
    const row = page.locator('table.stores tbody tr', { hasText: 'さくら食堂 銀座本店' });
    await row.waitFor();
    expect(await row.locator('.badge').textContent()).toBe('無効');
  });

  it('shows a note instead of an error when the node has no store registry (an older node: /api/stores answers 404)', async () => {
    const app = await start();
    const page = await suite.browser.page(undefined, { locale: 'en-US' });
    // An older node answers 404 for the route it does not have; this node is
    // newer, so the browser is made to see that answer for this one path.
    await page.route('**/api/stores', (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'NOT_FOUND', message: 'Route GET:/api/stores not found' } }),
      }),
    );
    await page.goto(`${base(app)}#/stores`);
    await page.locator('#stores-unavailable').waitFor();
    expect(await page.locator('#stores-unavailable').textContent()).toContain(
      'The store registry is not available on this node.',
    );
    expect(await page.locator('.callout.tone-bad').count()).toBe(0);
  });
});
