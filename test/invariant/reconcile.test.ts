/**
 * The reconciler: an independent proof that the journal and the database agree
 * (every record before the cursor has a row, every row its raw bytes), from the
 * command line and in the running server, with repair.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/child.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.ts';
import { tabelogMail } from '../helpers/mail.ts';

const exec = promisify(execFile);

async function verify(dir: string, ...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await exec(process.execPath, [CLI, 'verify', ...args], {
      env: { PATH: process.env.PATH ?? '', OTA_INBOUND_DATA_DIR: path.join(dir, 'data') },
    });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

async function spoolMails(app: TestApp, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const message = await tabelogMail({
      event: 'new',
      bookingId: String(44_000_000 + n),
      date: new Date(Date.UTC(2026, 11, 3, 2, n)),
      messageId: `<reconcile-${n}-${app.dir.slice(-6)}@tabelog.com>`,
    });
    const { final } = await deliver(app.smtpPort, { to: ['sakura-ginza@intake.example'], message });
    ids.push(queuedId(final));
  }
  await waitFor(app, () => ids.every((id) => app.store.message(id)?.state === 'processed'));
  return ids;
}

/** What an old hand-off bug (or a restored backup) leaves: the cursor past a record with no row. */
function dropRow(dir: string, id: string): void {
  const db = new Database(path.join(dir, 'data', 'ota-inbound.db'));
  db.prepare('DELETE FROM reservation_events WHERE message = ?').run(id);
  db.prepare('DELETE FROM messages WHERE id = ?').run(id);
  db.close();
}

describe('ota-inbound verify and the background reconciler', () => {
  it('finds a journal record without a row, re-records it with --repair, and then agrees', async () => {
    const app = await startTestApp();
    const ids = await spoolMails(app, 4);
    const dir = app.dir;
    await app.stop();

    const clean = await verify(dir);
    expect(clean.code, clean.stdout).toBe(0);
    expect(clean.stdout).toMatch(/checked 4 journal records .* against 4 rows/);

    dropRow(dir, ids[2]!);
    const found = await verify(dir, '--json');
    expect(found.code).toBe(1);
    expect(JSON.parse(found.stdout)).toMatchObject({ missingRows: [ids[2]], missingBytes: [] });

    const repaired = await verify(dir, '--repair');
    expect(repaired.stdout).toMatch(/repaired: 1 re-recorded/);
    expect((await verify(dir)).code).toBe(0);

    // The re-recorded mail is pending: the next start processes it.
    const again = await startTestApp({}, { dir });
    try {
      await waitFor(again, () => again.store.message(ids[2]!)?.state === 'processed');
    } finally {
      await again.cleanup();
    }
  });

  it('reports a row whose raw bytes are not where the index says', async () => {
    const app = await startTestApp();
    const ids = await spoolMails(app, 2);
    const dir = app.dir;
    await app.stop();
    const db = new Database(path.join(dir, 'data', 'ota-inbound.db'));
    db.prepare('UPDATE messages SET spool_offset = spool_offset + 1 WHERE id = ?').run(ids[0]);
    db.close();
    const r = await verify(dir, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ missingRows: [], missingBytes: [ids[0]] });
  });

  it('tells a row whose record was damaged after it was written from one whose bytes are gone', async () => {
    // Regression (simulation seed 1114): such a row was dead-lettered SPOOL_MISSING.
    const app = await startTestApp();
    const ids = await spoolMails(app, 4);
    const offsets = ids.map((id) => app.store.message(id)!.spool_offset);
    const dir = app.dir;
    await app.stop();
    const segment = path.join(dir, 'data', 'spool', '000000000001.seg');
    const bytes = fs.readFileSync(segment);
    for (const i of [0, 2]) bytes[offsets[i]!]! ^= 0x20; // the frame markers of two records, apart
    fs.writeFileSync(segment, bytes);
    const db = new Database(path.join(dir, 'data', 'ota-inbound.db'));
    db.prepare(`UPDATE messages SET state = 'pending' WHERE id = ?`).run(ids[2]);
    db.close();

    const found = await verify(dir, '--json');
    expect(found.code).toBe(1);
    const report = JSON.parse(found.stdout) as { damagedRows: string[] };
    expect(report).toMatchObject({
      missingRows: [],
      missingBytes: [],
      damaged: [`1:${offsets[0]}`, `1:${offsets[2]}`],
    });
    expect(report.damagedRows.toSorted()).toEqual([ids[0], ids[2]].toSorted());
    await verify(dir, '--repair');
    const again = await startTestApp({}, { dir });
    try {
      // The processed one keeps its outcome; the waiting one can never be read and is dead, as corrupt.
      expect(again.store.message(ids[0]!)?.state).toBe('processed');
      expect(again.store.message(ids[2]!)).toMatchObject({ state: 'dead', error_code: 'SPOOL_CORRUPT' });
      for (const i of [1, 3]) expect(again.store.message(ids[i]!)?.state).toBe('processed');
    } finally {
      await again.cleanup();
    }
  });

  it('repairs at start-up by itself, counts it in ota_inbound_spool_unreconciled and raises SpoolUnreconciled', async () => {
    const first = await startTestApp();
    const ids = await spoolMails(first, 3);
    const dir = first.dir;
    await first.stop();
    dropRow(dir, ids[1]!);
    const app = await startTestApp({}, { dir });
    try {
      await waitFor(app, () => app.store.message(ids[1]!)?.state === 'processed');
      const text = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
      expect(text).toMatch(/^ota_inbound_spool_unreconciled 1$/m);
      expect(app.alerts.active().map((a) => a.name)).toContain('SpoolUnreconciled');
    } finally {
      await app.cleanup();
    }
  });
});
