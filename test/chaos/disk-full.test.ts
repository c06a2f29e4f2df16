import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { startTestApp, tempDir, waitProcessed, type TestApp } from '../helpers/app.ts';
import { Journal } from '../../src/spool/index.ts';

/** A real, small file system: the spool and database fill it for real (needs root, as CI has). */
const DISK_BYTES = 6 * 1024 * 1024;
const MESSAGE_BYTES = 256 * 1024;

function mailOf(n: number): string {
  const line = `${'x'.repeat(76)}\r\n`;
  return `Message-ID: <full-${n}@sender.example>\r\nFrom: a@sender.example\r\nTo: shop@intake.example\r\nSubject: fill ${n}\r\n\r\n${line.repeat(Math.floor(MESSAGE_BYTES / line.length))}`;
}

describe('disk full on a real space-limited file system', () => {
  let mount: string;
  let app: TestApp;
  let filler: string;

  beforeAll(async () => {
    mount = tempDir('ota-tmpfs-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', mount]);
    } catch (err) {
      throw new Error(
        `this test mounts a ${DISK_BYTES}-byte tmpfs and must run as root (CI does): ${(err as Error).message}`,
        { cause: err },
      );
    }
    // A file that takes space now and is deleted later: "space returns".
    filler = path.join(mount, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(3 * 1024 * 1024));
    const certs = tempDir();
    app = await startTestApp({
      dataDir: path.join(mount, 'data'),
      certsDir: certs,
      'smtp.minFreeBytes': 0,
      'smtp.maxMessageBytes': 1024 * 1024,
    });
  });

  afterAll(async () => {
    await app?.stop();
    execFileSync('umount', [mount]);
  });

  it('answers 452 4.3.1 when a write hits ENOSPC, leaves no partial record, and accepts again once space returns', async () => {
    const accepted: string[] = [];
    let refusal: Awaited<ReturnType<typeof deliver>>['final'] | null = null;
    for (let n = 0; n < 40 && !refusal; n++) {
      const { final } = await deliver(app.smtpPort, { to: ['shop@intake.example'], message: mailOf(n) });
      if (final.code === 250) accepted.push(queuedId(final));
      else refusal = final;
    }
    expect(refusal, 'the disk never filled').not.toBeNull();
    expect(refusal!.code).toBe(452);
    expect(refusal!.text).toMatch(/^4\.3\.1 /);

    // Nothing half-written: a fresh reader of the journal finds exactly the accepted records.
    const reader = new Journal({ dir: app.spool.dir });
    const ids: string[] = [];
    const endOfSegment = new Map<number, number>();
    for await (const r of reader.scan({ segment: 0, offset: 0 })) {
      expect(r.kind, 'no damaged span').toBe('record');
      if (r.kind !== 'record') continue;
      ids.push(r.id);
      endOfSegment.set(r.ref.segment, r.end);
    }
    expect(ids).toEqual(accepted);
    // Every segment ends exactly where its last complete record ends: no torn bytes.
    for (const f of fs.readdirSync(app.spool.dir).filter((n) => n.endsWith('.seg'))) {
      expect(fs.statSync(path.join(app.spool.dir, f)).size).toBe(endOfSegment.get(Number(f.slice(0, 12))) ?? 0);
    }

    fs.rmSync(filler);
    app.spool.invalidateFreeSpace();
    const again = await deliver(app.smtpPort, { to: ['shop@intake.example'], message: mailOf(999) });
    expect(again.final.code).toBe(250);
    accepted.push(queuedId(again.final));
    for (const id of accepted) expect((await waitProcessed(app, id)).state).not.toBe('dead');
  });
});
