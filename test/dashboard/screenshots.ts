/**
 * Regenerates docs/screenshots/*.png (Japanese, the browser language of the
 * operators) and docs/screenshots/en/*.png (English): a real node fed a day
 * of realistic mail over SMTP (fixtures of every site, a verification mail,
 * one that needs review, a dead letter), photographed by the same headless
 * Chromium as the tests. With a store registry (/api/stores) it also registers
 * a store and photographs the store pages. Run: `npm run screenshots` (needs
 * /usr/bin/chromium and, for Japanese text, a CJK font such as Debian's
 * fonts-noto-cjk).
 */
import fs from 'node:fs';
import path from 'node:path';
import { certificateFiles, generateCertificate } from '../../src/tls/index.ts';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { tabelogMail } from '../deliver/mail.ts';
import { DESKTOP, PHONE, launchBrowser } from './browser.ts';
import { corruptRecordBeforeStart, fixture, gmailVerification, send } from './seed.ts';

const OUT = path.join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const MIN = 60_000;
const HOUR = 60 * MIN;

/**
 * Registers a store through the registry API, when this node has one, and
 * sends mail to its intake address (a booking, a Gmail forwarding code);
 * returns its id, or null without a registry.
 */
async function registerStore(app: TestApp, base: string, tick: () => void): Promise<string | null> {
  const res = await fetch(`${base}api/stores`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'さくら食堂 銀座店' }),
  });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`POST /api/stores: ${res.status} ${await res.text()}`);
  const s = (await res.json()) as { id: string; address: string };
  tick();
  for (const mail of [
    tabelogMail({
      bookingId: '80030001',
      name: '中村 由美',
      sentAt: new Date().toUTCString(),
      messageId: '<shot-store@tabelog.com>',
    }),
    gmailVerification('448120937', s.address),
  ]) {
    const { final } = await deliver(app.smtpPort, {
      from: 'forwarder@restaurant.example',
      to: [s.address],
      message: mail,
    });
    if (final.code !== 250) throw new Error(`delivery refused: ${final.code} ${final.text}`);
    await waitProcessed(app, queuedId(final));
  }
  return s.id;
}

async function main(): Promise<void> {
  const dir = tempDir('ota-shots-');
  const certsDir = path.join(dir, 'certs');
  fs.mkdirSync(certsDir, { recursive: true });
  // A certificate three weeks from expiry: the overview shows the warning.
  await generateCertificate(
    certificateFiles({ certsDir, certFile: null, keyFile: null, hostname: 'mx.test.example', generate: true }),
    'mx.test.example',
    { days: 20 },
  );

  const end = Date.now();
  let now = end - 22 * HOUR;
  const clock = () => now;
  const dead = await corruptRecordBeforeStart(
    dir,
    tabelogMail({
      bookingId: '80013377',
      name: '佐藤 花子',
      sentAt: new Date(now).toUTCString(),
      messageId: '<shot-dead@tabelog.com>',
    }),
    fixture('tabelog/change.eml'),
    'ginza',
    clock,
  );
  const app = await startTestApp(
    { stores: ['ginza', 'shibuya', 'shinjuku', 'umeda'], 'alerts.staleAfterMinutes': 30 },
    { dir, clock },
  );
  try {
    // A day of mail, oldest first; shinjuku goes quiet 8 h before the end, shibuya 50 min before.
    const plan: [number, string, Buffer | string][] = [
      [0, 'shinjuku', fixture('gurunavi/new.eml')],
      [40 * MIN, 'ginza', fixture('tabelog/new.eml')],
      [2 * HOUR, 'shibuya', fixture('hotpepper/new.eml')],
      [3 * HOUR, 'shinjuku', fixture('ikyu/new.eml')],
      [4 * HOUR, 'ginza', fixture('tabelog/digest.eml')],
      [5 * HOUR, 'shibuya', fixture('hotpepper/request.eml')],
      [6 * HOUR, 'shinjuku', fixture('gurunavi/cancel.eml')],
      [7 * HOUR, 'ginza', fixture('jalan/new.eml')],
      [8 * HOUR, 'shibuya', fixture('retty/new.eml')],
      [9 * HOUR, 'shinjuku', fixture('opentable/new.eml')],
      [10 * HOUR, 'ginza', fixture('generic/verification-gmail.eml')],
      [11 * HOUR, 'shibuya', fixture('ozmall/new.eml')],
      [12 * HOUR, 'ginza', fixture('hitosara/new.eml')],
      [13 * HOUR, 'shinjuku', fixture('ikyu/change.eml')],
      [14 * HOUR, 'shinjuku', fixture('jalan/change.eml')],
      [15 * HOUR, 'ginza', fixture('generic/spam.eml')],
      [16 * HOUR, 'shibuya', fixture('hotpepper/cancel.eml')],
      [
        17 * HOUR,
        'ginza',
        tabelogMail({
          bookingId: '80020001',
          name: '鈴木 一郎',
          phone: null,
          date: '2026/12/24',
          time: '18:30',
          party: 2,
          messageId: '<shot-review@tabelog.com>',
          sentAt: new Date(end - 5 * HOUR).toUTCString(),
        }),
      ],
      [18 * HOUR, 'ginza', gmailVerification('613370042')],
      [19 * HOUR, 'ginza', fixture('retty/change.eml')],
      [21 * HOUR + 10 * MIN, 'shibuya', fixture('opentable/change.eml')],
      [21 * HOUR + 50 * MIN, 'ginza', fixture('tabelog/cancel.eml')],
    ];
    const start = now;
    let tabelogNew = '';
    for (const [at, store, mail] of plan) {
      now = start + at;
      const id = await send(app, store, mail);
      if (mail === plan[1]![2]) tabelogNew = id;
    }
    now = end;
    await app.watchdogs.tick();

    const base = `http://127.0.0.1:${app.httpPort}/`;
    const store = await registerStore(app, base, () => (now = Date.now()));
    now = end;
    const browser = await launchBrowser();
    try {
      for (const [lang, locale, dir] of [
        ['ja', 'ja-JP', OUT],
        ['en', 'en-US', path.join(OUT, 'en')],
      ] as const) {
        fs.mkdirSync(dir, { recursive: true });
        const shoot = async (name: string, hash: string, ready: string, viewport = DESKTOP) => {
          const page = await browser.page(viewport, { locale });
          await page.goto(`${base}${hash}`);
          await page.locator(ready).first().waitFor();
          await page.evaluate('document.fonts.ready.then(() => true)');
          // Desktop views whole; the phone as its screen shows it.
          await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: viewport === DESKTOP });
          await page.close();
          console.log(`wrote ${path.relative(path.join(OUT, '..', '..'), path.join(dir, `${name}.png`))} (${lang})`);
        };
        await shoot('overview', '#/overview', '#freshness table');
        await shoot('messages', '#/messages', 'table.messages');
        await shoot('message-detail', `#/messages/${tabelogNew}`, '.mail-text');
        await shoot('reservations', '#/reservations', 'table.reservations');
        await shoot('review-queue', '#/review', '#failed table');
        if (store) {
          await shoot('stores', '#/stores', 'table.stores');
          await shoot('store-detail', `#/stores/${encodeURIComponent(store)}`, 'table.store-sites');
        }
        await shoot('phone-overview', '#/overview', '#freshness table', PHONE);
        await shoot('phone-review-queue', '#/review', '#failed table', PHONE);
        await shoot('phone-message-detail', `#/messages/${tabelogNew}`, '.mail-text', PHONE);
      }
      if (browser.problems.length) console.warn(`browser problems:\n${browser.problems.join('\n')}`);
    } finally {
      await browser.close();
    }
    void dead;
  } finally {
    await app.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
