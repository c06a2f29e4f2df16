/**
 * Abuse limits as a sending MTA meets them: the documented reply codes, the
 * metrics, and recovery once the (injected) clock has moved past the limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';
import { queuedId } from '../helpers/smtp.ts';
import { AbuseGuard, addressKey } from '../../src/smtp/abuse.ts';
import { ByteClient } from './client.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);
let now = T0;
const clock = () => now;
let app: TestApp | null = null;

afterEach(async () => {
  await app?.cleanup();
  app = null;
});

/** A node whose abuse limits see every loopback client (no exemption) and run on the test clock. */
async function start(limits: Record<string, unknown>): Promise<TestApp> {
  now = T0;
  const overrides: Record<string, unknown> = { 'smtp.abuse.exempt': [], 'smtp.abuse.offenceLimit': 1000 };
  for (const [k, v] of Object.entries(limits)) overrides[`smtp.abuse.${k}`] = v;
  app = await startTestApp(overrides, { clock });
  return app;
}

async function connect(port: number): Promise<{ c: ByteClient; greeting: string }> {
  const c = await ByteClient.open(port);
  const g = await c.greeting();
  return { c, greeting: g ? `${g.code} ${g.text}` : 'closed' };
}

async function refusals(a: TestApp, reason: string): Promise<number> {
  const m = await a.metrics.smtpRefusals.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('per-address connection rate', () => {
  it('answers 421 4.7.0 past the burst and accepts again once the bucket refilled', async () => {
    const a = await start({ connectionBurst: 2, connectionsPerMinute: 6 });
    for (let i = 0; i < 2; i++) {
      const { c, greeting } = await connect(a.smtpPort);
      expect(greeting).toMatch(/^220 /);
      c.destroy();
    }
    const { c, greeting } = await connect(a.smtpPort);
    expect(greeting).toBe('421 4.7.0 Too many connections from your address in a short time, try again in 10 seconds');
    await c.ended;
    expect(await refusals(a, 'connection_rate')).toBe(1);

    now += 10_000; // 6 per minute: one token every 10 s
    const again = await connect(a.smtpPort);
    expect(again.greeting).toMatch(/^220 /);
    again.c.destroy();
  });

  it('keys IPv6 clients by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    const g = new AbuseGuard(
      {
        exempt: ['10.0.0.0/8', '::1'],
        connectionsPerMinute: 1,
        connectionBurst: 1,
        messagesPerMinute: 1,
        messageBurst: 1,
        maxErrors: 1,
        offenceLimit: 10,
        offenceWindowSeconds: 60,
        coolOffSeconds: 60,
      },
      () => T0,
    );
    expect(g.connection('2001:db8:1:2::1').ok).toBe(true);
    expect(g.connection('2001:db8:1:2::2')).toMatchObject({ ok: false, reason: 'connection_rate' });
    expect(g.connection('2001:db8:1:3::1').ok).toBe(true);
    for (let i = 0; i < 5; i++) expect(g.connection('10.1.2.3').ok).toBe(true);
    expect(g.connection('::1').ok).toBe(true);
    expect(g.connection('::1').ok).toBe(true);
  });
});

describe('per-address message rate', () => {
  it('answers MAIL FROM with 450 4.7.1 past the burst and accepts again after the refill', async () => {
    const a = await start({ messageBurst: 2, messagesPerMinute: 2 });
    const { c } = await connect(a.smtpPort);
    expect((await c.cmd('EHLO sender.example'))?.code).toBe(250);
    for (let i = 0; i < 2; i++) {
      expect((await c.cmd('MAIL FROM:<a@sender.example>'))?.code).toBe(250);
      expect((await c.cmd('RSET'))?.code).toBe(250);
    }
    const refused = await c.cmd('MAIL FROM:<a@sender.example>');
    expect(`${refused?.code} ${refused?.text}`).toBe(
      '450 4.7.1 Too much mail from your address in a short time, try again in 30 seconds',
    );
    expect(await refusals(a, 'message_rate')).toBe(1);
    now += 30_000;
    expect((await c.cmd('MAIL FROM:<a@sender.example>'))?.code).toBe(250);
    c.destroy();
  });
});

describe('errors in one session', () => {
  it('replaces the error past smtp.abuse.maxErrors with 421 4.7.0 and closes the connection', async () => {
    const a = await start({ maxErrors: 3 });
    const { c } = await connect(a.smtpPort);
    await c.cmd('EHLO sender.example');
    expect((await c.cmd('RCPT TO:<x@intake.example>'))?.code).toBe(503); // bad sequence: 5xx #1
    expect((await c.cmd('FOO'))?.code).toBe(500); // #2
    expect((await c.cmd('MAIL FROM:<a@sender.example>'))?.code).toBe(250);
    expect((await c.cmd('RCPT TO:<x@relay.example>'))?.code).toBe(550); // relay denied: #3
    const cut = await c.cmd('BAR');
    expect(`${cut?.code} ${cut?.text}`).toBe('421 4.7.0 Too many errors in this session, closing the connection');
    await c.ended;
    expect(await refusals(a, 'too_many_errors')).toBe(1);
  });
});

describe('repeat offenders', () => {
  it('refuses an address for the cooling-off time after repeated offences, with 421 4.7.0 and the time left, then lets it back', async () => {
    const a = await start({
      connectionBurst: 1,
      connectionsPerMinute: 1,
      maxErrors: 1,
      offenceLimit: 3,
      offenceWindowSeconds: 600,
      coolOffSeconds: 300,
    });
    // Offence 1 and 2: sessions closed for errors.
    for (let i = 0; i < 2; i++) {
      now += 60_000; // a fresh connection token each time
      const { c, greeting } = await connect(a.smtpPort);
      expect(greeting).toMatch(/^220 /);
      await c.cmd('FOO');
      expect((await c.cmd('FOO'))?.code).toBe(421);
      await c.ended;
    }
    // Offence 3: a connection-rate refusal (no token left this minute) starts the cooling-off.
    now += 60_000;
    (await connect(a.smtpPort)).c.destroy();
    const rate = await connect(a.smtpPort);
    expect(rate.greeting).toMatch(/^421 4\.7\.0 Too many connections/);
    await rate.c.ended;

    now += 120_000; // tokens are back, but the address is cooling off
    const cooling = await connect(a.smtpPort);
    expect(cooling.greeting).toBe(
      '421 4.7.0 Your address broke the limits of this server repeatedly and is refused for 180 more seconds',
    );
    await cooling.c.ended;
    expect(await refusals(a, 'cooling_off')).toBe(1);
    expect((await a.metrics.smtpCoolingOff.get()).values[0]?.value).toBe(1);

    now += 180_000;
    const back = await connect(a.smtpPort);
    expect(back.greeting).toMatch(/^220 /);
    back.c.destroy();
  });
});

describe('header size', () => {
  it('answers 552 5.3.4 to a header section over smtp.maxHeaderBytes, spools nothing, and the session goes on', async () => {
    const a = await startTestApp({ 'smtp.maxHeaderBytes': 1024 }, { clock });
    app = a;
    const { c } = await connect(a.smtpPort);
    await c.cmd('EHLO sender.example');
    const send = async (message: string) => {
      await c.cmd('MAIL FROM:<a@sender.example>');
      await c.cmd('RCPT TO:<ginza@intake.example>');
      expect((await c.cmd('DATA'))?.code).toBe(354);
      return c.cmd(`${message}\r\n.`);
    };
    const big = await send(`Subject: big\r\nX-Filler: ${'a'.repeat(2000)}\r\n\r\nbody`);
    expect(`${big?.code} ${big?.text}`).toBe(
      '552 5.3.4 Message header too big: more than 1024 bytes before the first blank line',
    );
    expect(await refusals(a, 'header_too_big')).toBe(1);
    // A body of any size is fine: only the header section counts.
    const ok = await send(`Subject: small\r\n\r\n${'b'.repeat(4000)}`);
    expect(ok?.code).toBe(250);
    await waitProcessed(a, queuedId({ code: 250, text: ok!.text, lines: [] }));
    expect((sqliteOf(a.store).prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n).toBe(1);
    c.destroy();
  });
});

describe('exempt addresses', () => {
  it('does not rate-limit an address in smtp.abuse.exempt (loopback by default)', async () => {
    const a = await startTestApp({ 'smtp.abuse.connectionBurst': 1, 'smtp.abuse.connectionsPerMinute': 1 }, { clock });
    app = a;
    for (let i = 0; i < 3; i++) {
      const { c, greeting } = await connect(a.smtpPort);
      expect(greeting).toMatch(/^220 /);
      c.destroy();
    }
  });
});
