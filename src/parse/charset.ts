/**
 * Repair for ISO-2022-JP text that reached us undecoded. mailparser decodes a
 * body by its `charset=` label; Japanese mailers that leave the label out (or
 * headers written in raw JIS instead of RFC 2047) come out as ASCII with
 * `ESC $ B … ESC ( B` escapes in it. Those escapes are unambiguous, so we can
 * detect them and decode the text ourselves.
 */

const ESC = '\u001b';
// The designations ISO-2022-JP uses: ESC $ B / ESC $ @ (JIS X 0208),
// ESC ( J (JIS X 0201 Roman), ESC ( I (half-width katakana, CP50221).
const JIS_DESIGNATIONS = ['\u001b$B', '\u001b$@', '\u001b(J', '\u001b(I'];

// WHATWG's iso-2022-jp decoder (full ICU in Node) also maps the NEC row 13
// (①, ㈱) and the NEC-selected IBM extensions (髙, 﨑) that Japanese mailers emit.
const jisDecoder = new TextDecoder('iso-2022-jp');

/** True when the string carries ISO-2022-JP escape sequences, i.e. was never decoded. */
export function hasJisEscapes(text: string): boolean {
  if (!text.includes(ESC)) return false;
  return JIS_DESIGNATIONS.some((seq) => text.includes(seq));
}

/**
 * Decodes ISO-2022-JP escapes left in a string. Returns the input unchanged
 * when it has none, or when it holds characters above U+00FF (then it was
 * decoded already, as something else, and re-decoding would corrupt it).
 */
export function decodeJisEscapes(text: string): string {
  if (!hasJisEscapes(text)) return text;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) return text;
  }
  return jisDecoder.decode(Buffer.from(text, 'latin1'));
}
