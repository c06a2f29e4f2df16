/**
 * The spool → database hand-off under a database that another process holds
 * locked while mail keeps arriving. Regression tests for two ways a 250'd mail
 * was lost or left untouched: a re-read of the journal that fixed its end while
 * the journal grew (mail spooled meanwhile was skipped and the cursor moved past
 * it), and a retry timer that every new arrival pushed back (nothing processed
 * for as long as mail kept coming).
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.ts';
import { tabelogMail } from '../helpers/mail.ts';
import { sqliteOf } from '../../src/store/testing.ts';

/** Concurrent SMTP sessions of the sending MTA. */
const SESSIONS = 8;
/** Upper bound of the mails one test sends (the loops stop on a condition long before). */
const MAX_MAILS = 600;
const SETTLED = new Set(['processed', 'review', 'duplicate', 'ignored', 'quarantined', 'dead']);

let n = 0;
async function mail(): Promise<Buffer> {
  n += 1;
  return tabelogMail({
    event: 'new',
    bookingId: String(60_000_000 + n),
    date: new Date(Date.UTC(2026, 11, 1, 1, 0, n)),
    messageId: `<handoff-${n}@tabelog.com>`,
  });
}

async function send(app: TestApp): Promise<string> {
  const { final } = await deliver(app.smtpPort, { to: ['sakura-ginza@intake.example'], message: await mail() });
  expect(final.code, final.text).toBe(250);
  return queuedId(final);
}

/** Sends from SESSIONS parallel loops until `done()` holds or MAX_MAILS are out; returns the 250'd ids. */
async function sendUntil(app: TestApp, ids: string[], done: () => boolean): Promise<void> {
  await Promise.all(
    Array.from({ length: SESSIONS }, async () => {
      while (!done() && ids.length < MAX_MAILS) ids.push(await send(app));
    }),
  );
}

function lockDatabase(app: TestApp): Database.Database {
  const other = new Database(path.join(app.config.dataDir, 'ota-inbound.db'));
  other.exec('BEGIN IMMEDIATE');
  return other;
}

async function metric(app: TestApp, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

describe('spool → database hand-off with the database locked by another process', () => {
  let app: TestApp | null = null;
  afterEach(async () => {
    await app?.cleanup();
    app = null;
  });

  it('takes in every 250-acknowledged mail exactly once, including mail spooled while the journal is re-read', async () => {
    app = await startTestApp();
    const a = app;
    const other = lockDatabase(a);
    const ids: string[] = [];
    // A burst while the lock is held: every mail is acknowledged (the spool does not need the database).
    let retries = 0;
    a.pipeline.on('retrying', () => (retries += 1));
    await sendUntil(a, ids, () => ids.length >= 40 && retries >= 3);
    // Pending counts what is spooled but not yet in the database.
    expect(await metric(a, 'ota_inbound_spool_pending_messages')).toBeGreaterThanOrEqual(ids.length);
    // Release the lock while mail keeps coming: the re-read runs while the journal grows.
    const released = ids.length;
    other.exec('ROLLBACK');
    other.close();
    await sendUntil(a, ids, () => ids.length >= released + 120);
    const rows = await waitFor(a, () => {
      const r = ids.map((id) => a.store.message(id));
      return r.every((m) => m && SETTLED.has(m.state)) ? r : undefined;
    });
    expect(rows.map((r) => r!.state).filter((s) => s !== 'processed')).toEqual([]);
    const count = sqliteOf(a.store).prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number };
    expect(count.n).toBe(ids.length);

    // The cursor never moved past a record that was not taken in: after a restart nothing is missing or doubled.
    const dir = a.dir;
    await a.stop();
    app = await startTestApp({}, { dir });
    for (const id of ids) expect(app.store.message(id)?.state, id).toBe('processed');
    const events = sqliteOf(app.store).prepare('SELECT COUNT(*) AS n FROM reservation_events').get() as { n: number };
    expect(events.n).toBe(ids.length);
  });

  it('keeps retrying while mail keeps arriving: processing resumes during the stream, not after it', async () => {
    // The default retry delay (2 s) is longer than the gap between arrivals.
    app = await startTestApp({ 'pipeline.retryBaseMs': 2_000 });
    const a = app;
    const other = lockDatabase(a);
    const ids: string[] = [];
    let retries = 0;
    a.pipeline.on('retrying', () => (retries += 1));
    await sendUntil(a, ids, () => retries >= 2);
    other.exec('ROLLBACK');
    other.close();
    // Mail keeps arriving faster than the retry delay; a mail sent after the
    // release must be processed while the stream is still going.
    const afterRelease = ids.length;
    const processedDuringStream = () =>
      ids.slice(afterRelease).some((id) => a.store.message(id)?.state === 'processed');
    await sendUntil(a, ids, processedDuringStream);
    expect(processedDuringStream(), `nothing processed while ${ids.length - afterRelease} mails arrived`).toBe(true);
    expect(ids.length).toBeLessThan(MAX_MAILS);
  });

  it('reports a pipeline that has not moved while mail waits: /readyz 503 and the stall gauge', async () => {
    let offset = 0;
    app = await startTestApp({ 'pipeline.stallSeconds': 30 }, { clock: () => Date.now() + offset });
    const a = app;
    const other = lockDatabase(a);
    const id = await send(a);
    // (readiness already says the database is not writable; the stall is a separate check)
    expect(await (await fetch(`http://127.0.0.1:${a.httpPort}/readyz`)).text()).not.toMatch(/has not moved/);
    offset = 45_000; // 45 s pass on the node's clock with the mail still waiting
    const res = await fetch(`http://127.0.0.1:${a.httpPort}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/has not moved for \d+ s while mail waits/);
    expect(await metric(a, 'ota_inbound_pipeline_stalled_seconds')).toBeGreaterThanOrEqual(30);
    await a.watchdogs.tick();
    expect(a.alerts.active().map((x) => x.name)).toContain('PipelineStalled');
    other.exec('ROLLBACK');
    other.close();
    await waitFor(a, () => a.store.message(id)?.state === 'processed');
    expect((await fetch(`http://127.0.0.1:${a.httpPort}/readyz`)).status).toBe(200);
  });
});
