/**
 * Logs a person reads: one Postfix-style `info` line per accepted message and
 * one per outcome, read from the real log output of a real node fed over
 * SMTP; pretty single lines on a terminal, JSON otherwise; no guest data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logSafeReason, prettyLine, resolveFormat } from '../../src/log/index.ts';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';
import { captureLog } from '../helpers/log.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { tabelogMail } from '../deliver/mail.ts';

const GUEST = '鈴木 花子';
const PHONE = '080-2222-3333';

type Rec = Record<string, unknown> & { msg: string; level: string };

async function startLogged(format: 'json' | 'pretty', overrides: Record<string, unknown> = {}) {
  const { lines, log } = captureLog(format);
  return { app: await startTestApp(overrides, { log }), lines };
}

describe('mail log lines (JSON)', () => {
  let app: TestApp;
  let lines: string[];
  const recs = () => lines.map((l) => JSON.parse(l) as Rec);
  const find = (prefix: string) => recs().find((r) => r.msg.startsWith(prefix));

  beforeAll(async () => {
    ({ app, lines } = await startLogged('json'));
  });
  afterAll(() => app.cleanup());

  it('logs one info line per accepted message: spool id, client, HELO, MAIL FROM, store, size, TLS', async () => {
    const message = tabelogMail({ bookingId: '60000001', name: GUEST, phone: PHONE, messageId: 'log-1@tabelog.com' });
    const { final } = await deliver(app.smtpPort, {
      from: 'bounce-8841@tabelog.com',
      to: ['sakura@intake.example'],
      message,
      ehlo: 'mta1.tabelog.example',
    });
    const id = queuedId(final);
    await waitProcessed(app, id);
    const accepted = find(`${id}: accepted`)!;
    expect(accepted).toMatchObject({
      level: 'info',
      component: 'smtp',
      spoolId: id,
      client: '127.0.0.1',
      helo: 'mta1.tabelog.example',
      from: 'bounce-8841@tabelog.com',
      store: 'sakura',
      tls: 'none',
    });
    expect(accepted.size).toBeGreaterThan(message.length - 10);
    expect(accepted.msg).toBe(
      `${id}: accepted client=[127.0.0.1] helo=<mta1.tabelog.example> from=<bounce-8841@tabelog.com> store=sakura size=${String(accepted.size)} tls=none`,
    );
    const outcome = find(`${id}: processed`)!;
    expect(outcome).toMatchObject({ level: 'info', component: 'pipeline', site: 'tabelog', event: 'new' });
    expect(outcome.msg).toBe(
      `${id}: processed site=tabelog kind=reservation event=new reservation=60000001 store=sakura`,
    );
  });

  it('logs a duplicate with the message it repeats', async () => {
    const original = recs().find((r) => /: processed .*reservation=60000001/.test(r.msg))!.spoolId as string;
    const { final } = await deliver(app.smtpPort, {
      to: ['sakura@intake.example'],
      message: tabelogMail({ bookingId: '60000001', name: GUEST, phone: PHONE, messageId: 'log-1@tabelog.com' }),
    });
    const id = queuedId(final);
    await waitProcessed(app, id);
    expect(find(`${id}: duplicate`)!.msg).toBe(`${id}: duplicate of=${original} store=sakura`);
  });

  it('logs review reasons, and a quarantined message with its reason', async () => {
    const { final } = await deliver(app.smtpPort, {
      to: ['sakura@intake.example'],
      message: tabelogMail({ bookingId: '60000002', name: GUEST, phone: null }),
    });
    const id = queuedId(final);
    await waitProcessed(app, id);
    expect(find(`${id}: review`)!.msg).toMatch(/ reasons=[^ ]*missing:phone/);
    const q = await deliver(app.smtpPort, {
      to: ['r-cccccccccccccccccccc@intake.example'],
      message: tabelogMail({ bookingId: '60000003', name: GUEST }),
    });
    const qid = queuedId(q.final);
    await waitProcessed(app, qid);
    expect(find(`${qid}: accepted`)!.msg).toContain(' store=quarantine quarantineReason=unknown-address ');
    expect(find(`${qid}: quarantined`)!.msg).toContain('store=quarantine');
  });

  it('never writes the guest name or phone, in any line', () => {
    const out = lines.join('\n');
    expect(out).not.toContain(GUEST);
    expect(out).not.toContain('鈴木');
    expect(out).not.toContain(PHONE);
    expect(out).not.toContain(PHONE.replace(/-/g, ''));
  });
});

describe('failure lines', () => {
  it('logs a failed attempt with its reason and the time of the next attempt', async () => {
    // A body mailparser cannot finish within the smallest parse timeout: a real PARSE_TIMEOUT.
    const { app, lines } = await startLogged('json', {
      'pipeline.parseTimeoutMs': 100,
      'pipeline.retryBaseMs': 60_000,
    });
    try {
      const html = '<div>'.repeat(400_000) + 'x' + '</div>'.repeat(400_000);
      const message = `From: a@b.example\r\nTo: sakura@intake.example\r\nSubject: big\r\nContent-Type: text/html\r\n\r\n${html}\r\n`;
      const { final } = await deliver(app.smtpPort, { to: ['sakura@intake.example'], message });
      const id = queuedId(final);
      const line = await new Promise<Rec>((resolve) => {
        const look = () => {
          const r = lines.map((l) => JSON.parse(l) as Rec).find((x) => x.msg.startsWith(`${id}: failed`));
          if (r) resolve(r);
          else app.pipeline.once('persisted', look);
        };
        look();
      });
      expect(line).toMatchObject({ level: 'warn', code: 'PARSE_TIMEOUT', attempts: 1, state: 'failed' });
      expect(line.msg).toMatch(
        new RegExp(`^${id}: failed code=PARSE_TIMEOUT attempts=1 next=\\d{4}-\\d\\d-\\d\\dT.* reason="`),
      );
      expect(Date.parse(line.next as string)).toBeGreaterThan(Date.now());
    } finally {
      await app.cleanup();
    }
  });
});

describe('log format', () => {
  it('auto is pretty on a terminal and JSON otherwise; explicit settings win; log.pretty still works', () => {
    expect(resolveFormat({ format: 'auto', isTTY: true })).toBe('pretty');
    expect(resolveFormat({ format: 'auto', isTTY: false })).toBe('json');
    expect(resolveFormat({ format: 'json', isTTY: true })).toBe('json');
    expect(resolveFormat({ format: 'pretty', isTTY: false })).toBe('pretty');
    expect(resolveFormat({ format: 'auto', pretty: true, isTTY: false })).toBe('pretty');
  });

  it('writes one readable line per record and does not repeat what the sentence says', async () => {
    const { app, lines } = await startLogged('pretty');
    try {
      const { final } = await deliver(app.smtpPort, {
        to: ['sakura@intake.example'],
        message: tabelogMail({ bookingId: '60000009', name: GUEST, phone: PHONE }),
      });
      const id = queuedId(final);
      await waitProcessed(app, id);
      const accepted = lines.find((l) => l.includes(`${id}: accepted`))!;
      expect(accepted).toMatch(
        new RegExp(
          `^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  \\[smtp\\] ${id}: accepted client=\\[127\\.0\\.0\\.1\\] helo=<sender\\.example> from=<noreply@sender\\.example> store=sakura size=\\d+ tls=none$`,
        ),
      );
      expect(lines.find((l) => l.includes(`${id}: processed`))).toMatch(
        / INFO {2}\[pipeline\] .* event=new reservation=60000009 store=sakura$/,
      );
      expect(lines.every((l) => !l.startsWith('{'))).toBe(true);
      expect(lines.join('\n')).not.toContain(GUEST);
    } finally {
      await app.cleanup();
    }
  });

  it('keeps a record on one line even when a value has a newline', () => {
    const line = prettyLine({ time: '2026-12-04T10:00:00.000Z', level: 'warn', msg: 'two\nlines', detail: 'a\r\nb' });
    expect(line).toBe('10:00:00.000 WARN  two lines detail="a\\r\\nb"');
  });

  it('cuts free text from review reasons before they reach a log', () => {
    expect(logSafeReason('missing:phone')).toBe('missing:phone');
    expect(logSafeReason('unauthenticated:tabelog')).toBe('unauthenticated:tabelog');
    expect(logSafeReason(`missing-reservation:19:00 4名 ${GUEST}`)).toBe('missing-reservation');
  });
});
