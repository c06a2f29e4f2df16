/** Spool fixtures: records written the way a node writes them, then damaged on purpose. */
import fs from 'node:fs';
import path from 'node:path';
import { Journal, type Envelope } from '../../src/spool/index.ts';

export interface CorruptRecord {
  /** Spool id of the damaged record. */
  id: string;
  /** Spool id of the good record written after it. */
  nextId: string;
  /** Puts the original byte back (the "fix the cause" step before a replay). */
  repair(): void;
}

/**
 * Writes two records into the spool of a node that is not running yet, then
 * flips one byte inside the first one's body: a message that was
 * acknowledged (250) but whose bytes no longer match their checksum. The node
 * dead-letters it with SPOOL_CORRUPT when it starts.
 */
export async function corruptRecordBeforeStart(
  dir: string,
  raw: Buffer,
  next: Buffer,
  store: string,
  clock?: () => number,
): Promise<CorruptRecord> {
  const spoolDir = path.join(dir, 'data', 'spool');
  const journal = new Journal({ dir: spoolDir, clock });
  await journal.open();
  const env = testEnvelope('seed', store);
  const rec = await journal.append(env, [raw], raw.length);
  const rec2 = await journal.append(env, [next], next.length);
  await journal.close();
  const seg = path.join(
    spoolDir,
    fs.readdirSync(spoolDir).find((f) => f.endsWith('.seg'))!,
  );
  const at = rec.ref.offset + 16 + rec.ref.headerLength + 100;
  const fd = fs.openSync(seg, 'r+');
  const original = Buffer.alloc(1);
  fs.readSync(fd, original, 0, 1, at);
  fs.writeSync(fd, Buffer.from([original[0]! ^ 0xff]), 0, 1, at);
  fs.closeSync(fd);
  return {
    id: rec.id,
    nextId: rec2.id,
    repair() {
      const w = fs.openSync(seg, 'r+');
      fs.writeSync(w, original, 0, 1, at);
      fs.closeSync(w);
    },
  };
}

/** The envelope of a 食べログ notification to one store, as the SMTP front end records it. */
export function testEnvelope(sessionId: string, store = 'sakura-ginza'): Envelope {
  return {
    mailFrom: 'noreply-rsv@tabelog.com',
    rcptTo: [`${store}@intake.example`],
    clientIp: '127.0.0.1',
    helo: 'mx.tabelog.example',
    tls: null,
    store,
    quarantined: false,
    sessionId,
  };
}
