/**
 * A byte-level SMTP client for abuse, PROXY and fuzz tests: it writes whatever
 * it is given (PROXY headers before the greeting, NUL bytes, bare CR/LF) and
 * collects every reply line, whether or not it was waiting for one.
 */
import net from 'node:net';
import { ReplyReader } from '../../bench/lib/smtp-replies.ts';

export interface Line {
  code: number;
  text: string;
}

export class ByteClient {
  readonly replies: Line[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  readonly ended: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    // Only the last line of a multi-line reply counts as the reply; a line that is
    // no reply at all is kept as code 0 (the fuzzer looks for those).
    const reader = new ReplyReader(
      (reply) => this.replies.push({ code: reply.code, text: reply.text }),
      (line) => this.replies.push({ code: 0, text: line }),
    );
    socket.on('data', (d: Buffer) => {
      reader.feed(d.toString('latin1'));
      this.wake();
    });
    socket.on('error', () => undefined);
    this.ended = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static async open(port: number, first?: string | Buffer): Promise<ByteClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new ByteClient(socket);
    if (first !== undefined) socket.write(first);
    return c;
  }

  write(data: string | Buffer): void {
    if (!this.closed) this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /**
   * The next reply after `seen` replies; null when the connection closed first,
   * or when `timeoutMs` passed (only the fuzzer uses that, for garbage that
   * legitimately gets no answer yet).
   */
  async reply(seen: number, timeoutMs?: number): Promise<Line | null> {
    let timedOut = false;
    const timer = timeoutMs === undefined ? null : setTimeout(() => ((timedOut = true), this.wake()), timeoutMs);
    try {
      while (this.replies.length <= seen && !this.closed && !timedOut)
        await new Promise<void>((r) => this.waiters.push(r));
      return this.replies[seen] ?? null;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Sends one command line and returns its reply. */
  async cmd(line: string, timeoutMs?: number): Promise<Line | null> {
    const seen = this.replies.length;
    this.write(`${line}\r\n`);
    return this.reply(seen, timeoutMs);
  }

  /** The greeting (or the refusal sent instead). */
  greeting(): Promise<Line | null> {
    return this.reply(0);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
