/**
 * Generated benchmark mails: a 25 MB reservation with attachments, and the
 * three hostile shapes of the `hostile` scenario (deep nesting, huge header, one 10 MB HTML
 * line). All are built as plain CRLF text from fixed parts, so a run is
 * reproducible apart from the random attachment bytes.
 */
import { randomBytes } from 'node:crypto';
import { toCrlf } from './smtp-load.ts';

const CRLF = '\r\n';
const BASE64_LINE = 76;

/** Split a CRLF message into its header block (without the blank line) and body. */
function splitMessage(raw: Buffer): { header: string; body: Buffer } {
  const at = raw.indexOf('\r\n\r\n', 0, 'latin1');
  if (at === -1) return { header: raw.toString('latin1'), body: Buffer.alloc(0) };
  return { header: raw.subarray(0, at).toString('latin1'), body: raw.subarray(at + 4) };
}

/** Header fields (unfolded groups of lines), in order. */
function fields(header: string): string[] {
  const out: string[] = [];
  for (const line of header.split(CRLF)) {
    if (/^[ \t]/.test(line) && out.length) out[out.length - 1] += CRLF + line;
    else out.push(line);
  }
  return out;
}

function base64Lines(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += BASE64_LINE) lines.push(b64.slice(i, i + BASE64_LINE));
  return lines.join(CRLF);
}

/**
 * The standard bench mail wrapped in multipart/mixed with base64 attachments,
 * `targetBytes` long in all (within a few hundred bytes): the reservation is
 * still recognisable, so it should end processed like the small mail.
 */
export function bigMail(benchRaw: Buffer, targetBytes: number, attachments = 4): Buffer {
  const { header, body } = splitMessage(toCrlf(benchRaw));
  const kept = fields(header).filter((f) => !/^(content-type|mime-version|content-transfer-encoding):/i.test(f));
  const ctype =
    fields(header).find((f) => /^content-type:/i.test(f)) ?? 'Content-Type: text/plain; charset=ISO-2022-JP';
  const boundary = `big-mixed-${randomBytes(6).toString('hex')}`;
  const head = Buffer.from(
    [
      ...kept,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      ctype,
      '',
      '',
    ].join(CRLF),
    'latin1',
  );
  const partHeader = (n: number): string =>
    [
      ``,
      `--${boundary}`,
      `Content-Type: application/pdf; name="floor-plan-${n}.pdf"`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="floor-plan-${n}.pdf"`,
      '',
      '',
    ].join(CRLF);
  const closing = `${CRLF}--${boundary}--${CRLF}`;
  const overhead = head.length + body.length + attachments * Buffer.byteLength(partHeader(0)) + closing.length + 64;
  // base64 is 4/3 of the raw size plus a CRLF per 76 characters.
  const encodedEach = Math.max(0, Math.floor((targetBytes - overhead) / attachments));
  const rawEach = Math.floor((((encodedEach * BASE64_LINE) / (BASE64_LINE + 2)) * 3) / 4);
  const parts: Buffer[] = [head, body];
  for (let n = 1; n <= attachments; n++)
    parts.push(Buffer.from(partHeader(n), 'latin1'), Buffer.from(base64Lines(randomBytes(rawEach)), 'latin1'));
  parts.push(Buffer.from(closing, 'latin1'));
  return Buffer.concat(parts);
}

/**
 * A mail whose single text body is `targetBytes` long: unlike attachments
 * (streamed past), a text body becomes strings in the parser's heap, so it
 * reliably exhausts a small worker heap.
 */
export function bigTextMail(benchRaw: Buffer, targetBytes: number): Buffer {
  const { header } = splitMessage(toCrlf(benchRaw));
  const kept = fields(header).filter((f) => !/^(content-type|mime-version|content-transfer-encoding):/i.test(f));
  const head = Buffer.from(
    [
      ...kept,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=UTF-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      '',
    ].join(CRLF),
    'latin1',
  );
  const line = Buffer.from(`${'■予約番号：GN-2026-1220-0047153 '.repeat(2)}${CRLF}`, 'utf8');
  const lines = Math.max(1, Math.floor((targetBytes - head.length) / line.length));
  return Buffer.concat([head, ...Array.from({ length: lines }, () => line)]);
}

function hostileHeader(subject: string, extra: string[] = []): string[] {
  return [
    'Date: Tue, 24 Nov 2026 10:14:37 +0900',
    'From: attacker@hostile.example',
    'To: sakura-ginza@intake.example',
    `Subject: ${subject}`,
    `Message-ID: <hostile.${randomBytes(6).toString('hex')}@hostile.example>`,
    'MIME-Version: 1.0',
    ...extra,
  ];
}

/** multipart/mixed nested `depth` levels deep, a short text part at the bottom. */
export function deepNestingMail(depth: number): Buffer {
  const lines = hostileHeader(`nested ${depth}`, [`Content-Type: multipart/mixed; boundary="n0"`, '']);
  for (let i = 0; i < depth; i++) {
    lines.push(`--n${i}`);
    if (i + 1 < depth) lines.push(`Content-Type: multipart/mixed; boundary="n${i + 1}"`, '');
  }
  lines.push('Content-Type: text/plain; charset=UTF-8', '', 'bottom of the nesting');
  for (let i = depth - 1; i >= 0; i--) lines.push(`--n${i}--`);
  lines.push('');
  return Buffer.from(lines.join(CRLF), 'utf8');
}

/** A header section of about `bytes` (many short fields), then a short body. */
export function hugeHeaderMail(bytes: number): Buffer {
  const lines = hostileHeader('huge header', ['Content-Type: text/plain; charset=UTF-8']);
  let size = lines.reduce((n, l) => n + l.length + 2, 0);
  const filler = 'x'.repeat(60);
  for (let i = 0; size < bytes; i++) {
    const l = `X-Filler-${i}: ${filler}`;
    lines.push(l);
    size += l.length + 2;
  }
  lines.push('', 'body after a huge header', '');
  return Buffer.from(lines.join(CRLF), 'utf8');
}

/** A text/html body of about `bytes` on one single line (8bit, no line breaks). */
export function singleLineHtmlMail(bytes: number): Buffer {
  const head = hostileHeader('single-line html', [
    'Content-Type: text/html; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    '',
  ]).join(CRLF);
  const cell = '<tr><td>予約番号：</td><td><b>GN-0000</b></td></tr>';
  const open = '<html><body><table>';
  const close = '</table></body></html>';
  const n = Math.max(1, Math.floor((bytes - open.length - close.length) / Buffer.byteLength(cell)));
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(open + cell.repeat(n) + close + CRLF, 'utf8')]);
}
