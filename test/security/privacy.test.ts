/**
 * Personal data never reaches a log line: guest names, phones, addresses,
 * bodies, whole extractions and credentials are redacted wherever a component
 * might bind them.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/index.ts';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, stream };
}

describe('log redaction', () => {
  it('redacts guest data, envelopes, bodies, extractions and secrets in bound fields', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    const personal = [
      '山田 太郎',
      'ヤマダ タロウ',
      '09012345678',
      'guest@example.jp',
      'デザートにメッセージ',
      's3cr3t-token',
    ];
    log.info(
      {
        guestName: personal[0],
        guestNameKana: personal[1],
        phone: personal[2],
        mailFrom: personal[3],
        notes: personal[4],
      },
      'flat',
    );
    log.info({ reservation: { guestName: personal[0], phone: personal[2], guest_name: personal[0] } }, 'nested');
    log.info(
      { row: { mail_from: personal[3], rcpt_to: `["${personal[3]}"]`, extraction: { guestName: personal[0] } } },
      'row',
    );
    log.info({ event: { outcome: { guestNameKana: personal[1], notes: personal[4] } } }, 'two levels');
    log.info(
      { changes: { phone: { from: personal[2], to: '0311112222' } }, payload: { guestName: personal[0] } },
      'change',
    );
    log.info({ body: personal[4], text: personal[4], subject: personal[0], raw: personal[0] }, 'content');
    log.info({ webhook: { secret: personal[5] }, http: { apiToken: personal[5] } }, 'settings');
    const out = lines.join('');
    expect(out).toContain('[redacted]');
    for (const p of personal) expect(out, `leaked ${p}`).not.toContain(p);
    expect(out).not.toContain('0311112222');
  });
});
