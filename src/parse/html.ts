/**
 * HTML → text for notification mails. Reservation details in HTML mails sit in
 * tables (`<tr><th>人数</th><td>2名</td></tr>`); a generic converter loses the
 * pairing, this one writes every table row as one `label: value` line so the
 * label engine reads HTML and text mails alike.
 *
 * It is a single forward scan with `indexOf` (no regex over the document, no
 * backtracking), so a hostile 10 MB single-line HTML costs linear time.
 */

/** HTML longer than this (in UTF-16 code units) is cut before conversion: notifications are a few KB. */
export const MAX_HTML_CHARS = 1024 * 1024;

// Elements whose content is never text for a reader.
const SKIPPED_ELEMENTS = new Set(['script', 'style', 'head', 'title', 'template', 'noscript', 'svg']);
// Elements that start and end a line.
const BLOCK_ELEMENTS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'center',
  'dd',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figure',
  'footer',
  'form',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'ul',
  'caption',
  'thead',
  'tbody',
  'tfoot',
]);
// Block elements that also leave a blank line (paragraph breaks).
const PARAGRAPH_ELEMENTS = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'blockquote', 'pre']);
// Longest entity name we try to decode (`&thetasym;` is 10); bounds the scan after `&`.
const MAX_ENTITY_LENGTH = 12;
const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  yen: '¥',
  copy: '©',
  reg: '®',
  times: '×',
  divide: '÷',
  rarr: '→',
  larr: '←',
  rArr: '⇒',
  middot: '·',
  hellip: '…',
  ndash: '–',
  mdash: '—',
  laquo: '«',
  raquo: '»',
  ensp: ' ',
  emsp: ' ',
  thinsp: ' ',
  zwnj: '',
  zwj: '',
};

/**
 * Converts an HTML document to plain text: table rows become `cell1: cell2 cell3`
 * lines, block elements and `<br>` break lines, links keep their URL as
 * ` (URL)` when it differs from the link text (booking ids live in URLs),
 * entities are decoded, whitespace inside text collapses as a browser would.
 */
export function htmlToText(input: string): string {
  const html = input.length > MAX_HTML_CHARS ? input.slice(0, MAX_HTML_CHARS) : input;
  const lines: string[] = [];
  let line = '';
  // Cells seen in the current row, one counter per open table (layout tables nest).
  const cellCounts: number[] = [];
  let pendingHref: string | null = null;
  let linkTextStart = 0;

  // Inside a value cell (the second or later of a row), a <br> continues the
  // value: those lines are indented, as wrapped values are in text mails.
  const inValueCell = (): boolean => cellCounts.length > 0 && (cellCounts[cellCounts.length - 1] as number) > 1;
  let indentNext = false;
  // 'soft' ends a line (rows, divs); 'hard' also keeps one blank line (br on
  // an empty line, paragraphs); 'cell' is a <br> inside a value cell.
  const breakLine = (kind: 'soft' | 'hard' | 'cell' = 'soft'): void => {
    const trimmed = line.trim();
    if (trimmed !== '') lines.push(indentNext ? '  ' + trimmed : trimmed);
    else if (kind === 'hard' && lines.length > 0 && lines[lines.length - 1] !== '') lines.push('');
    indentNext = kind === 'cell' && (trimmed !== '' || indentNext);
    line = '';
  };
  const appendText = (raw: string): void => {
    const text = decodeEntities(raw);
    let out = '';
    let space = line === '' || line.endsWith(' ');
    for (let i = 0; i < text.length; i++) {
      const ch = text[i] as string;
      if (ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r' || ch === '\f') {
        if (!space) out += ' ';
        space = true;
      } else {
        out += ch;
        space = false;
      }
    }
    line += out;
  };

  let pos = 0;
  while (pos < html.length) {
    const lt = html.indexOf('<', pos);
    if (lt === -1) {
      appendText(html.slice(pos));
      break;
    }
    if (lt > pos) appendText(html.slice(pos, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      pos = end === -1 ? html.length : end + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt === -1) {
      appendText(html.slice(lt));
      break;
    }
    const tag = html.slice(lt + 1, gt);
    pos = gt + 1;
    const closing = tag.startsWith('/');
    const name = tagName(tag, closing ? 1 : 0);
    if (name === '') {
      // `<` not starting a tag (`a < b`, `<!DOCTYPE>`, `<?xml>`): text or noise.
      if (!tag.startsWith('!') && !tag.startsWith('?')) appendText('<' + tag + '>');
      continue;
    }
    if (SKIPPED_ELEMENTS.has(name) && !closing && !tag.endsWith('/')) {
      const end = indexOfIgnoreCase(html, '</' + name, pos);
      pos = end === -1 ? html.length : Math.max(pos, html.indexOf('>', end) + 1 || html.length);
      continue;
    }
    switch (name) {
      case 'br':
        breakLine(inValueCell() ? 'cell' : 'hard');
        break;
      case 'table':
        breakLine('hard');
        if (closing) cellCounts.pop();
        else cellCounts.push(0);
        break;
      case 'tr':
        breakLine();
        if (cellCounts.length > 0) cellCounts[cellCounts.length - 1] = 0;
        break;
      case 'td':
      case 'th': {
        if (closing || cellCounts.length === 0) break;
        const top = cellCounts.length - 1;
        const count = cellCounts[top] as number;
        if (count > 0 && line.trim() !== '') line = line.trimEnd() + (count === 1 ? ': ' : ' ');
        cellCounts[top] = count + 1;
        break;
      }
      case 'a':
        if (closing) {
          if (pendingHref !== null && !line.slice(linkTextStart).includes(pendingHref)) {
            appendText(' (' + pendingHref + ') ');
          }
          pendingHref = null;
        } else {
          pendingHref = attribute(tag, 'href');
          if (pendingHref !== null && !/^https?:/i.test(pendingHref)) pendingHref = null;
          linkTextStart = line.length;
        }
        break;
      case 'img': {
        const alt = attribute(tag, 'alt');
        if (alt) appendText(alt);
        break;
      }
      default:
        if (PARAGRAPH_ELEMENTS.has(name)) breakLine('hard');
        else if (BLOCK_ELEMENTS.has(name)) breakLine('soft');
    }
  }
  breakLine();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}

function tagName(tag: string, start: number): string {
  let end = start;
  while (end < tag.length) {
    const c = tag.charCodeAt(end);
    const isAlnum = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (end > start && c >= 0x30 && c <= 0x39);
    if (!isAlnum) break;
    end++;
  }
  return tag.slice(start, end).toLowerCase();
}

function indexOfIgnoreCase(haystack: string, needle: string, from: number): number {
  // Tag names in mail HTML are lower or upper case, rarely mixed: two probes keep it linear.
  const lower = haystack.indexOf(needle, from);
  const upper = haystack.indexOf(needle.toUpperCase(), from);
  if (lower === -1) return upper;
  if (upper === -1) return lower;
  return Math.min(lower, upper);
}

/** Value of a (quoted or bare) attribute inside a tag's source, entities decoded. */
function attribute(tag: string, attr: string): string | null {
  const lower = tag.toLowerCase();
  let at = lower.indexOf(attr + '=');
  while (at > 0 && !/\s/.test(lower[at - 1] as string)) at = lower.indexOf(attr + '=', at + 1);
  if (at <= 0) return null;
  let start = at + attr.length + 1;
  const quote = tag[start];
  let end: number;
  if (quote === '"' || quote === "'") {
    start++;
    end = tag.indexOf(quote, start);
    if (end === -1) end = tag.length;
  } else {
    end = start;
    while (end < tag.length && !/\s/.test(tag[end] as string)) end++;
  }
  return decodeEntities(tag.slice(start, end)).trim();
}

/** Decodes `&name;`, `&#NNN;` and `&#xHH;` entities; unknown ones stay as written. */
export function decodeEntities(text: string): string {
  let amp = text.indexOf('&');
  if (amp === -1) return text;
  let out = '';
  let pos = 0;
  while (amp !== -1) {
    out += text.slice(pos, amp);
    const semi = text.indexOf(';', amp + 1);
    let replacement: string | null = null;
    if (semi !== -1 && semi - amp <= MAX_ENTITY_LENGTH) {
      const body = text.slice(amp + 1, semi);
      if (body.startsWith('#')) {
        const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
        if (Number.isInteger(code) && code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)) {
          replacement = String.fromCodePoint(code);
        }
      } else if (Object.hasOwn(NAMED_ENTITIES, body)) {
        replacement = NAMED_ENTITIES[body] as string;
      }
    }
    if (replacement === null) {
      out += '&';
      pos = amp + 1;
    } else {
      out += replacement;
      pos = semi + 1;
    }
    amp = text.indexOf('&', pos);
  }
  return out + text.slice(pos);
}
