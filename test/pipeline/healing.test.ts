import path from 'node:path';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { tabelogMail } from '../helpers/mail.ts';
import { corruptRecordBeforeStart } from '../helpers/spool.ts';
import { replay } from '../../src/pipeline/index.ts';
import { loadSiteDefinitions } from '../../src/extract/index.ts';
import { SHIPPED_SITES_DIR } from '../../src/paths.ts';
import { purge } from '../../src/retention/index.ts';
import { rawLocation } from '../../src/store/index.ts';
import { runRebuild } from '../../src/cli/maintenance.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const sites = loadSiteDefinitions([SHIPPED_SITES_DIR]);
let apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps) await a.cleanup();
  apps = [];
});
async function start(overrides: Record<string, unknown> = {}, opts = {}): Promise<TestApp> {
  const app = await startTestApp(overrides, opts);
  apps.push(app);
  return app;
}

let seq = 0;
async function booking(app: TestApp, over: Partial<Parameters<typeof tabelogMail>[0]> = {}): Promise<string> {
  seq += 1;
  const msg = await tabelogMail({
    event: 'new',
    bookingId: String(88000000 + seq),
    date: new Date('2026-12-01T10:00:00+09:00'),
    messageId: `<heal-${seq}@tabelog.com>`,
    ...over,
  });
  const { final } = await deliver(app.smtpPort, { to: ['sakura-ginza@intake.example'], message: msg });
  expect(final.code).toBe(250);
  return queuedId(final);
}

const replayOpts = (app: TestApp) => ({ store: app.store, spool: app.spool, sites, settings: app.config.pipeline });
const eventCount = (app: TestApp) =>
  (sqliteOf(app.store).prepare('SELECT COUNT(*) AS n FROM reservation_events').get() as { n: number }).n;

describe('a pipeline that heals itself', () => {
  it('retries when the database is locked by someone else, then processes the message', async () => {
    const app = await start();
    const other = new Database(path.join(app.config.dataDir, 'ota-inbound.db'));
    other.exec('BEGIN EXCLUSIVE');
    const retrying = once(app.pipeline, 'retrying');
    const id = await booking(app);
    expect(((await retrying) as string[])[0]).toBe('STORE_BUSY');
    other.exec('ROLLBACK');
    other.close();
    expect((await waitProcessed(app, id)).state).toBe('processed');
    expect(eventCount(app)).toBe(1);
  });

  it('processes a message exactly once when its parser worker is killed mid-parse', async () => {
    const app = await start();
    let killed = false;
    app.pipeline.pool.once('dispatch', (_id: string, worker: { terminate(): Promise<number> }) => {
      killed = true;
      void worker.terminate();
    });
    const id = await booking(app);
    const row = await waitProcessed(app, id);
    expect(killed).toBe(true);
    expect(row.state).toBe('processed');
    expect(row.attempts).toBe(2);
    expect(row.error_code).toBeNull();
    expect(eventCount(app)).toBe(1);
    expect(app.pipeline.pool.restarts).toBe(1);
  });

  it('dead-letters a corrupt spool record with its reason (keeping the records after it), and replay processes it once the bytes are repaired', async () => {
    // Two records spooled (250 sent) but not yet recorded when the node stopped; the first one damaged.
    const dir = tempDir();
    const raw = await tabelogMail({
      event: 'new',
      bookingId: '88100001',
      date: new Date('2026-12-01T10:00:00+09:00'),
      messageId: '<corrupt@tabelog.com>',
    });
    const raw2 = await tabelogMail({
      event: 'new',
      bookingId: '88100002',
      date: new Date('2026-12-01T10:00:00+09:00'),
      messageId: '<after-corrupt@tabelog.com>',
    });
    const bad = await corruptRecordBeforeStart(dir, raw, raw2, 'sakura-ginza');
    const rec = { id: bad.id };
    const rec2 = { id: bad.nextId };

    const app = await start({}, { dir });
    const row = await waitProcessed(app, rec.id);
    expect(row.state).toBe('dead');
    expect(row.error_code).toBe('SPOOL_CORRUPT');
    expect((await waitProcessed(app, rec2.id)).state).toBe('processed');

    bad.repair();
    const report = await replay({ ...replayOpts(app), selection: { states: ['dead'] } });
    expect(report).toMatchObject({ selected: 1, changed: 1, failed: 0 });
    expect(app.store.message(rec.id)!.state).toBe('processed');
    expect(eventCount(app)).toBe(2);
  });

  it('replays processed mail without new events, and a dry run changes nothing', async () => {
    const app = await start();
    const ids = [await booking(app), await booking(app)];
    for (const id of ids) await waitProcessed(app, id);
    const before = eventCount(app);
    const snapshot = JSON.stringify(sqliteOf(app.store).prepare('SELECT * FROM messages ORDER BY id').all());
    const dry = await replay({ ...replayOpts(app), selection: { ids }, dryRun: true });
    expect(dry).toMatchObject({ selected: 2, unchanged: 2, changed: 0 });
    const real = await replay({ ...replayOpts(app), selection: { ids } });
    expect(real).toMatchObject({ selected: 2, unchanged: 2, changed: 0 });
    expect(eventCount(app)).toBe(before);
    expect(JSON.stringify(sqliteOf(app.store).prepare('SELECT * FROM messages ORDER BY id').all())).toBe(snapshot);
  });

  it('records a new event with the reason when a fixed parser extracts something else', async () => {
    const app = await start();
    const id = await booking(app, { party: '5名' });
    await waitProcessed(app, id);
    // What an older, buggy parser would have stored: the じゃらん-style misread party size.
    sqliteOf(app.store)
      .prepare(`UPDATE messages SET extraction = json_set(extraction, '$.partySize', 1) WHERE id = ?`)
      .run(id);
    sqliteOf(app.store).prepare(`UPDATE reservations SET party_size = 1 WHERE last_message = ?`).run(id);
    const dry = await replay({ ...replayOpts(app), selection: { ids: [id] }, dryRun: true });
    expect(dry.changes[0]).toMatchObject({ id, fields: ['partySize'] });
    expect(
      (
        sqliteOf(app.store).prepare('SELECT party_size FROM reservations WHERE last_message = ?').get(id) as {
          party_size: number;
        }
      ).party_size,
    ).toBe(1);
    await replay({ ...replayOpts(app), selection: { ids: [id] } });
    const events = sqliteOf(app.store)
      .prepare('SELECT event, reason FROM reservation_events WHERE message = ? ORDER BY id')
      .all(id) as { event: string; reason: string | null }[];
    expect(events).toEqual([
      { event: 'new', reason: null },
      { event: 'new', reason: 'replay: extraction changed (partySize)' },
    ]);
    expect(
      (
        sqliteOf(app.store).prepare('SELECT party_size FROM reservations WHERE last_message = ?').get(id) as {
          party_size: number;
        }
      ).party_size,
    ).toBe(5);
  });

  it('rebuilds from the spool alone the same reservations as the live database', async () => {
    const app = await start();
    const ids = [];
    ids.push(await booking(app, { bookingId: '88200001' }));
    ids.push(
      await booking(app, {
        bookingId: '88200001',
        event: 'change',
        date: new Date('2026-12-01T11:00:00+09:00'),
        party: '6名',
      }),
    );
    ids.push(await booking(app, { bookingId: '88200002' }));
    ids.push(
      await booking(app, { bookingId: '88200002', event: 'cancel', date: new Date('2026-12-01T12:00:00+09:00') }),
    );
    ids.push(
      await booking(app, {
        bookingId: '88200001',
        messageId: '<heal-resend@tabelog.com>',
        event: 'change',
        date: new Date('2026-12-01T11:00:00+09:00'),
        party: '6名',
      }),
    );
    for (const id of ids) await waitProcessed(app, id);
    const cols =
      'source, reservation_id, store, status, visit_date, visit_time, party_size, guest_name, phone, needs_review, review_reasons, last_message';
    const live = sqliteOf(app.store).prepare(`SELECT ${cols} FROM reservations ORDER BY source, reservation_id`).all();
    const liveStates = sqliteOf(app.store).prepare('SELECT id, state, duplicate_of FROM messages ORDER BY id').all();
    const out = path.join(app.dir, 'rebuilt.db');
    const r = await runRebuild(app.config, { output: out, replace: false, quiet: true });
    expect(r.recovered).toBe(ids.length);
    const rebuilt = new Database(out, { readonly: true });
    try {
      expect(rebuilt.prepare(`SELECT ${cols} FROM reservations ORDER BY source, reservation_id`).all()).toEqual(live);
      expect(rebuilt.prepare('SELECT id, state, duplicate_of FROM messages ORDER BY id').all()).toEqual(liveStates);
    } finally {
      rebuilt.close();
    }
  });

  it('purges old processed mail with its segment, keeps review and quarantined mail, never pending mail', async () => {
    const app = await start({ stores: ['sakura-ginza'] }, { spoolSegmentBytes: 4096 });
    const processed = await booking(app);
    const { final: qf } = await deliver(app.smtpPort, {
      to: ['no-such-store@intake.example'],
      message: await tabelogMail({
        event: 'new',
        bookingId: '88300001',
        date: new Date(),
        messageId: '<q@tabelog.com>',
      }),
    });
    const quarantined = queuedId(qf);
    const review = await booking(app, { event: 'change', bookingId: '88300002', phone: '090-****-5678' });
    const later = await booking(app);
    for (const id of [processed, quarantined, review, later]) await waitProcessed(app, id);
    expect(app.store.message(quarantined)!.state).toBe('quarantined');
    expect(app.store.message(review)!.state).toBe('review');
    const now = Date.now() + 100 * 86_400_000;
    const report = await purge(app.store, app.spool, { rawDays: 90, personalDays: 36_500 }, { now });
    expect(report.segmentsDeleted).toBeGreaterThan(0);
    const row = (id: string) => app.store.message(id)!;
    expect(row(processed).raw_purged_at).toBe(now);
    await expect(app.spool.readRaw(rawLocation(row(processed)))).rejects.toMatchObject({ code: 'SPOOL_MISSING' });
    for (const id of [quarantined, review]) {
      expect(row(id).raw_path).toMatch(/kept/);
      expect((await app.spool.readRaw(rawLocation(row(id)))).toString('latin1')).toContain('Message-ID');
    }
    // The segment being written is never purged.
    expect((await app.spool.readRaw(rawLocation(row(later)))).length).toBe(row(later).size);
  });

  it('erases guest names and phones once the personal-data window has passed', async () => {
    const app = await start();
    const id = await booking(app, { visit: '12/20(日)' });
    await waitProcessed(app, id);
    const report = await purge(
      app.store,
      app.spool,
      { rawDays: 36_500, personalDays: 30 },
      { now: Date.parse('2027-03-01T00:00:00Z') },
    );
    expect(report.personalErased).toBe(1);
    const r = sqliteOf(app.store)
      .prepare('SELECT guest_name, phone, visit_date FROM reservations WHERE last_message = ?')
      .get(id);
    expect(r).toEqual({ guest_name: null, phone: null, visit_date: '2026-12-20' });
    const x = JSON.parse(app.store.message(id)!.extraction!) as { guestName: unknown; phone: unknown };
    expect(x.guestName).toBeNull();
    expect(x.phone).toBeNull();
  });
});

describe('one server per data directory', () => {
  it('refuses to start a second node on the same data directory', async () => {
    const app = await start();
    await expect(startTestApp({}, { dir: app.dir })).rejects.toThrow(/another ota-inbound \(pid \d+\) is running/);
  });
});
