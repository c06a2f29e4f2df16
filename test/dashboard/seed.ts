/**
 * Data for the dashboard tests and screenshots, made the way production
 * makes it: real mails delivered over SMTP to a real node, and (for a dead
 * letter) a spool record whose bytes are corrupted on disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Journal, type Envelope } from '../../src/spool/index.ts';
import type { TestApp } from '../helpers/app.ts';
import { waitProcessed } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';

export const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');

export function fixture(rel: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES, rel));
}

/** Delivers one mail to `store@intake.example` and waits until it is processed; returns its spool id. */
export async function send(app: TestApp, store: string, message: Buffer | string, from = 'forwarder@restaurant.example'): Promise<string> {
  const { final } = await deliver(app.smtpPort, { from, to: [`${store}@intake.example`], message });
  if (final.code !== 250) throw new Error(`delivery refused: ${final.code} ${final.text}`);
  const id = queuedId(final);
  await waitProcessed(app, id);
  return id;
}

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
 * dead-letters it with SPOOL_CORRUPT when it starts (as in
 * test/pipeline/healing.test.ts).
 */
export async function corruptRecordBeforeStart(dir: string, raw: Buffer, next: Buffer, store: string, clock?: () => number): Promise<CorruptRecord> {
  const spoolDir = path.join(dir, 'data', 'spool');
  const journal = new Journal({ dir: spoolDir, clock });
  await journal.open();
  const env: Envelope = { mailFrom: 'noreply-rsv@tabelog.com', rcptTo: [`${store}@intake.example`], clientIp: '127.0.0.1', helo: 'mx.tabelog.example', tls: null, store, quarantined: false, sessionId: 'seed' };
  const rec = await journal.append(env, [raw], raw.length);
  const rec2 = await journal.append(env, [next], next.length);
  await journal.close();
  const seg = path.join(spoolDir, fs.readdirSync(spoolDir).find((f) => f.endsWith('.seg'))!);
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

/** A Gmail forwarding confirmation (a person must enter the code). */
export function gmailVerification(code = '804413977', to = 'ginza@intake.example'): string {
  return [
    'From: Gmail Team <forwarding-noreply@google.com>',
    `To: ${to}`,
    `Subject: (#${code}) Gmail Forwarding Confirmation - Receive Mail from tencho@ginza.example`,
    'Date: Sun, 1 Nov 2026 09:00:00 +0900',
    `Message-ID: <verify-${code}@google.com>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    '',
    `tencho@ginza.example has requested to automatically forward mail to your email`,
    `address ${to}.`,
    `Confirmation code: ${code}`,
    '',
    'To allow tencho@ginza.example to automatically forward mail to your address,',
    'please click the link below to confirm the request:',
    '',
    `https://mail-settings.google.com/mail/vf-%5BANGjdJ${code}%5D`,
    '',
  ].join('\r\n');
}
