import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal, type Envelope, type SpoolIo } from '../../src/spool/index.ts';
import { CodedError } from '../../src/errors.ts';
import { tempDir } from '../helpers/app.ts';

const envelope: Envelope = {
  mailFrom: 'a@sender.example',
  rcptTo: ['shop@intake.example'],
  clientIp: '127.0.0.1',
  helo: 'sender.example',
  tls: null,
  store: 'shop',
  quarantined: false,
  sessionId: 's1',
};
const msg = (n: number) => Buffer.from(`Subject: test ${n}\r\n\r\nbody ${n} ${'x'.repeat(n % 50)}\r\n`);

/** File-system seam that fails writes while `full` is set, like a full disk. */
function faultyIo(state: { full: boolean }): SpoolIo {
  return {
    async open(file, flags) {
      const fh = await fsp.open(file, flags, 0o640);
      return new Proxy(fh, {
        get(target, prop, receiver) {
          if (prop === 'writev' && state.full) {
            return async (buffers: Buffer[], position: number) => {
              // Write part of the batch, then fail: the realistic torn case.
              await target.write(buffers[0]!, 0, buffers[0]!.length, position);
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
            };
          }
          const v: unknown = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
  };
}

describe('spool journal', () => {
  it('returns the exact bytes of every appended message', async () => {
    const j = new Journal({ dir: tempDir() });
    await j.open();
    const recs = await Promise.all([1, 2, 3].map((n) => j.append(envelope, [msg(n)], msg(n).length)));
    for (const [i, r] of recs.entries()) expect((await j.read(r.ref, r.id)).equals(msg(i + 1))).toBe(true);
    expect(new Set(recs.map((r) => r.id)).size).toBe(3);
    await j.close();
  });

  it('makes concurrent appends durable together (group commit)', async () => {
    const j = new Journal({ dir: tempDir() });
    await j.open();
    await Promise.all(Array.from({ length: 200 }, (_, n) => j.append(envelope, [msg(n)], msg(n).length)));
    expect(j.stats.records).toBe(200);
    expect(j.stats.batches).toBeLessThan(200);
    await j.close();
  });

  it('cuts a torn tail left by a crash and keeps every complete record', async () => {
    const dir = tempDir();
    const j = new Journal({ dir });
    await j.open();
    const good = await j.append(envelope, [msg(1)], msg(1).length);
    await j.close();
    const seg = path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.endsWith('.seg'))!,
    );
    const before = fs.statSync(seg).size;
    fs.appendFileSync(seg, Buffer.from([0x4f, 0x74, 0x61, 0x31, 0xff, 0, 0, 0])); // half a frame
    const j2 = new Journal({ dir });
    await j2.open();
    expect(fs.statSync(seg).size).toBe(before);
    const scanned = [];
    for await (const r of j2.scan({ segment: 0, offset: 0 })) scanned.push(r.id);
    expect(scanned).toEqual([good.id]);
    const next = await j2.append(envelope, [msg(2)], msg(2).length);
    expect((await j2.read(next.ref, next.id)).equals(msg(2))).toBe(true);
    await j2.close();
  });

  it('keeps a damaged record followed by good ones (corruption, not a torn tail) and reports it when read', async () => {
    const dir = tempDir();
    const j = new Journal({ dir });
    await j.open();
    const bad = await j.append(envelope, [msg(1)], msg(1).length);
    const good = await j.append(envelope, [msg(2)], msg(2).length);
    await j.close();
    const seg = path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.endsWith('.seg'))!,
    );
    const size = fs.statSync(seg).size;
    const fd = fs.openSync(seg, 'r+');
    fs.writeSync(fd, Buffer.from('X'), 0, 1, bad.ref.offset + 16 + bad.ref.headerLength + 3);
    fs.closeSync(fd);
    const j2 = new Journal({ dir });
    await j2.open();
    expect(fs.statSync(seg).size).toBe(size);
    await expect(j2.read(bad.ref, bad.id)).rejects.toMatchObject({ code: 'SPOOL_CORRUPT' });
    expect((await j2.read(good.ref, good.id)).equals(msg(2))).toBe(true);
    await j2.close();
  });

  it('answers ENOSPC with SPOOL_NO_SPACE, leaves no partial record, and recovers when space returns', async () => {
    const dir = tempDir();
    const state = { full: false };
    const j = new Journal({ dir, io: faultyIo(state) });
    await j.open();
    const first = await j.append(envelope, [msg(1)], msg(1).length);
    const seg = path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.endsWith('.seg'))!,
    );
    const sizeBefore = fs.statSync(seg).size;
    state.full = true;
    const err = await j.append(envelope, [msg(2)], msg(2).length).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodedError);
    expect((err as CodedError).code).toBe('SPOOL_NO_SPACE');
    expect(fs.statSync(seg).size).toBe(sizeBefore);
    state.full = false;
    const third = await j.append(envelope, [msg(3)], msg(3).length);
    const ids = [];
    for await (const r of j.scan({ segment: 0, offset: 0 })) ids.push(r.id);
    expect(ids).toEqual([first.id, third.id]);
    await j.close();
  });

  it('rolls over to a new segment past the size limit and reads across segments', async () => {
    const dir = tempDir();
    const j = new Journal({ dir, segmentMaxBytes: 512 });
    await j.open();
    const recs = [];
    for (let n = 0; n < 10; n++) recs.push(await j.append(envelope, [msg(n)], msg(n).length));
    expect((await j.segments()).length).toBeGreaterThan(2);
    const ids = [];
    for await (const r of j.scan({ segment: 0, offset: 0 })) ids.push(r.id);
    expect(ids).toEqual(recs.map((r) => r.id));
    await j.close();
  });

  it('refuses appends after close with SPOOL_CLOSED', async () => {
    const j = new Journal({ dir: tempDir() });
    await j.open();
    await j.close();
    await expect(j.append(envelope, [msg(1)], 1)).rejects.toMatchObject({ code: 'SPOOL_CLOSED' });
  });
});
