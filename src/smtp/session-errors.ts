/**
 * smtp-server with the few hooks the library does not offer, each on the
 * connection object it creates (nothing global is patched):
 *
 * - a per-session error limit. smtp-server answers unknown commands, syntax
 * errors and bad sequences itself and offers no hook for them, so this
 * subclass watches every reply a connection sends: the permanent errors (5xx)
 * a session earns are counted — ours (refused recipients, too-big messages)
 * and the library's alike — and the one past the limit is replaced by a 421
 * that closes the connection. A client probing addresses or spraying garbage
 * is cut off quickly instead of holding a slot until the idle timeout;
 * - `552 5.3.4` with a sentence (from replies.ts) for a MAIL FROM whose
 *   `SIZE=` exceeds the limit: the library's own check answers it before
 *   `onMailFrom` runs, without an enhanced code;
 * - a short deadline for the PROXY header of a trusted load balancer: the
 *   library waits the whole idle timeout for it;
 * - every new connection handed to the front end (`onConnection`), so it can
 *   time out, evict or close sessions itself.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { REPLIES, replyText } from './replies.ts';

/** The parts of smtp-server's SMTPConnection the front end uses. */
export interface SmtpConnection {
  id: string;
  remoteAddress: string;
  send(code: number, data?: string | string[] | null, context?: string | false): void;
  close(): void;
  /** The stream of a message being received (smtp-server internal). */
  _dataStream: unknown;
}

interface MailParams {
  args?: Record<string, string | boolean> | false;
}
type MailParamError = { code: number; message: string; enhancedCode: string | null } | null;
interface PatchedConnection extends SmtpConnection {
  _validateMailParams(parsed: MailParams): MailParamError;
}

export interface ServerHooks {
  /** 5xx replies a session may earn; the next is replaced by `tooManyErrors` (421). */
  maxErrors: number;
  /** Called once per session closed for too many errors (offence, metrics). */
  onErrorLimit: (remoteAddress: string) => void;
  /** Largest message; a larger `SIZE=` at MAIL FROM gets `declaredTooBig` (552 5.3.4). */
  maxMessageBytes: number;
  /** Called when a `SIZE=` was refused that way (metrics). */
  onDeclaredTooBig: () => void;
  /** Deadline for the PROXY header of a trusted peer. */
  proxyHeaderTimeoutMs: number;
  /** Called when a trusted peer's PROXY header did not arrive in time (metrics). */
  onProxyHeaderTimeout: () => void;
  /** Every connection smtp-server creates, before its greeting. */
  onConnection: (conn: SmtpConnection) => void;
}

type SocketOptions = Parameters<SMTPServer['connect']>[1];

export class ErrorLimitedSMTPServer extends SMTPServer {
  private readonly watched = new WeakSet<object>();

  constructor(
    options: SMTPServerOptions,
    private readonly hooks: ServerHooks,
  ) {
    super(options);
  }

  /**
   * smtp-server guards a socket that still owes the PROXY header (or the
   * implicit TLS handshake) with the whole idle timeout; a load balancer sends
   * the header at once, so a trusted peer that does not is cut much sooner.
   */
  override _acceptSocket(socket: net.Socket, handshake: boolean): (() => void) | false {
    const release = super._acceptSocket(socket, handshake);
    if (!release || !this._expectsProxyHeader(socket)) return release;
    // Same 'timeout' listener (it destroys the socket), shorter timer; the TLS handshake arms its own after the header.
    socket.setTimeout(this.hooks.proxyHeaderTimeoutMs);
    const onTimeout = () => this.hooks.onProxyHeaderTimeout();
    socket.once('timeout', onTimeout);
    return () => {
      socket.off('timeout', onTimeout);
      release();
    };
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SocketOptions): void {
    super.connect(socket, socketOptions);
    // The connection just added is the last one in insertion order — unless it
    // was refused and removed synchronously, then the last one is already watched.
    let conn: PatchedConnection | undefined;
    for (const c of this.connections) conn = c;
    if (!conn || this.watched.has(conn)) return;
    this.watched.add(conn);
    const send = conn.send.bind(conn);
    let errors = 0;
    let cut = false;
    conn.send = (code, data, context) => {
      if (code >= 500 && code < 600 && !cut) {
        errors += 1;
        if (errors > this.hooks.maxErrors) {
          cut = true;
          this.hooks.onErrorLimit(conn.remoteAddress);
          return send(REPLIES.tooManyErrors.code, replyText('tooManyErrors'), false);
        }
      }
      return send(code, data, context);
    };
    const validate = conn._validateMailParams.bind(conn);
    conn._validateMailParams = (parsed) => {
      const declared = parsed.args ? parsed.args.SIZE : undefined;
      if (
        typeof declared === 'string' &&
        /^\d{1,20}$/.test(declared) &&
        Number(declared) > this.hooks.maxMessageBytes
      ) {
        this.hooks.onDeclaredTooBig();
        return {
          code: REPLIES.declaredTooBig.code,
          message: replyText('declaredTooBig', { size: declared, max: this.hooks.maxMessageBytes }),
          enhancedCode: null,
        };
      }
      return validate(parsed);
    };
    this.hooks.onConnection(conn);
  }
}
