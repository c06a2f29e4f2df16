import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { RawSmtp, queuedId } from '../helpers/smtp.ts';
import { pollUntil, startChild, type Child } from '../helpers/child.ts';
import { tempDir } from '../helpers/app.ts';

/** Sessions delivering at once, and how many 250s to collect before the kill. */
const SESSIONS = 20;
const KILL_AFTER_ACCEPTED = 400;

function mail(n: number): string {
  return [
    `Message-ID: <load-${n}@sender.example>`,
    'Date: Tue, 24 Nov 2026 10:00:00 +0900',
    'From: info@sender.example',
    'To: shop@intake.example',
    `Subject: load ${n}`,
    'Content-Type: text/plain; charset=UTF-8',
    '',
    `message ${n}`,
    '',
  ].join('\r\n');
}

describe('crash safety', () => {
  const children: Child[] = [];
  afterAll(() => {
    for (const c of children) c.proc.kill('SIGKILL');
  });

  it('after kill -9 under concurrent load, every message that got a 250 is processed exactly once', async () => {
    const dir = tempDir();
    const env = {
      OTA_INBOUND_DATA_DIR: path.join(dir, 'data'),
      OTA_INBOUND_CERTS_DIR: path.join(dir, 'certs'),
      OTA_INBOUND_DOMAINS: 'intake.example',
    };
    const first = await startChild(env);
    children.push(first);

    const accepted = new Set<string>();
    let next = 0;
    let killed = false;
    const session = async () => {
      const { client } = await RawSmtp.connect(first.smtpPort);
      try {
        await client.cmd('EHLO load.example');
        while (!killed) {
          const n = next++;
          await client.cmd('MAIL FROM:<info@sender.example>');
          await client.cmd('RCPT TO:<shop@intake.example>');
          const r = await client.data(mail(n));
          if (r.code === 250) accepted.add(queuedId(r));
          if (accepted.size >= KILL_AFTER_ACCEPTED && !killed) {
            killed = true;
            first.proc.kill('SIGKILL');
          }
        }
      } catch {
        // the server died under us: expected
      } finally {
        client.destroy();
      }
    };
    await Promise.all(Array.from({ length: SESSIONS }, session));
    await first.exited;
    expect(accepted.size).toBeGreaterThanOrEqual(KILL_AFTER_ACCEPTED);

    const second = await startChild(env);
    children.push(second);
    const db = new Database(path.join(dir, 'data', 'ota-inbound.db'), { readonly: true });
    try {
      await pollUntil('the recovered backlog to be processed', () => {
        const { n } = db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE state IN ('pending','failed')`).get() as {
          n: number;
        };
        return n === 0;
      });
      const rows = db.prepare('SELECT id, state, message_id FROM messages').all() as {
        id: string;
        state: string;
        message_id: string;
      }[];
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const id of accepted) expect(byId.get(id), `250'd message ${id} missing after restart`).toBeDefined();
      // Exactly once: no Message-ID was recorded twice.
      const messageIds = rows.map((r) => r.message_id);
      expect(new Set(messageIds).size).toBe(messageIds.length);
      expect(rows.every((r) => r.state !== 'dead')).toBe(true);
    } finally {
      db.close();
    }
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
