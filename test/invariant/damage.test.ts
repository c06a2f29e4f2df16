/**
 * Damage to acknowledged mail in the spool journal: one flipped byte must cost
 * that record alone, never its neighbours, and a read must never serve another
 * mail's bytes. Regression tests: a flipped frame marker in the middle of a
 * segment used to be cut as a "torn tail" (deleting the intact records after
 * it), new mail was then written at the same offsets, and reading the damaged
 * id returned the new mail.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Journal,
  newSpoolId,
  recordEnd,
  type ScanEntry,
  type SpoolIo,
  type SpoolRecord,
} from '../../src/spool/index.ts';
import { receivedHeader } from '../../src/smtp/trace.ts';
import { Rng } from '../sim/rng.ts';
import { startTestApp, tempDir, waitProcessed } from '../helpers/app.ts';
import { testEnvelope } from '../helpers/spool.ts';
import { tabelogMail } from '../helpers/mail.ts';

const envelope = testEnvelope('damage');
const FRAME = 16;
const body = (n: number) => Buffer.from(`Subject: record ${n}\r\n\r\n${'本文'.repeat(20 + n)}\r\n`);

function segmentFile(dir: string, n = 1): string {
  return path.join(dir, `${String(n).padStart(12, '0')}.seg`);
}

function flip(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  fs.writeSync(fd, Buffer.from([b[0]! ^ 0x5a]), 0, 1, at);
  fs.closeSync(fd);
}

async function writeRecords(dir: string, count: number): Promise<SpoolRecord[]> {
  const j = new Journal({ dir });
  await j.open();
  const recs: SpoolRecord[] = [];
  for (let n = 0; n < count; n++) recs.push(await j.append(envelope, [body(n)], body(n).length));
  await j.close();
  return recs;
}

/** Records as the SMTP front end writes them: the id chosen first and named again in the Received line. */
async function writeTracedRecords(dir: string, bodies: Buffer[]): Promise<SpoolRecord[]> {
  const j = new Journal({ dir });
  await j.open();
  const recs: SpoolRecord[] = [];
  for (const [n, b] of bodies.entries()) {
    const receivedAt = Date.UTC(2026, 11, 6, 9, 0, n);
    const id = newSpoolId(receivedAt);
    const received = receivedHeader({
      id,
      receivedAt,
      helo: 'mx.tabelog.example',
      clientIp: '127.0.0.1',
      by: 'mx.intake.example',
      protocol: 'ESMTP',
      tls: null,
      rcptTo: envelope.rcptTo,
    });
    recs.push(await j.append({ ...envelope, received }, [b], b.length, { id, receivedAt }));
  }
  await j.close();
  return recs;
}

async function scanAll(j: Journal): Promise<ScanEntry[]> {
  const out: ScanEntry[] = [];
  for await (const e of j.scan({ segment: 0, offset: 0 })) out.push(e);
  return out;
}

const describeEntry = (e: ScanEntry) => (e.kind === 'record' ? e.id : `damage:${e.id}`);

describe('a damaged record in the spool journal', () => {
  it('keeps the intact records after a flipped frame marker, reports the damaged one, and never reuses its offsets', async () => {
    const dir = tempDir();
    const recs = await writeRecords(dir, 4);
    const size = fs.statSync(segmentFile(dir)).size;
    flip(segmentFile(dir), recs[1]!.ref.offset); // the first byte of the frame's magic
    const j = new Journal({ dir });
    await j.open();
    expect(fs.statSync(segmentFile(dir)).size).toBe(size);
    expect((await scanAll(j)).map(describeEntry)).toEqual([
      recs[0]!.id,
      `damage:${recs[1]!.id}`,
      recs[2]!.id,
      recs[3]!.id,
    ]);
    for (const i of [0, 2, 3]) expect((await j.read(recs[i]!.ref, recs[i]!.id)).equals(body(i))).toBe(true);
    await expect(j.read(recs[1]!.ref, recs[1]!.id)).rejects.toMatchObject({ code: 'SPOOL_CORRUPT' });
    const later = await j.append(envelope, [body(9)], body(9).length);
    expect(later.ref.offset).toBe(size);
    await expect(j.read(recs[1]!.ref, recs[1]!.id)).rejects.toMatchObject({ code: 'SPOOL_CORRUPT' });
    await j.close();
  });

  it('never returns another record’s bytes for an id, even at a valid frame', async () => {
    const dir = tempDir();
    const recs = await writeRecords(dir, 2);
    const j = new Journal({ dir });
    await j.open();
    await expect(j.read(recs[1]!.ref, recs[0]!.id)).rejects.toMatchObject({ code: 'SPOOL_CORRUPT' });
    await j.close();
  });

  it('steps over damage wherever the byte is: frame, header or body of any record', async () => {
    const dir = tempDir();
    const recs = await writeRecords(dir, 3);
    const pristine = fs.readFileSync(segmentFile(dir));
    const mid = recs[1]!;
    const positions = [
      ...Array.from({ length: FRAME }, (_, i) => mid.ref.offset + i),
      mid.ref.offset + FRAME + 2,
      mid.ref.offset + FRAME + mid.ref.headerLength - 3,
      mid.ref.offset + FRAME + mid.ref.headerLength + 10,
    ];
    for (const at of positions) {
      fs.writeFileSync(segmentFile(dir), pristine);
      flip(segmentFile(dir), at);
      const j = new Journal({ dir });
      await j.open();
      expect(fs.statSync(segmentFile(dir)).size, `byte ${at}`).toBe(pristine.length);
      const ids = (await scanAll(j)).filter((e) => e.kind === 'record').map((e) => (e as SpoolRecord).id);
      expect(ids, `byte ${at}`).toContain(recs[0]!.id);
      expect(ids, `byte ${at}`).toContain(recs[2]!.id);
      expect((await j.read(recs[2]!.ref, recs[2]!.id)).equals(body(2)), `byte ${at}`).toBe(true);
      await expect(j.read(mid.ref, mid.id), `byte ${at}`).rejects.toMatchObject({ code: 'SPOOL_CORRUPT' });
      await j.close();
    }
  });

  it('names the acknowledged id whichever bit of a header is flipped, in the middle or at the end of a segment', async () => {
    // Regression (simulation seed 1091): a flipped bit in the id of the last record framed as a
    // valid record under a wrong id; its row was recorded under that id and the 250'd id had none.
    const dir = tempDir();
    const recs = await writeTracedRecords(dir, [body(0), body(1), body(2)]);
    const pristine = fs.readFileSync(segmentFile(dir));
    for (const target of [recs[1]!, recs[2]!]) {
      const headerAt = target.ref.offset + FRAME;
      for (let at = headerAt; at < headerAt + target.ref.headerLength; at++) {
        const damaged = Buffer.from(pristine);
        damaged[at]! ^= 1 << (at % 8);
        fs.writeFileSync(segmentFile(dir), damaged);
        const j = new Journal({ dir });
        await j.open();
        const entries = await scanAll(j);
        await j.close();
        const named = entries.flatMap((e) => (e.kind === 'record' ? [e.id] : [e.id, ...(e.otherIds ?? [])]));
        const where = `bit ${at % 8} of byte ${at - headerAt} of record ${recs.indexOf(target)}`;
        for (const r of recs) expect(named, where).toContain(r.id);
        // A record never stands under an id it was not written with.
        for (const e of entries)
          if (e.kind === 'record')
            expect(
              recs.map((r) => r.id),
              where,
            ).toContain(e.id);
      }
    }
  });

  it('a zeroed disk block across several records costs only them: every id still legible in one of its two copies is named', async () => {
    // A bad sector reads back as zeros and may span the end of one small record and the start of
    // the next; the span then covers both, and only the first header's id used to be salvaged.
    const rng = new Rng(0x5ec7042);
    for (let round = 0; round < 150; round++) {
      const dir = tempDir();
      const bodies = Array.from({ length: 6 }, (_, n) =>
        Buffer.from(`Subject: r${n}\r\n\r\n${'予約'.repeat(rng.int(10, 700))}\r\n`),
      );
      const recs = await writeTracedRecords(dir, bodies);
      const pristine = fs.readFileSync(segmentFile(dir));
      const block = rng.pick([512, 4096]);
      // Aligned like a sector, and clear of the final record (zeros there read as a torn tail).
      const from = block * rng.int(0, Math.floor((recs.at(-1)!.ref.offset - block) / block));
      const to = from + block;
      const damaged = Buffer.from(pristine);
      damaged.fill(0, from, to);
      fs.writeFileSync(segmentFile(dir), damaged);
      const j = new Journal({ dir });
      await j.open();
      const entries = await scanAll(j);
      await j.close();
      const named = new Set(
        entries.flatMap((e) => (e.kind === 'record' ? [e.id] : [e.id ?? [], ...(e.otherIds ?? [])].flat())),
      );
      const standing = new Set(entries.flatMap((e) => (e.kind === 'record' ? [e.id] : [])));
      const where = `round ${round}: ${block} zero bytes at ${from}`;
      const clear = (at: number, length: number) => at + length <= from || at >= to;
      for (const r of recs) {
        const header = pristine
          .subarray(r.ref.offset + FRAME, r.ref.offset + FRAME + r.ref.headerLength)
          .toString('latin1');
        const field = `{"id":"${r.id}","receivedAt":1`;
        const trace = `\\tid ${r.id}`;
        const legible =
          clear(r.ref.offset + FRAME + header.indexOf(field), field.length) ||
          clear(r.ref.offset + FRAME + header.indexOf(trace), trace.length);
        if (legible) expect(named.has(r.id), `${where}: ${r.id}`).toBe(true);
        if (clear(r.ref.offset, FRAME + r.ref.headerLength + r.ref.bodyLength))
          expect(standing.has(r.id), `${where}: untouched ${r.id}`).toBe(true);
      }
      for (const id of named)
        expect(
          recs.map((r) => r.id),
          `${where}: ${id}`,
        ).toContain(id);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the final record when one of its length fields is damaged (the checksum proves it whole)', async () => {
    const dir = tempDir();
    const recs = await writeRecords(dir, 2);
    const size = fs.statSync(segmentFile(dir)).size;
    flip(segmentFile(dir), recs[1]!.ref.offset + 8); // body length
    const j = new Journal({ dir });
    await j.open();
    expect(fs.statSync(segmentFile(dir)).size).toBe(size);
    expect((await scanAll(j)).map(describeEntry)).toEqual([recs[0]!.id, `damage:${recs[1]!.id}`]);
    await j.close();
  });

  it('never cuts below the database cursor: a final record damaged twice stays, and new mail goes after it', async () => {
    // Regression (simulation seed 30091: three crashes with power cuts and flipped bytes): two flips
    // in the final record (a length field and its header) read as a torn tail and were cut; new mail
    // was written at its offset, behind the cursor, and never handed over.
    const dir = tempDir();
    const recs = await writeTracedRecords(dir, [body(0), body(1)]);
    const last = recs[1]!;
    const size = fs.statSync(segmentFile(dir)).size;
    flip(segmentFile(dir), last.ref.offset + 8); // body length
    flip(segmentFile(dir), last.ref.offset + FRAME + 5); // a byte of its header
    const pristine = fs.readFileSync(segmentFile(dir));

    const unrecorded = new Journal({ dir });
    await unrecorded.open(); // nothing tells these bytes from a torn write: cut
    expect(fs.statSync(segmentFile(dir)).size).toBe(last.ref.offset);
    await unrecorded.close();

    fs.writeFileSync(segmentFile(dir), pristine);
    const j = new Journal({ dir });
    await j.open({ recorded: recordEnd(last.ref) }); // the database recorded both records whole
    expect(fs.statSync(segmentFile(dir)).size).toBe(size);
    const later = await j.append(envelope, [body(9)], body(9).length);
    expect(later.ref.offset).toBe(size);
    expect((await scanAll(j)).map(describeEntry)).toEqual([recs[0]!.id, `damage:${last.id}`, later.id]);
    await j.close();
  });

  it('keeps every acknowledged record when a failed batch could not be cut back (non-last segment)', async () => {
    const dir = tempDir();
    const fail = { on: false };
    // writev writes, then fails; truncate fails too: the journal continues in a new segment.
    const io: SpoolIo = {
      async open(file, flags) {
        const fh = await fsp.open(file, flags, 0o640);
        return new Proxy(fh, {
          get(target, prop, receiver) {
            if (fail.on && prop === 'datasync')
              return () => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
            if (fail.on && prop === 'truncate')
              return () => Promise.reject(Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' }));
            const v: unknown = Reflect.get(target, prop, receiver);
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
      },
    };
    const j = new Journal({ dir, io });
    await j.open();
    const acked = [await j.append(envelope, [body(0)], body(0).length)];
    fail.on = true;
    await expect(j.append(envelope, [body(1)], body(1).length)).rejects.toMatchObject({ code: 'SPOOL_IO' });
    fail.on = false;
    for (const n of [2, 3]) acked.push(await j.append(envelope, [body(n)], body(n).length));
    await j.close();
    expect(await new Journal({ dir }).segments()).toEqual([1, 2]);
    const j2 = new Journal({ dir });
    await j2.open();
    const seen = (await scanAll(j2)).filter((e) => e.kind === 'record').map((e) => (e as SpoolRecord).id);
    for (const r of acked) {
      expect(seen).toContain(r.id);
      expect((await j2.read(r.ref, r.id)).length).toBe(r.size);
    }
    await j2.close();
  });

  it('end to end: the damaged mail is dead with SPOOL_CORRUPT and its raw is refused, its neighbours are processed', async () => {
    const dir = tempDir();
    const spoolDir = path.join(dir, 'data', 'spool');
    const j = new Journal({ dir: spoolDir });
    await j.open();
    const recs: SpoolRecord[] = [];
    for (let n = 0; n < 4; n++) {
      const raw = await tabelogMail({
        event: 'new',
        bookingId: String(55_000_000 + n),
        date: new Date(Date.UTC(2026, 11, 2, 3, n)),
        messageId: `<damage-${n}@tabelog.com>`,
      });
      recs.push(await j.append(envelope, [raw], raw.length));
    }
    await j.close();
    flip(segmentFile(spoolDir), recs[1]!.ref.offset + 1);
    const app = await startTestApp({}, { dir });
    try {
      for (const i of [0, 2, 3]) expect((await waitProcessed(app, recs[i]!.id)).state).toBe('processed');
      const dead = app.store.message(recs[1]!.id)!;
      expect(dead).toMatchObject({ state: 'dead', error_code: 'SPOOL_CORRUPT' });
      expect(app.store.openDamage().map((d) => d.id)).toEqual([recs[1]!.id]);
      const next = await tabelogMail({
        event: 'new',
        bookingId: '55000009',
        date: new Date(),
        messageId: '<damage-9@tabelog.com>',
      });
      const { deliver, queuedId } = await import('../helpers/smtp.ts');
      const { final } = await deliver(app.smtpPort, { to: ['sakura-ginza@intake.example'], message: next });
      await waitProcessed(app, queuedId(final));
      const res = await fetch(`http://127.0.0.1:${app.httpPort}/api/messages/${recs[1]!.id}/raw`);
      expect(res.status).not.toBe(200);
      expect(await res.text()).not.toContain('55000009');
    } finally {
      await app.cleanup();
    }
  });
});
