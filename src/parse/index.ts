/**
 * Raw RFC 5322 bytes → the few things extraction needs: who sent it (and who
 * sent the message inside a forward), when, the subject, and one normalised
 * body text. Runs inside worker threads, so it never logs; it reports what it
 * had to repair in `warnings`.
 */

import { MailParser } from 'mailparser';
import type { AddressObject, MailParserOptions } from 'mailparser';
import { decodeJisEscapes } from './charset.ts';
import { findInlineForward, sliceForward } from './forward.ts';
import { htmlToText } from './html.ts';
import { MAX_TEXT_CHARS, foldText, normalizeInline, normalizeText } from './normalize.ts';

export { normalizeText, normalizeInline, foldText, MAX_TEXT_CHARS } from './normalize.ts';
export { htmlToText, decodeEntities } from './html.ts';
export { decodeJisEscapes, hasJisEscapes } from './charset.ts';
export { findInlineForward, parseQuotedAddress, sliceForward } from './forward.ts';
export type { InlineForward } from './forward.ts';
export {
  findDate,
  findTime,
  formatDate,
  inferYear,
  isValidDate,
  parseQuotedHeaderDate,
  JST_OFFSET_MS,
  YEAR_INFERENCE_PAST_DAYS,
} from './datetime.ts';
export type { DateParts, TimeMatch } from './datetime.ts';

/** One mailbox: the address lower-cased, the display name decoded ('' when none). */
export interface MailAddress {
  address: string;
  name: string;
}

/** How the relevant message was found inside the delivered one. */
export type ForwardKind = 'attachment' | 'inline';

/** The parsed message, reduced to what classification and extraction use. */
export interface ParsedMessage {
  /** Message-ID of the delivered (outer) message, angle brackets included; null when absent. */
  messageId: string | null;
  /** Message-ID of a message forwarded as a `message/rfc822` attachment; null otherwise. */
  innerMessageId: string | null;
  /** Date of the relevant message: the forwarded one's when it has a usable Date, else the outer one's. */
  date: Date | null;
  /** Date header of the delivered message. */
  outerDate: Date | null;
  /** Subject of the relevant message, normalised to one line ('' when none). */
  subject: string;
  /** Subject of the delivered message. */
  outerSubject: string;
  /** Sender of the relevant message (the inner From of a forward). */
  from: MailAddress | null;
  /** From header of the delivered message. */
  outerFrom: MailAddress | null;
  /** To addresses of the delivered message. */
  to: MailAddress[];
  forwarded: boolean;
  forwardKind: ForwardKind | null;
  /** Body text of the relevant message: decoded, NFKC-normalised, at most MAX_TEXT_CHARS. */
  text: string;
  /**
   * The same body as written (no NFKC: `①`, `㈱`, full-width text kept), line
   * for line the same as `text`: values a person reads are taken from here.
   */
  rawText: string;
  /** True when `text` was converted from the HTML part (no usable text/plain). */
  htmlDerived: boolean;
  /** Repairs and limits applied, as stable short codes (`jis-escapes-decoded`, `text-truncated`, …). */
  warnings: string[];
}

/** How many forwards deep we unwrap (a forward of a forward of a notification is real; deeper is not). */
export const MAX_FORWARD_DEPTH = 3;
/**
 * The largest attached `message/rfc822` we buffer to parse as the forwarded
 * message, in bytes. Notifications are a few KB; a forwarded 20 MB mail with
 * photos is not a notification and is not worth holding in memory.
 */
export const MAX_FORWARDED_MESSAGE_BYTES = 2 * 1024 * 1024;
/**
 * A text/plain alternative shorter than this (in characters, trimmed) is a
 * placeholder ("HTMLメールをご覧ください") and the HTML part is read instead.
 */
const MIN_USEFUL_TEXT_CHARS = 40;
// Placeholders that say "read the HTML" can be longer than MIN_USEFUL_TEXT_CHARS.
const MAX_PLACEHOLDER_TEXT_CHARS = 400;

const PARSER_OPTIONS: MailParserOptions = {
  // Our own linear converter keeps table rows as "label: value" lines; the
  // library's html-to-text is slower and loses the pairing.
  skipHtmlToText: true,
  skipImageLinks: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  // Attachments are drained unread; hashing them would only burn CPU.
  checksumAlgo: false,
  // Every message/rfc822 part comes out as an attachment, which we parse
  // ourselves: that gives the forwarded message's own headers, not a text blob.
  ignoreEmbedded: true,
};

interface RawParts {
  subject: string;
  date: Date | null;
  messageId: string | null;
  from: MailAddress | null;
  to: MailAddress[];
  text: string;
  html: string;
  attachedMessage: Buffer | null;
  warnings: string[];
}

/**
 * Parses a raw message. Unwraps forwards (attached `message/rfc822` or inline
 * quoted, up to {@link MAX_FORWARD_DEPTH} levels), decodes charsets
 * mailparser leaves alone (unlabelled ISO-2022-JP), prefers text/plain over
 * HTML unless the plain part is a placeholder, and normalises the body.
 * Rejects only when mailparser itself fails on the outer message.
 */
export async function parseMessage(raw: Buffer): Promise<ParsedMessage> {
  const outer = await readParts(raw);
  const warnings = [...outer.warnings];
  let relevant = outer;
  let forwardKind: ForwardKind | null = null;
  let innerMessageId: string | null = null;
  let depth = 0;
  while (relevant.attachedMessage !== null && depth < MAX_FORWARD_DEPTH) {
    try {
      const inner = await readParts(relevant.attachedMessage);
      warnings.push(...inner.warnings);
      relevant = inner;
      forwardKind = 'attachment';
      innerMessageId = inner.messageId;
      depth++;
    } catch {
      // A broken attachment is no reason to lose the message: keep what we have.
      warnings.push('forward-attachment-unparsable');
      break;
    }
  }
  if (relevant.attachedMessage !== null) warnings.push('forward-depth-exceeded');

  const body = chooseBody(relevant, warnings);
  let text = body.text;
  let rawText = body.rawText;
  let subject = normalizeInline(relevant.subject);
  let from = relevant.from;
  let date = relevant.date;
  for (; depth < MAX_FORWARD_DEPTH; depth++) {
    const inline = findInlineForward(text);
    if (!inline) break;
    forwardKind ??= 'inline';
    rawText = sliceForward(rawText, inline);
    text = inline.body;
    if (inline.subject !== null) subject = normalizeInline(inline.subject);
    if (inline.from !== null) from = inline.from;
    // A quoted Date we cannot read leaves the last known one (the forwarder's)
    // as the reference for year inference: close in time, never far off.
    if (inline.date !== null) date = inline.date;
  }

  return {
    messageId: outer.messageId,
    innerMessageId,
    date: date ?? outer.date,
    outerDate: outer.date,
    subject,
    outerSubject: normalizeInline(outer.subject),
    from,
    outerFrom: outer.from,
    to: outer.to,
    forwarded: forwardKind !== null,
    forwardKind,
    text,
    rawText,
    htmlDerived: body.htmlDerived,
    warnings,
  };
}

function chooseBody(parts: RawParts, warnings: string[]): { text: string; rawText: string; htmlDerived: boolean } {
  const plain = parts.text;
  if (plain.length > MAX_TEXT_CHARS) warnings.push('text-truncated');
  const trimmedLength = plain.trim().length;
  const placeholder =
    trimmedLength < MIN_USEFUL_TEXT_CHARS || (trimmedLength < MAX_PLACEHOLDER_TEXT_CHARS && /HTML/i.test(plain));
  if (placeholder && parts.html.trim() !== '') {
    const html = htmlToText(parts.html);
    const converted = normalizeText(html);
    if (converted.trim().length > trimmedLength) return { text: converted, rawText: foldText(html), htmlDerived: true };
  }
  return { text: normalizeText(plain), rawText: foldText(plain), htmlDerived: false };
}

async function readParts(raw: Buffer): Promise<RawParts> {
  const parser = new MailParser(PARSER_OPTIONS);
  let text = '';
  let html = '';
  let attachedMessage: Buffer | null = null;
  const warnings: string[] = [];

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve();
    };
    parser.on('error', (err: Error) => settle(err));
    parser.on('end', () => settle());
    parser.on('data', (data: { type: string } & Record<string, unknown>) => {
      if (data.type === 'text') {
        if (typeof data.text === 'string') text = data.text;
        if (typeof data.html === 'string') html = data.html;
        return;
      }
      if (data.type !== 'attachment') return;
      const content = data.content as NodeJS.ReadableStream;
      const release = data.release as (() => void) | null;
      const keep = data.contentType === 'message/rfc822' && attachedMessage === null;
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      // Every attachment is read to its end (else the parser stalls); only the
      // first forwarded message is kept, and only while it stays small.
      content.on('data', (chunk: Buffer) => {
        if (!keep || tooLarge) return;
        size += chunk.length;
        if (size > MAX_FORWARDED_MESSAGE_BYTES) {
          tooLarge = true;
          chunks.length = 0;
        } else {
          chunks.push(chunk);
        }
      });
      content.on('end', () => {
        if (keep && !tooLarge) attachedMessage = Buffer.concat(chunks, size);
        if (keep && tooLarge) warnings.push('forward-attachment-too-large');
        if (release) release();
      });
    });
    parser.end(raw);
  });

  const subject = parser.subject ?? '';
  const decodedSubject = decodeJisEscapes(subject);
  if (decodedSubject !== subject) warnings.push('jis-escapes-decoded');
  const decodedText = decodeJisEscapes(text);
  const decodedHtml = decodeJisEscapes(html);
  if ((decodedText !== text || decodedHtml !== html) && !warnings.includes('jis-escapes-decoded')) {
    warnings.push('jis-escapes-decoded');
  }
  const date = parser.date instanceof Date && !Number.isNaN(parser.date.getTime()) ? parser.date : null;
  return {
    subject: decodedSubject,
    date,
    messageId: parser.messageId ?? null,
    from: firstAddress(parser.from),
    to: addresses(parser.to),
    text: decodedText,
    html: decodedHtml,
    attachedMessage,
    warnings,
  };
}

function addresses(header: AddressObject | AddressObject[] | undefined): MailAddress[] {
  if (!header) return [];
  const out: MailAddress[] = [];
  for (const obj of Array.isArray(header) ? header : [header]) {
    for (const entry of obj.value) {
      // Groups (`undisclosed-recipients:;`) carry their members in `group`.
      for (const member of entry.group ?? [entry]) {
        if (member.address) {
          out.push({
            address: member.address.toLowerCase(),
            name: normalizeInline(decodeJisEscapes(member.name ?? '')),
          });
        }
      }
    }
  }
  return out;
}

function firstAddress(header: AddressObject | undefined): MailAddress | null {
  return addresses(header)[0] ?? null;
}
