/**
 * The generic label → value engine. One pass over the lines of the body: each
 * line is split into a candidate label and a value (`■人数:2名`, `【人数】2名`,
 * `人数 : 2名`, `人数<TAB>2名`), the label is looked up exactly in the site's
 * alias table, and the first value per field wins. A label with no value on its
 * line takes the following lines (`■備考:` + indented text). Sections headed
 * 変更前 / 変更後 route values to "before" and "after" for change mails.
 */

import type { LabelField } from './types.ts';
import { labelKey } from './sites.ts';

/** Labels are short; a "label" longer than this (characters) is a sentence with a colon in it. */
const MAX_LABEL_CHARS = 24;
/** A value continues over at most this many following lines (notes wrapped at 36 columns). */
const MAX_CONTINUATION_LINES = 10;
// Decorations in front of a label.
const BULLETS = new Set([
  '■',
  '□',
  '◆',
  '◇',
  '●',
  '○',
  '・',
  '*',
  '-',
  '▼',
  '▽',
  '◎',
  '★',
  '☆',
  '▶',
  '►',
  '>',
  '+',
  '#',
  '|',
  '＊',
  '－',
  '＞',
  '＋',
  '＃',
  '｜',
]);
const CLOSING_BRACKET: Record<string, string> = {
  '【': '】',
  '[': ']',
  '<': '>',
  '《': '》',
  '≪': '≫',
  '〈': '〉',
  '『': '』',
  '「': '」',
  '〔': '〕',
  '(': ')',
  '［': '］',
  '＜': '＞',
  '（': '）',
  '｛': '｝',
};
// Label/value separators: the colon (ASCII and full-width) and a tab.
const SEPARATORS = new Set([':', '：', '\t']);
// Characters a rule line is made of (ASCII and full-width).
const RULE_CHARS = new Set(['━', '-', '=', '─', '*', '_', '~', '・', '■', '－', '＝', '＿', '～', '〜', '＊', '―']);

export type Section = 'main' | 'before';

export interface RawFields {
  /** Values of the message (for change mails: the new ones). */
  main: Partial<Record<LabelField, string>>;
  /** Values found under a 変更前 heading. */
  before: Partial<Record<LabelField, string>>;
}

export interface SplitLine {
  label: string;
  value: string;
}

/** Splits one line into label and value; null when the line has no label shape. */
export function splitLabelLine(line: string): SplitLine | null {
  let start = 0;
  while (start < line.length && (line[start] === ' ' || line[start] === '\t' || BULLETS.has(line[start] as string)))
    start++;
  if (start >= line.length) return null;
  const first = line[start] as string;
  const closing = CLOSING_BRACKET[first];
  if (closing !== undefined) {
    const end = line.indexOf(closing, start + 1);
    if (end > start + 1 && end - start - 1 <= MAX_LABEL_CHARS) {
      let value = line.slice(end + 1).trim();
      if (value.startsWith(':') || value.startsWith('：')) value = value.slice(1).trim();
      return { label: line.slice(start + 1, end), value };
    }
  }
  let sep = -1;
  for (let i = start; i < line.length && i - start <= MAX_LABEL_CHARS; i++) {
    if (SEPARATORS.has(line[i] as string)) {
      sep = i;
      break;
    }
  }
  if (sep <= start) return null;
  return { label: line.slice(start, sep), value: line.slice(sep + 1).trim() };
}

function isBlankOrRule(line: string): boolean {
  const t = line.trim();
  if (t === '') return true;
  if (t.length < 4) return false;
  const c = t[0] as string;
  if (!RULE_CHARS.has(c)) return false;
  for (let i = 1; i < t.length; i++) if (t[i] !== c) return false;
  return true;
}

function sectionOf(line: string): Section | 'after' | null {
  if (line.length > 30) return null;
  if (line.includes('変更前')) return 'before';
  if (line.includes('変更後')) return 'after';
  return null;
}

/**
 * Scans the body lines with a site's label table. Values are raw strings
 * (trimmed, multi-line values joined with `\n`); parsing them is the caller's.
 */
export function scanLabels(lines: string[], labels: Map<string, LabelField>): RawFields {
  const fields: RawFields = { main: {}, before: {} };
  let section: Section = 'main';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const split = splitLabelLine(line);
    const field = split ? labels.get(labelKey(split.label)) : undefined;
    if (!split || field === undefined) {
      // Section headings are short label-less lines (【変更前】, ■変更後のご予約内容).
      const heading = sectionOf(line.trim());
      if (heading !== null && (!split || split.value === '')) section = heading === 'after' ? 'main' : 'before';
      continue;
    }
    const parts: string[] = split.value === '' ? [] : [split.value];
    const indentedOnly = split.value !== '';
    let j = i + 1;
    for (; j < lines.length && j <= i + MAX_CONTINUATION_LINES; j++) {
      const next = lines[j] as string;
      if (isBlankOrRule(next)) break;
      // A value on the label's own line continues only over indented lines.
      if (indentedOnly && !(next.startsWith(' ') || next.startsWith('\t'))) break;
      const nextSplit = splitLabelLine(next);
      if (nextSplit && labels.has(labelKey(nextSplit.label))) break;
      if (sectionOf(next.trim()) !== null) break;
      parts.push(next.trim());
    }
    if (parts.length > 0) {
      i = j - 1;
      const target = fields[section];
      target[field] ??= parts.join('\n');
    }
  }
  return fields;
}
