/**
 * A minimal SMTP client over a raw socket, for asserting exact replies the way
 * a sending MTA sees them (nodemailer hides some of that behind its own errors).
 */
import net from 'node:net';
import tls from 'node:tls';
import { ReplyReader, type Reply } from '../../bench/lib/smtp-replies.ts';

export type { Reply };

export class RawSmtp {
  private waiting: ((r: Reply) => void) | null = null;
  private replies: Reply[] = [];
  closed = false;

  private constructor(private socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('utf8');
    // A fresh reader per socket: after STARTTLS nothing from the plain stream may count.
    const reader = new ReplyReader(
      (reply) => {
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(reply);
        } else this.replies.push(reply);
      },
      // These tests talk to our own server; a line that is not a reply is a bug there.
      (line) => socket.destroy(new Error(`not an SMTP reply line: ${line.slice(0, 80)}`)),
    );
    socket.on('data', (d: string) => reader.feed(d));
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<{ client: RawSmtp; greeting: Reply }> {
    const socket = net.connect(port, host);
    const client = new RawSmtp(socket);
    const greeting = await client.read();
    return { client, greeting };
  }

  /** Next reply from the server. */
  read(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('connection closed'));
      const onClose = () => reject(new Error('connection closed before a reply'));
      this.socket.once('close', onClose);
      this.waiting = (reply) => {
        this.socket.off('close', onClose);
        resolve(reply);
      };
    });
  }

  async cmd(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends DATA, the message (dot-stuffed) and the terminator; returns the final reply. */
  async data(message: string | Buffer): Promise<Reply> {
    const start = await this.cmd('DATA');
    if (start.code !== 354) return start;
    const text = Buffer.isBuffer(message) ? message.toString('latin1') : message;
    const stuffed = text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.socket.write(Buffer.from(stuffed.endsWith('\r\n') ? stuffed : `${stuffed}\r\n`, 'latin1'));
    this.socket.write('.\r\n');
    return this.read();
  }

  /** STARTTLS and upgrade; returns the peer certificate. */
  async starttls(): Promise<tls.PeerCertificate> {
    return (await this.starttlsSocket()).getPeerCertificate();
  }

  /** STARTTLS and upgrade with these client options; returns the TLS socket (further replies are read from it). */
  async starttlsSocket(opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.code} ${r.text}`);
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false, servername: 'localhost', ...opts });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return secure;
  }

  async quit(): Promise<void> {
    if (this.closed) return;
    await this.cmd('QUIT').catch(() => undefined);
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A full transaction on a fresh connection; returns every reply. */
export async function deliver(
  port: number,
  opts: { from?: string; to: string[]; message: string | Buffer; ehlo?: string },
): Promise<{ replies: Reply[]; final: Reply }> {
  const { client } = await RawSmtp.connect(port);
  const replies: Reply[] = [];
  try {
    replies.push(await client.cmd(`EHLO ${opts.ehlo ?? 'sender.example'}`));
    replies.push(await client.cmd(`MAIL FROM:<${opts.from ?? 'noreply@sender.example'}>`));
    let anyRcpt = false;
    for (const to of opts.to) {
      const r = await client.cmd(`RCPT TO:<${to}>`);
      replies.push(r);
      if (r.code === 250) anyRcpt = true;
    }
    const final = anyRcpt ? await client.data(opts.message) : replies.at(-1)!;
    if (anyRcpt) replies.push(final);
    return { replies, final };
  } finally {
    await client.quit();
  }
}

/** The spool id in a `250 2.0.0 Ok: queued as ID` reply. */
export function queuedId(reply: Reply): string {
  const m = /queued as (\S+)/.exec(reply.text);
  if (!m) throw new Error(`no spool id in reply: ${reply.code} ${reply.text}`);
  return m[1]!;
}
