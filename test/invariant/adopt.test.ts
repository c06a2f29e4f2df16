/**
 * What recovery adopts, it makes durable first. A process killed between a
 * batch's write and its sync leaves whole records in the page cache only; the
 * next process takes them in (rows, events, webhooks). Regression (simulation
 * seed 20643: a crash, then a power cut): the adopted records vanished with
 * the power cut, the segment ended before the database's cursor, and mail
 * accepted afterwards was written behind the cursor and never handed over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal } from '../../src/spool/index.ts';
import { FaultIo } from '../sim/faults.ts';
import { Rng } from '../sim/rng.ts';
import { tempDir } from '../helpers/app.ts';
import { testEnvelope } from '../helpers/spool.ts';

const envelope = testEnvelope('adopt');
const body = (n: number) => Buffer.from(`Subject: record ${n}\r\n\r\n${'予約の確認'.repeat(30 + n)}\r\n`);

async function ids(dir: string): Promise<string[]> {
  const j = new Journal({ dir });
  const out: string[] = [];
  for await (const e of j.scan({ segment: 1, offset: 0 })) if (e.kind === 'record') out.push(e.id);
  return out;
}

describe('reopening the journal after a crash', () => {
  it('makes the records it adopts durable before it appends: a power cut afterwards keeps them', async () => {
    // The unsynced records: written by another journal (real I/O), unknown to the seam as durable.
    const source = tempDir();
    const writer = new Journal({ dir: source });
    await writer.open();
    for (let n = 0; n < 3; n++) await writer.append(envelope, [body(n)], body(n).length);
    await writer.close();
    const segment = fs.readdirSync(source).find((f) => f.endsWith('.seg'))!;
    const bytes = fs.readFileSync(path.join(source, segment));

    const rng = new Rng(20643);
    for (let round = 0; round < 20; round++) {
      const dir = tempDir();
      const life1 = new FaultIo();
      const first = new Journal({ dir, io: life1 });
      await first.open(); // an empty segment, synced
      await first.close();
      // The dead process's batch reached the page cache, not the disk.
      fs.appendFileSync(path.join(dir, segment), bytes);
      const expected = await ids(dir);
      expect(expected).toHaveLength(3);

      const life2 = life1.revive();
      const second = new Journal({ dir, io: life2 });
      await second.open();
      life2.kill();
      await second.close().catch(() => undefined);
      life2.powerCut(rng); // keeps what was synced, and a random prefix of the rest
      expect(await ids(dir), `round ${round}`).toEqual(expected);
    }
  });
});
