/**
 * Offline sender authentication for tests: real RSA keys generated per run,
 * published in a zone file (`auth.dnsZoneFile`), and mails signed (DKIM) and
 * sealed (ARC) with mailauth exactly as a site and a forwarder would.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { authenticate, sealMessage } from 'mailauth';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { DnsResolver } from '../../src/auth/index.ts';

export interface Key {
  domain: string;
  selector: string;
  privateKey: string;
  /** The TXT record to publish at `selector._domainkey.domain`. */
  record: string;
}

export function makeKey(domain: string, selector: string): Key {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    domain,
    selector,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    record: `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
  };
}

export type Zone = { TXT: Record<string, string[]> };

/** A zone with these keys published (and any extra TXT records). */
export function zoneOf(keys: Key[], extra: Record<string, string[]> = {}): Zone {
  const TXT: Record<string, string[]> = { ...extra };
  for (const k of keys) TXT[`${k.selector}._domainkey.${k.domain}`] = [k.record];
  return { TXT };
}

export function writeZone(dir: string, zone: Zone): string {
  const file = path.join(dir, 'zone.json');
  fs.writeFileSync(file, JSON.stringify(zone, null, 2));
  return file;
}

/** The same answers as the zone file, for mailauth calls made by the test itself (the forwarder's view). */
export function zoneResolver(zone: Zone): DnsResolver {
  return async (name, rrtype) => {
    const hit = rrtype === 'TXT' ? zone.TXT[name.toLowerCase()] : undefined;
    if (!hit) throw Object.assign(new Error(`${rrtype} ${name} not found`), { code: 'ENOTFOUND' });
    return hit.map((r) => [r]);
  };
}

/** CRLF line ends (what goes over SMTP), so the signature covers what we send. */
export function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

/** A fixture with its own Message-ID (no duplicate detection between tests) and without its (fake) DKIM-Signature. */
export function fixture(name: string, messageId: string): string {
  const raw = fs.readFileSync(path.join(import.meta.dirname, '../fixtures', name), 'latin1');
  const text = crlf(raw);
  const split = text.indexOf('\r\n\r\n');
  const head = text
    .slice(0, split)
    // unfold, drop DKIM-Signature, refold nothing: headers stay one per line
    .replace(/\r\n[ \t]+/g, ' ')
    .split('\r\n')
    .filter((l) => !/^DKIM-Signature:/i.test(l))
    .map((l) => (/^Message-ID:/i.test(l) ? `Message-ID: <${messageId}>` : l))
    .join('\r\n');
  return `${head}${text.slice(split)}`;
}

/**
 * A 食べログ new-reservation notification (UTF-8, base64) with its own booking
 * id and Message-ID, so tests never meet duplicate detection.
 */
export function tabelogNew(n: number): string {
  const bookingId = String(20_000_000 + n);
  const subject = `【新規予約】山田 太郎様 11/09 19:00 2名【食べログネット予約】`;
  const body = [
    'さくら食堂 銀座店 ご担当者様',
    '',
    '新規のネット予約が入りましたのでお知らせします。',
    '',
    'お名前 ：山田 太郎 様',
    'フリガナ ：ヤマダ タロウ',
    '電話番号 ：090-1234-5678',
    '日付 ：11/09(月)',
    '来店時刻 ：19:00',
    '人数 ：2名',
    'コース ：季節のおまかせコース',
    '卓 ：カウンター席',
    'ご要望 ：なし',
    '店舗名 ：さくら食堂 銀座店',
    '',
    `https://owner.tabelog.com/rsv/booking/detail?bookingId=net:${bookingId}`,
    '',
  ].join('\r\n');
  const b64 = Buffer.from(body, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
  return crlf(
    [
      'Date: Wed, 18 Nov 2026 16:40:02 +0900',
      `From: =?UTF-8?B?${Buffer.from('食べログ').toString('base64')}?= <noreply-rsv@tabelog.com>`,
      'To: reserve@sakura-shokudo.example',
      `Subject: =?UTF-8?B?${Buffer.from(subject).toString('base64')}?=`,
      `Message-ID: <${bookingId}.rsv@tabelog.com>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset="UTF-8"',
      'Content-Transfer-Encoding: base64',
      '',
      b64,
      '',
    ].join('\n'),
  );
}

export async function dkimSigned(message: string, key: Key): Promise<string> {
  // The typings describe one signature; the implementation takes the documented signatureData list.
  const res = await dkimSign(message, {
    signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey }],
  } as never);
  if (res.errors.length) throw new Error(`signing failed: ${JSON.stringify(res.errors)}`);
  return res.signatures + message;
}

/**
 * What a forwarder does: authenticate the mail as received, change it (here a
 * tag in the Subject, which breaks the site's DKIM signature), then add its ARC
 * set recording the results it saw.
 */
export async function forwardWithArc(
  message: string,
  sealer: Key,
  zone: Zone,
  change: (m: string) => string = (m) => m.replace(/^Subject: /m, 'Subject: [fwd] '),
): Promise<string> {
  const seen = await authenticate(message, {
    ip: '192.0.2.25',
    helo: 'mta.tabelog.com',
    sender: 'bounce@tabelog.com',
    mta: `mx.${sealer.domain}`,
    resolver: zoneResolver(zone) as never,
    disableBimi: true,
  });
  const changed = change(message);
  const arc = seen.arc || null;
  const seal = await sealMessage(Buffer.from(changed, 'latin1'), {
    signingDomain: sealer.domain,
    selector: sealer.selector,
    privateKey: sealer.privateKey,
    authResults: arc?.authResults,
    cv: arc?.status.result,
  } as never);
  return seal.toString('latin1') + changed;
}
