/**
 * The reconciler: an independent proof that the journal and the database agree
 * (every record before the cursor has a row, every row its raw bytes), from the
 * command line and in the running server, with repair.
 */
import { execFile } from 'node:child_process';
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
