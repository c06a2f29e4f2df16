/**
 * A per-session error limit. smtp-server answers unknown commands, syntax
 * errors and bad sequences itself and offers no hook for them, so this
 * subclass watches every reply a connection sends: the permanent errors (5xx)
 * a session earns are counted — ours (refused recipients, too-big messages)
 * and the library's alike — and the one past the limit is replaced by a 421
 * that closes the connection. A client probing addresses or spraying garbage
 * is cut off quickly instead of holding a slot until the idle timeout.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { REPLIES, replyText } from './replies.ts';

interface WatchedConnection {
  remoteAddress: string;
  send(code: number, data?: string | string[] | null, context?: string | false): void;
}

type SocketOptions = Parameters<SMTPServer['connect']>[1];

export class ErrorLimitedSMTPServer extends SMTPServer {
  private readonly watched = new WeakSet<object>();

  /**
   * @param maxErrors 5xx replies a session may earn; the next is replaced by `tooManyErrors` (421).
   * @param onLimit called once per session closed this way (offence, metrics).
   */
  constructor(
    options: SMTPServerOptions,
    private readonly maxErrors: number,
    private readonly onLimit: (remoteAddress: string) => void,
  ) {
    super(options);
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SocketOptions): void {
    super.connect(socket, socketOptions);
    // The connection just added is the last one in insertion order — unless it
    // was refused and removed synchronously, then the last one is already watched.
    let conn: WatchedConnection | undefined;
    for (const c of this.connections) conn = c;
    if (!conn || this.watched.has(conn)) return;
    this.watched.add(conn);
    const send = conn.send.bind(conn);
    let errors = 0;
    let cut = false;
    conn.send = (code, data, context) => {
      if (code >= 500 && code < 600 && !cut) {
        errors += 1;
        if (errors > this.maxErrors) {
          cut = true;
          this.onLimit(conn.remoteAddress);
          return send(REPLIES.tooManyErrors.code, replyText('tooManyErrors'), false);
        }
      }
      return send(code, data, context);
    };
  }
}
