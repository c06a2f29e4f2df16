/**
 * The SMTP reply reader every raw client here shares — the bench load
 * generator (`smtp-load.ts`) and the test clients (test/helpers/smtp.ts,
 * test/security/client.ts): decoded socket text in, complete (possibly
 * multi-line) replies out. It lives under bench/lib/ because that folder is
 * compiled into dist/ for `npm run bench`, while vitest runs the tests from
 * source and can import it from there; the reverse (bench importing from
 * test/) would leave the built bench without it.
 */

/** One complete reply: the code, the last line's text and every line's text. */
export interface Reply {
  code: number;
  text: string;
  lines: string[];
}

// "250-…" continues a reply, "250 …" (or a bare "250") ends it.
const REPLY_LINE = /^(\d{3})(?:([ -])(.*))?$/;

/** Splits decoded socket text into replies; a line that is not a reply line goes to `onBadLine`. */
export class ReplyReader {
  private partial = '';
  private lines: string[] = [];

  constructor(
    private readonly onReply: (reply: Reply) => void,
    private readonly onBadLine: (line: string) => void,
    /** Continuation lines one reply may have before it counts as garbage (a real EHLO has about ten). */
    private readonly maxLines = Infinity,
  ) {}

  /** Feeds received text; calls back for every line it completes (LF or CRLF ends a line). */
  feed(chunk: string): void {
    let buf = this.partial + chunk;
    let nl = buf.indexOf('\n');
    while (nl !== -1) {
      this.line(buf.slice(0, nl).replace(/\r$/, ''));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
    this.partial = buf;
  }

  private line(line: string): void {
    const m = REPLY_LINE.exec(line);
    if (!m || this.lines.length >= this.maxLines) {
      this.lines = [];
      this.onBadLine(line);
      return;
    }
    const text = m[3] ?? '';
    this.lines.push(text);
    if (m[2] === '-') return;
    const reply: Reply = { code: Number(m[1]), text, lines: this.lines };
    this.lines = [];
    this.onReply(reply);
  }
}
