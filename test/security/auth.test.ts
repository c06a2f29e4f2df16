/**
 * Sender authentication, end to end and offline: a real node whose workers
 * resolve from a zone file, mails signed and sealed during the test with keys
 * generated for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { applySiteVerdict, verifySite, zoneFileResolver, type AuthResult } from '../../src/auth/index.ts';
import type { Extraction } from '../../src/extract/types.ts';
import type { MessageRow } from '../../src/store/index.ts';
import { dkimSigned, forwardWithArc, tabelogNew, makeKey, writeZone, zoneOf, type Key, type Zone } from './helpers.ts';
import { sqliteOf } from '../../src/store/testing.ts';

let app: TestApp;
let zone: Zone;
let tabelog: Key;
let attacker: Key;
let forwarder: Key;
let untrustedForwarder: Key;
let seq = 0;

beforeAll(async () => {
  tabelog = makeKey('tabelog.com', 'test2026');
  attacker = makeKey('evil.example', 'mail');
  forwarder = makeKey('forwarder.example', 'arc');
  untrustedForwarder = makeKey('relay.untrusted.example', 'arc');
  zone = zoneOf([tabelog, attacker, forwarder, untrustedForwarder], { '_dmarc.tabelog.com': ['v=DMARC1; p=reject'] });
  const dir = tempDir();
  app = await startTestApp(
    {
      'auth.resolver': 'system',
      'auth.dnsZoneFile': writeZone(dir, zone),
      'auth.arcTrustedSealers': ['forwarder.example'],
    },
    { dir },
  );
});
afterAll(async () => {
  await app?.cleanup();
});

/** Delivers over SMTP and waits for the outcome. */
async function receive(
  message: string,
  from = 'bounce@tabelog.com',
): Promise<{ row: MessageRow; extraction: Extraction; auth: AuthResult }> {
  const { final } = await deliver(app.smtpPort, { from, to: ['ginza@intake.example'], message });
  expect(final.code).toBe(250);
  const row = await waitProcessed(app, queuedId(final));
  return { row, extraction: JSON.parse(row.extraction!) as Extraction, auth: JSON.parse(row.auth!) as AuthResult };
}

const newReservation = () => tabelogNew(++seq);

describe('sender authentication of site mail', () => {
  it('flags a forged tabelog mail (its DKIM signature does not verify) for review with unauthenticated:tabelog', async () => {
    // An attacker can claim d=tabelog.com but cannot publish the key: signed with a key of its own.
    const forged = await dkimSigned(newReservation(), makeKey('tabelog.com', 'test2026'));
    const { row, extraction, auth } = await receive(forged);
    expect(auth.dkim).toMatchObject([{ domain: 'tabelog.com', result: 'fail' }]);
    expect(extraction.source).toBe('tabelog');
    expect(extraction.needsReview).toBe(true);
    expect(extraction.reviewReasons).toContain('unauthenticated:tabelog');
    expect(row.state).toBe('review');
    expect(auth.site).toEqual({ source: 'tabelog', trusted: false, via: null, domain: null });
    const reservation = sqliteOf(app.store)
      .prepare('SELECT needs_review, review_reasons FROM reservations WHERE last_message = ?')
      .get(row.id) as { needs_review: number; review_reasons: string };
    expect(reservation.needs_review).toBe(1);
    expect(JSON.parse(reservation.review_reasons)).toContain('unauthenticated:tabelog');
  });

  it('flags a tabelog mail validly signed by another domain (d=evil.example) as unauthenticated', async () => {
    const { extraction, auth } = await receive(await dkimSigned(newReservation(), attacker), 'x@evil.example');
    expect(auth.dkim.map((d) => [d.domain, d.result])).toEqual([['evil.example', 'pass']]);
    expect(auth.dkimPass).toEqual(['evil.example']);
    expect(extraction.reviewReasons).toContain('unauthenticated:tabelog');
  });

  it('trusts a tabelog mail with a valid DKIM signature by tabelog.com (no unauthenticated reason)', async () => {
    const { row, extraction, auth } = await receive(await dkimSigned(newReservation(), tabelog));
    expect(auth.dkim).toEqual([
      { domain: 'tabelog.com', selector: 'test2026', result: 'pass', fromAligned: true, partialBody: false },
    ]);
    expect(auth.dmarc.result).toBe('pass');
    expect(auth.site).toEqual({ source: 'tabelog', trusted: true, via: 'dkim', domain: 'tabelog.com' });
    expect(extraction.reviewReasons).toEqual([]);
    expect(row.state).toBe('processed');
  });

  it('trusts a signed tabelog mail that a trusted forwarder changed and ARC-sealed (DKIM broken, ARC pass)', async () => {
    const forwarded = await forwardWithArc(await dkimSigned(newReservation(), tabelog), forwarder, zone);
    const { row, extraction, auth } = await receive(forwarded, 'srs0=abc@forwarder.example');
    expect(auth.dkim.find((d) => d.domain === 'tabelog.com')?.result).not.toBe('pass');
    expect(auth.arc).toMatchObject({
      result: 'pass',
      instance: 1,
      sealers: ['forwarder.example'],
      trustedDkimPass: ['tabelog.com'],
    });
    expect(auth.site).toEqual({ source: 'tabelog', trusted: true, via: 'arc', domain: 'tabelog.com' });
    expect(extraction.reviewReasons).toEqual([]);
    expect(row.state).toBe('processed');
  });

  it('does not believe an ARC chain sealed by a forwarder that is not in auth.arcTrustedSealers', async () => {
    const forwarded = await forwardWithArc(await dkimSigned(newReservation(), tabelog), untrustedForwarder, zone);
    const { extraction, auth } = await receive(forwarded, 'fwd@relay.untrusted.example');
    expect(auth.arc.result).toBe('pass');
    expect(auth.arc.trustedDkimPass).toEqual([]);
    expect(extraction.reviewReasons).toContain('unauthenticated:tabelog');
  });

  it('flags an unsigned tabelog mail for review', async () => {
    const { extraction, auth } = await receive(newReservation());
    expect(auth.dkim).toEqual([]);
    expect(extraction.reviewReasons).toContain('unauthenticated:tabelog');
  });

  it('records SPF, DKIM, DMARC and ARC for mail that claims no site, without a review reason', async () => {
    const plain =
      'From: someone@example.org\r\nTo: ginza@intake.example\r\nSubject: hello\r\nMessage-ID: <plain-1@example.org>\r\n\r\nnot a reservation\r\n';
    const { extraction, auth } = await receive(plain, 'someone@example.org');
    expect(extraction.source).toBeNull();
    expect(extraction.reviewReasons).not.toContainEqual(expect.stringMatching(/^unauthenticated/));
    expect(auth).toMatchObject({
      checked: true,
      temporaryError: false,
      spf: { result: 'none', domain: 'example.org' },
      site: null,
    });
  });

  it('shows the authentication results in the message detail of the API', async () => {
    const { row } = await receive(await dkimSigned(newReservation(), tabelog));
    const res = await fetch(`http://127.0.0.1:${app.httpPort}/api/messages/${row.id}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { auth: AuthResult };
    expect(body.auth.site).toEqual({ source: 'tabelog', trusted: true, via: 'dkim', domain: 'tabelog.com' });
    expect(body.auth.dkim[0]).toMatchObject({ domain: 'tabelog.com', result: 'pass' });
  });

  it('counts verdicts in ota_inbound_sender_auth_total', async () => {
    const text = await app.metrics.registry.metrics();
    expect(text).toMatch(/ota_inbound_sender_auth_total\{source="tabelog",result="dkim"\} [1-9]/);
    expect(text).toMatch(/ota_inbound_sender_auth_total\{source="tabelog",result="arc"\} 1/);
    expect(text).toMatch(/ota_inbound_sender_auth_total\{source="tabelog",result="unauthenticated"\} [1-9]/);
  });
});

describe('site verdict rules', () => {
  const base: AuthResult = {
    checked: true,
    temporaryError: false,
    error: null,
    spf: { result: 'pass', domain: 'tabelog.com' },
    dkim: [],
    dmarc: { result: 'none', domain: null, policy: null },
    arc: { result: 'none', instance: 0, sealers: [], trustedDkimPass: [] },
    dkimPass: [],
    site: null,
    checkedAt: new Date(0).toISOString(),
  };

  it('never trusts SPF alone: an SPF pass without an aligned DKIM pass is unauthenticated', () => {
    expect(verifySite(base, 'tabelog', ['tabelog.com']).trusted).toBe(false);
  });

  it('accepts a subdomain of a site DKIM domain, not a look-alike', () => {
    expect(verifySite({ ...base, dkimPass: ['mail.tabelog.com'] }, 'tabelog', ['tabelog.com']).trusted).toBe(true);
    expect(verifySite({ ...base, dkimPass: ['nottabelog.com'] }, 'tabelog', ['tabelog.com']).trusted).toBe(false);
  });

  it('adds no reason when authentication is off (auth.resolver=none)', () => {
    const x = { source: 'tabelog', needsReview: false, reviewReasons: [] as string[] } as unknown as Extraction;
    const off = { ...base, checked: false };
    expect(applySiteVerdict(x, off, [{ source: 'tabelog', dkimDomains: ['tabelog.com'] }]).reviewReasons).toEqual([]);
    expect(off.site).toMatchObject({ trusted: true, via: 'unchecked' });
  });

  it('answers from the zone file and says ENOTFOUND for names not in it', async () => {
    const dir = tempDir();
    const resolve = zoneFileResolver(writeZone(dir, { TXT: { 'Sel._domainkey.Example.COM.': ['v=DKIM1; p=abc'] } }));
    await expect(resolve('sel._domainkey.example.com', 'TXT')).resolves.toEqual([['v=DKIM1; p=abc']]);
    await expect(resolve('other.example.com', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});
