/**
 * Text normalisation shared by parsing and extraction. Sites write the same
 * thing many ways (full-width digits and colons, half-width katakana, three
 * different wave dashes); matching is only simple and linear when all of them
 * are folded into one form first.
 */

/**
 * The most text we keep of one message body, in UTF-16 code units. Real
 * notifications are 2–10 KB; anything far larger is a newsletter, an attack or
 * a mistake, and everything downstream (line scans, regexes) stays cheap when
 * its input is bounded.
 */
export const MAX_TEXT_CHARS = 256 * 1024;

// Wave dashes that NFKC leaves alone (U+301C WAVE DASH, U+223C TILDE OPERATOR,
// U+2053 SWUNG DASH); U+FF5E FULLWIDTH TILDE already becomes "~" under NFKC.
const WAVE_DASHES = /[\u301c\u223c\u2053]/g;
// Zero-width characters and BOMs that some HTML mailers sprinkle between labels.
const INVISIBLES = /[\u200b-\u200d\u2060\ufeff]/g;
// Horizontal whitespace other than a plain space (tabs are kept: they separate cells).
const ODD_SPACES = /[\u00a0\u2000-\u200a\u202f\u205f\u3000\v\f]/g;

/**
 * The text as written, only made regular: cut at {@link MAX_TEXT_CHARS},
 * CRLF/CR become LF, zero-width characters go, odd spaces (U+3000 included)
 * become one space, trailing spaces are removed. No NFKC: `①`, `㈱` and
 * full-width text stay as the sender wrote them. It has exactly the lines of
 * {@link normalizeText} of the same input, so a line found in one is the same
 * line in the other.
 */
export function foldText(input: string): string {
  const capped = input.length > MAX_TEXT_CHARS ? input.slice(0, MAX_TEXT_CHARS) : input;
  return capped
    .replace(/\r\n?/g, '\n')
    .replace(INVISIBLES, '')
    .replace(ODD_SPACES, ' ')
    .split('\n')
    .map(trimLineEnd)
    .join('\n');
}

/**
 * NFKC-normalises text and folds the variants that NFKC keeps: wave dashes
 * become `~`, odd spaces become one space, CRLF/CR become LF, trailing spaces
 * are removed. Full-width digits, letters, colons and parentheses become ASCII
 * and half-width katakana full-width (that is NFKC itself). The result is cut
 * at {@link MAX_TEXT_CHARS}. This is the form text is matched in; values a
 * person reads are taken from {@link foldText} instead.
 */
export function normalizeText(input: string): string {
  return foldText(input)
    .normalize('NFKC')
    .replace(WAVE_DASHES, '~')
    .replace(ODD_SPACES, ' ')
    .split('\n')
    .map(trimLineEnd)
    .join('\n');
}

// A per-line trimEnd: a /[ \t]+$/m regex would be quadratic on a long run of
// spaces that does not end a line.
function trimLineEnd(line: string): string {
  return line.trimEnd();
}

/** Normalises a one-line value (header, label value): {@link normalizeText} plus collapsed, trimmed whitespace. */
export function normalizeInline(input: string): string {
  return normalizeText(input).replace(/\s+/g, ' ').trim();
}
