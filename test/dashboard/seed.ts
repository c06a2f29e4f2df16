/**
 * Data for the dashboard tests and screenshots, made the way production
 * makes it: real mails delivered over SMTP to a real node, and (for a dead
 * letter) a spool record whose bytes are corrupted on disk.
 */
import type { TestApp } from '../helpers/app.ts';
import { waitProcessed } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
export { corruptRecordBeforeStart, type CorruptRecord } from '../helpers/spool.ts';

import fs from 'node:fs';
import path from 'node:path';

export const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');

export function fixture(rel: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES, rel));
}

/** Delivers one mail to `store@intake.example` and waits until it is processed; returns its spool id. */
export async function send(
  app: TestApp,
  store: string,
  message: Buffer | string,
  from = 'forwarder@restaurant.example',
): Promise<string> {
  const { final } = await deliver(app.smtpPort, { from, to: [`${store}@intake.example`], message });
  if (final.code !== 250) throw new Error(`delivery refused: ${final.code} ${final.text}`);
  const id = queuedId(final);
  await waitProcessed(app, id);
  return id;
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
