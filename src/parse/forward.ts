/**
 * Unwrapping of mail forwarded "inline": a restaurant forwards a site's
 * notification by hand, so the site's message is quoted inside the body under
 * a separator and a small header block. The inner message is what counts.
 */

import { parseQuotedHeaderDate } from './datetime.ts';

export interface InlineForward {
  from: { address: string; name: string } | null;
  subject: string | null;
  date: Date | null;
  /** The quoted message's body, without the separator and header block. */
  body: string;
  /** The line (of the searched text) the quoted body starts at. */
  bodyStart: number;
  /** True when the body lines carried `>` quote marks, which `body` has lost. */
  quoted: boolean;
}

// Separator lines of the common clients, compared case-insensitively after the
// dashes/underscores around them are trimmed.
const SEPARATOR_KEYWORDS = [
  'forwarded message', // Gmail
  'original message', // Thunderbird, Outlook
  '転送メッセージ', // Thunderbird ja
  '転送されたメッセージ',
  'begin forwarded message', // Apple Mail
  'message transféré',
];
// How far below a separator the header block may start (blank lines, a rule).
const MAX_LINES_BEFORE_HEADERS = 3;
// Header blocks are short; a longer run of "Key: value" lines is not one.
const MAX_HEADER_LINES = 12;

type HeaderKey = 'from' | 'subject' | 'date' | 'to' | 'cc';
const HEADER_KEYS: Record<string, HeaderKey> = {
  from: 'from',
  差出人: 'from',
  送信者: 'from',
  subject: 'subject',
  件名: 'subject',
  date: 'date',
  sent: 'date',
  送信日時: 'date',
  日付: 'date',
  to: 'to',
  宛先: 'to',
  cc: 'cc',
};

/**
 * Finds the first inline-forwarded message in (normalised) body text: a
 * separator line (`---------- Forwarded message ---------`, `-----Original
 * Message-----`, `転送メッセージ`, `Begin forwarded message:`) or an
 * Outlook-style `From:/差出人:` … `Subject:/件名:` block. Returns null when the
 * text holds no forward.
 */
export function findInlineForward(text: string): InlineForward | null {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = stripQuote(lines[i] as string);
    if (isSeparator(line)) {
      for (let j = i + 1; j <= i + 1 + MAX_LINES_BEFORE_HEADERS && j < lines.length; j++) {
        const candidate = stripQuote(lines[j] as string);
        if (candidate === '' || isRule(candidate)) continue;
        const block = readHeaderBlock(lines, j);
        if (block) return block;
        break;
      }
      continue;
    }
    const key = headerKeyOf(line);
    if (key === 'from') {
      const block = readHeaderBlock(lines, i);
      if (block && block.subject !== null) return block;
    }
  }
  return null;
}

function stripQuote(line: string): string {
  let s = line;
  while (s.startsWith('>')) s = s.slice(s.startsWith('> ') ? 2 : 1);
  return s.trim();
}

function isRule(line: string): boolean {
  if (line.length < 5) return false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== '_' && c !== '-' && c !== '=' && c !== '━' && c !== '─') return false;
  }
  return true;
}

function isSeparator(line: string): boolean {
  if (line.length > 80) return false;
  const core = trimRuleChars(line).toLowerCase().replace(/:$/, '').trim();
  return SEPARATOR_KEYWORDS.includes(core);
}

function trimRuleChars(line: string): string {
  let start = 0;
  let end = line.length;
  while (start < end && (line[start] === '-' || line[start] === '_' || line[start] === ' ')) start++;
  while (end > start && (line[end - 1] === '-' || line[end - 1] === '_' || line[end - 1] === ' ')) end--;
  return line.slice(start, end);
}

function headerKeyOf(line: string): HeaderKey | null {
  const colon = line.indexOf(':');
  if (colon <= 0 || colon > 12) return null;
  const key = line.slice(0, colon).trim().toLowerCase();
  return HEADER_KEYS[key] ?? null;
}

function readHeaderBlock(lines: string[], start: number): InlineForward | null {
  const values: Partial<Record<HeaderKey, string>> = {};
  let i = start;
  let count = 0;
  while (i < lines.length && count < MAX_HEADER_LINES) {
    const line = stripQuote(lines[i] as string);
    const key = headerKeyOf(line);
    if (key === null) break;
    values[key] ??= line.slice(line.indexOf(':') + 1).trim();
    i++;
    count++;
  }
  if (values.from === undefined && values.subject === undefined) return null;
  // The quoted body starts after the blank line that ends the header block.
  while (i < lines.length && stripQuote(lines[i] as string) === '') i++;
  const quoted = lines.slice(i).some((l) => l.startsWith('>'));
  const bodyLines = quoted ? lines.slice(i).map(stripQuoteKeepIndent) : lines.slice(i);
  return {
    from: values.from !== undefined ? parseQuotedAddress(values.from) : null,
    subject: values.subject ?? null,
    date: values.date !== undefined ? parseQuotedHeaderDate(values.date) : null,
    body: bodyLines.join('\n'),
    bodyStart: i,
    quoted,
  };
}

function stripQuoteKeepIndent(line: string): string {
  let s = line;
  // The full-width mark is for text that was not NFKC-normalised (see sliceForward).
  while (s.startsWith('>') || s.startsWith('＞')) s = s.slice(s.startsWith('> ') || s.startsWith('＞ ') ? 2 : 1);
  return s;
}

/**
 * Applies a forward found in one text to another text with the same lines
 * (the as-written text beside the normalised one): the same body lines, with
 * quote marks removed the same way.
 */
export function sliceForward(text: string, found: InlineForward): string {
  const lines = text.split('\n').slice(found.bodyStart);
  return (found.quoted ? lines.map(stripQuoteKeepIndent) : lines).join('\n');
}

/**
 * Splits a quoted From value: `食べログ <info@tabelog.com>`, `"Name" <a@b>`,
 * Outlook's `食べログ [mailto:info@tabelog.com]`, or a bare address.
 */
export function parseQuotedAddress(value: string): { address: string; name: string } | null {
  let address = '';
  let name = value;
  const angle = value.lastIndexOf('<');
  const mailto = value.toLowerCase().lastIndexOf('[mailto:');
  if (angle !== -1 && value.indexOf('>', angle) !== -1) {
    address = value.slice(angle + 1, value.indexOf('>', angle));
    name = value.slice(0, angle);
  } else if (mailto !== -1 && value.indexOf(']', mailto) !== -1) {
    address = value.slice(mailto + 8, value.indexOf(']', mailto));
    name = value.slice(0, mailto);
  } else {
    const token = value.split(/\s+/).find((t) => t.includes('@'));
    if (token) {
      address = token;
      name = value.replace(token, '');
    }
  }
  address = address
    .replace(/^mailto:/i, '')
    .trim()
    .toLowerCase();
  name = name
    .trim()
    .replace(/^"(.*)"$/, '$1')
    .trim();
  if (!address.includes('@')) return name ? { address: '', name } : null;
  return { address, name };
}
