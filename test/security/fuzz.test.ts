/**
 * A seeded generator of malformed SMTP sessions and MIME run against a real
 * node for a bounded time. Properties:
 *   - no crash: the process survives, the server still takes a clean mail after;
 *   - no hang: every session ends (the server closes after our closing sequence);
 *   - no lost accepted message: every id the server answered 250 for reaches a
 *     terminal state in the database (and nothing stays pending).
 *
 * OTA_FUZZ_SECONDS (default 15) bounds the run; OTA_FUZZ_SEED replays one.
 * The seed is printed; a failure message repeats it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, tempDir, waitFor, waitProcessed, type TestApp } from '../helpers/app.ts';
import { ByteClient } from './client.ts';
import { makeKey, writeZone, zoneOf } from './helpers.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const SECONDS = Number(process.env.OTA_FUZZ_SECONDS ?? 15);
const SEED = process.env.OTA_FUZZ_SEED ? Number(process.env.OTA_FUZZ_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
/** Sessions in flight at once. */
const CONCURRENCY = 6;
/** Longest wait for one reply before the script moves on (garbage may legitimately get none yet). */
const REPLY_WAIT_MS = 5_000;
/** A session must be closed by the server this long after our closing sequence, or it hung. */
const SESSION_END_LIMIT_MS = 20_000;
const MAX_HEADER_BYTES = 8_192;
const MAX_MESSAGE_BYTES = 512 * 1024;

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
class Rng {
  constructor(private s: number) {}
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number, alphabet?: 'any' | 'high' | 'ctl'): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      b[i] =
        alphabet === 'high'
          ? 0x80 + this.int(128)
          : alphabet === 'ctl'
            ? this.pick([0, 8, 9, 10, 13, 27, 127])
            : this.int(256);
    }
    return b;
  }
}

const L = (s: string) => Buffer.from(s, 'latin1');
const U = (s: string) => Buffer.from(s, 'utf8');

function header(r: Rng): Buffer {
  const kinds: (() => Buffer)[] = [
    () =>
      U(
        `From: ${r.pick(['食べログ <noreply-rsv@tabelog.com>', 'x@evil.example', '"broken <', '=?UTF-8?B?!!!?= <a@b>', '', '<>'])}`,
      ),
    () =>
      U(
        `Subject: ${r.pick(['【新規予約】山田様 11/09 19:00 2名【食べログネット予約】', '=?iso-2022-jp?b?GyRCIVo=?=', '=?UTF-8?Q?=ZZ=?=', 'hi'])}`,
      ),
    () => Buffer.concat([L('Subject: '), r.bytes(1 + r.int(80), 'high')]),
    () => Buffer.concat([L('X-Nul: a'), Buffer.from([0]), L('b')]),
    () =>
      L(
        `Content-Type: multipart/${r.pick(['mixed', 'alternative', 'related'])}; boundary="${r.pick(['b1', '', '"', 'x'.repeat(200)])}"`,
      ),
    () =>
      L(
        `Content-Type: ${r.pick(['text/plain; charset=iso-2022-jp', 'text/html; charset=shift_jis', 'message/rfc822', 'text/plain; charset=bogus-42', ';;;'])}`,
      ),
    () => L(`Content-Transfer-Encoding: ${r.pick(['base64', 'quoted-printable', '8bit', 'x-uue', ''])}`),
    () =>
      L(
        `DKIM-Signature: v=1; a=rsa-sha256; d=tabelog.com; s=${r.pick(['test', '', '../..'])}; h=from; bh=${r.pick(['AAAA', '!!'])}; b=${r.pick(['xyz', ''])}`,
      ),
    () => L(`ARC-Seal: i=${r.pick(['1', '0', '99', 'x'])}; a=rsa-sha256; cv=none; d=forwarder.example; s=arc; b=abc`),
    () => L('No colon in this header line'),
    () => L(`X-Long: ${'a'.repeat(r.chance(0.3) ? MAX_HEADER_BYTES + 100 : 500)}`),
    () => L(`X-Folded: a\r\n ${'b'.repeat(100)}\r\n\t${'c'.repeat(100)}`),
    () => L(`Message-ID: <${r.int(1e9)}@fuzz>`),
    () => L('Date: Mon, 32 Foo 99999 25:61:61 +9999'),
  ];
  return r.pick(kinds)();
}

function body(r: Rng, depth = 0): Buffer {
  const b = r.pick(['labels', 'random', 'multipart', 'base64', 'qp', 'jis', 'longline', 'rfc822'] as const);
  switch (b) {
    case 'labels':
      return U(
        [
          'お名前 ：山田 太郎 様',
          '日付 ：11/09',
          '来店時刻 ：19:00',
          '人数 ：2名',
          '電話番号 ：090-1234-5678',
          'https://owner.tabelog.com/rsv?bookingId=net:1234567',
        ]
          .filter(() => r.chance(0.7))
          .join('\r\n'),
      );
    case 'random':
      return r.bytes(r.int(4000), r.pick(['any', 'high', 'ctl'] as const));
    case 'base64':
      return L(r.pick(['!!!!', '44GV44GP44KJ', 'A'.repeat(1001), '=====\r\nQUJD']));
    case 'qp':
      return L('=E3=81=\r\n=ZZ=\r\n=\r\nabc=3');
    case 'jis':
      return Buffer.concat([L('\x1b$B'), r.bytes(100, 'any'), L('\x1b(B')]);
    case 'longline':
      return L('x'.repeat(20_000 + r.int(80_000)));
    case 'rfc822':
      return depth > 3 ? L('end') : Buffer.concat([message(r, depth + 1)]);
    case 'multipart': {
      const boundary = r.pick(['b1', 'b2', '']);
      const parts: Buffer[] = [];
      const n = r.int(5);
      for (let i = 0; i < n; i++) {
        parts.push(L(`--${r.chance(0.8) ? boundary : 'wrong'}\r\n`));
        if (r.chance(0.5)) parts.push(header(r), L('\r\n'));
        parts.push(L('\r\n'), depth < 20 && r.chance(0.4) ? body(r, depth + 1) : r.bytes(r.int(300)), L('\r\n'));
      }
      if (r.chance(0.5)) parts.push(L(`--${boundary}--\r\n`));
      return Buffer.concat(parts);
    }
  }
}

function message(r: Rng, depth = 0): Buffer {
  const parts: Buffer[] = [];
  const n = r.int(12);
  for (let i = 0; i < n; i++) parts.push(header(r), L('\r\n'));
  if (r.chance(0.9)) parts.push(L('\r\n'));
  parts.push(body(r, depth));
  let m = Buffer.concat(parts);
  if (m.length > MAX_MESSAGE_BYTES * 1.2) m = m.subarray(0, MAX_MESSAGE_BYTES * 1.2);
  // Bare LF / bare CR line ends here and there.
  if (r.chance(0.3)) m = L(m.toString('latin1').replace(/\r\n/g, () => r.pick(['\r\n', '\n', '\r'])));
  return m;
}

/** Dot-stuffing and the terminator, as a client must send DATA. */
function dataOf(m: Buffer): Buffer {
  let s = m.toString('latin1').replace(/(^|\r\n)\./g, '$1..');
  if (!s.endsWith('\r\n')) s += '\r\n';
  return L(`${s}.\r\n`);
}

const COMMANDS = [
  'NOOP',
  'RSET',
  'HELP',
  'VRFY postmaster',
  'EXPN list',
  'HELO',
  'EHLO',
  'MAIL FROM:<>',
  'MAIL FROM:a@b',
  'RCPT TO:<>',
  'DATA',
  'STARTTLS',
  'AUTH PLAIN AAAA',
  'XCLIENT ADDR=1.2.3.4',
  'GET / HTTP/1.1',
  '',
  ' ',
  'MAIL FROM:<a@b> SIZE=999999999999',
  'MAIL FROM:<a@b> BODY=8BITMIME SMTPUTF8',
];

/** Runs one generated session; returns the spool ids the server accepted. */
async function session(port: number, r: Rng): Promise<{ accepted: string[]; hung: string | null }> {
  const c = await ByteClient.open(port);
  const kind = r.pick(['chaos', 'transaction', 'transaction', 'abort'] as const);
  await c.reply(0, REPLY_WAIT_MS);
  const cmd = (line: string | Buffer) => {
    const seen = c.replies.length;
    c.write(Buffer.concat([typeof line === 'string' ? L(line) : line, L('\r\n')]));
    return c.reply(seen, REPLY_WAIT_MS);
  };
  if (kind === 'chaos') {
    for (let i = r.int(20); i > 0 && !c.closed; i--) {
      // STARTTLS only where its reply is awaited (below): once the server accepted
      // it, plaintext is dropped and only the client can end the session (it hangs up).
      c.write(r.chance(0.5) ? r.bytes(r.int(2000)) : L(`${r.pick(COMMANDS.filter((x) => x !== 'STARTTLS'))}\r\n`));
    }
  } else {
    for (let t = 1 + r.int(3); t > 0 && !c.closed; t--) {
      await cmd(
        r.chance(0.9)
          ? `EHLO ${r.pick(['sender.example', '[127.0.0.1]', 'x'.repeat(400), '\x01bad'])}`
          : r.pick(COMMANDS),
      );
      if (r.chance(0.3)) await cmd(r.chance(0.5) ? r.pick(COMMANDS) : r.bytes(r.int(300)));
      await cmd(`MAIL FROM:<${r.pick(['bounce@tabelog.com', '', 'a@evil.example', 'no-at-sign', 'a@b'.repeat(100)])}>`);
      for (let k = 1 + r.int(3); k > 0; k--)
        await cmd(
          `RCPT TO:<${r.pick(['ginza@intake.example', 'nobody@intake.example', 'x@relay.example', '"q"@intake.example', '@@'])}>`,
        );
      const d = await cmd('DATA');
      if (d?.code === 354) {
        const data = dataOf(message(r));
        if (kind === 'abort' && r.chance(0.5)) {
          c.write(data.subarray(0, r.int(data.length)));
          c.destroy();
          break;
        }
        const seen = c.replies.length;
        // Sometimes in small pieces (slow sender), usually at once.
        if (r.chance(0.2)) for (let o = 0; o < data.length; o += 512) c.write(data.subarray(o, o + 512));
        else c.write(data);
        await c.reply(seen, REPLY_WAIT_MS * 4);
      }
    }
  }
  // Closing sequence: end a pending line, end DATA if in it, then QUIT.
  c.write(L('\r\n.\r\nQUIT\r\n'));
  // After an accepted STARTTLS the server rightly drops plaintext and waits for a
  // TLS handshake: this client hangs up instead, and the server must notice.
  if (c.replies.some((x) => x.code === 220 && /TLS/i.test(x.text))) c.socket.end();
  let timer: NodeJS.Timeout | undefined;
  const hung = await Promise.race([
    c.ended.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), SESSION_END_LIMIT_MS))),
  ]);
  clearTimeout(timer);
  if (hung) c.destroy();
  const accepted = c.replies.filter((x) => x.code === 250).flatMap((x) => /queued as (\S+)/.exec(x.text)?.[1] ?? []);
  return { accepted, hung: hung ? `${kind} session, last replies ${JSON.stringify(c.replies.slice(-4))}` : null };
}

const TERMINAL = new Set(['processed', 'duplicate', 'ignored', 'review', 'quarantined', 'dead']);

describe('fuzzing SMTP sessions and MIME', () => {
  let app: TestApp;
  beforeAll(async () => {
    const dir = tempDir();
    const zone = writeZone(
      dir,
      zoneOf([makeKey('tabelog.com', 'test')], {
        'tabelog.com': ['v=spf1 -all'],
        '_dmarc.tabelog.com': ['v=DMARC1; p=reject'],
      }),
    );
    app = await startTestApp(
      {
        'smtp.maxHeaderBytes': MAX_HEADER_BYTES,
        'smtp.maxMessageBytes': MAX_MESSAGE_BYTES,
        'smtp.abuse.maxErrors': 8,
        'pipeline.workers': 2,
        'pipeline.maxAttempts': 2,
        'pipeline.retryBaseMs': 20,
        'pipeline.parseTimeoutMs': 5_000,
        'auth.resolver': 'system',
        'auth.dnsZoneFile': zone,
      },
      { dir },
    );
  });
  afterAll(async () => {
    await app?.cleanup();
  });

  it(
    `survives ${SECONDS} s of malformed sessions and MIME: no crash, no hang, no lost accepted message`,
    { timeout: (SECONDS + 90) * 1000 },
    async () => {
      console.log(`fuzz: seed=${SEED} seconds=${SECONDS} (replay with OTA_FUZZ_SEED=${SEED})`);
      const root = new Rng(SEED);
      const deadline = Date.now() + SECONDS * 1000;
      const accepted: string[] = [];
      let sessions = 0;
      const hung: string[] = [];
      // Each lane gets its own seeded generator, so a lane's sequence does not depend on timing.
      const lanes = Array.from({ length: CONCURRENCY }, () => new Rng((root.next() * 2 ** 32) >>> 0));
      await Promise.all(
        lanes.map(async (r) => {
          while (Date.now() < deadline) {
            const s = await session(app.smtpPort, r);
            sessions += 1;
            accepted.push(...s.accepted);
            if (s.hung) hung.push(s.hung);
          }
        }),
      );
      console.log(`fuzz: seed=${SEED} sessions=${sessions} accepted=${accepted.length}`);
      expect(hung, `seed ${SEED}: sessions that never ended`).toEqual([]);
      expect(sessions).toBeGreaterThan(0);

      // Every accepted id reaches a terminal state (the pipeline's own progress is the signal).
      const state = (id: string) => app.store.message(id)?.state;
      await waitFor(app, () => accepted.every((id) => TERMINAL.has(state(id) ?? '')));
      for (const id of accepted)
        expect(TERMINAL.has(state(id) ?? 'missing'), `seed ${SEED}: ${id} is ${state(id) ?? 'missing'}`).toBe(true);
      const stuck = sqliteOf(app.store)
        .prepare(`SELECT COUNT(*) AS n FROM messages WHERE state IN ('pending', 'failed')`)
        .get() as { n: number };
      expect(stuck.n, `seed ${SEED}: messages left pending`).toBe(0);

      // Still serving: a clean mail goes through.
      const c = await ByteClient.open(app.smtpPort);
      expect((await c.greeting())?.code).toBe(220);
      await c.cmd('EHLO after-fuzz.example');
      await c.cmd('MAIL FROM:<a@sender.example>');
      await c.cmd('RCPT TO:<ginza@intake.example>');
      await c.cmd('DATA');
      const done = await c.cmd('Subject: after the fuzz\r\n\r\nstill here\r\n.');
      expect(done?.code).toBe(250);
      const row = await waitProcessed(app, /queued as (\S+)/.exec(done!.text)![1]!);
      expect(TERMINAL.has(row.state)).toBe(true);
      c.destroy();
    },
  );
});
