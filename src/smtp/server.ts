/**
 * The SMTP front end (smtp-server): policy at RCPT, limits everywhere a client
 * controls something, and the one invariant — the 250 is sent only after the
 * spool has made the message durable.
 */
import crypto from 'node:crypto';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerOptions,
  type SMTPServerSession,
  type SMTPServerDataStream,
} from 'smtp-server';
import type { Logger } from '../log/index.ts';
import type { Config } from '../config/index.ts';
import { collectOnScrape, type Metrics } from '../monitor/metrics.ts';
import { newSpoolId, type Spool, type Envelope } from '../spool/index.ts';
import { errorCode } from '../errors.ts';
import { REPLIES, replyError, replyText, type ReplyName } from './replies.ts';
import { routeRecipient, type QuarantineReason, type RegistryLookup } from './routing.ts';
import { acceptedLine } from '../log/index.ts';
import { AbuseGuard, type RefusalReason, type Verdict } from './abuse.ts';
import { ErrorLimitedSMTPServer, type SmtpConnection } from './session-errors.ts';
import { DataBudget } from './budget.ts';
import { receivedHeader } from './trace.ts';

export { REPLIES, replyText } from './replies.ts';
export {
  routeRecipient,
  routeCoverage,
  describeCoverage,
  type RouteResult,
  type RouteCoverage,
  type RegistryLookup,
} from './routing.ts';
export { receivedHeader, type TraceFacts } from './trace.ts';

/**
 * TLS 1.2 suites in order of preference: forward-secret AEAD only (GCM,
 * CHACHA20-POLY1305). TLS 1.3 suites are all AEAD and keep OpenSSL's order.
 * CBC suites are not offered: every MTA that speaks TLS 1.2 has these, and
 * one that has not falls back to plain SMTP, which we still accept.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Per-session facts kept between commands (on smtp-server's session object). */
interface SessionState {
  store: string | null;
  quarantined: boolean;
  /** Why, when the message ends up quarantined (the first quarantined recipient's reason). */
  quarantineReason?: QuarantineReason;
}
type Session = SMTPServerSession & { ota?: SessionState };

/** A session the front end accepted, with what the limits ask about it. */
interface Tracked {
  conn: SmtpConnection;
  connectedAt: number;
  /** Set once an accepted MAIL FROM started a transaction: no longer an idle pre-MAIL session. */
  transacted: boolean;
  preMailTimer: NodeJS.Timeout | null;
  /** A message is being received or spooled: only these get the shutdown grace. */
  busy: boolean;
}

export type LimitAction =
  | 'data_memory'
  | 'declared_size'
  | 'pre_mail_timeout'
  | 'evicted'
  | 'data_timeout'
  | 'proxy_header_timeout'
  | 'shutdown_idle';

const freshState = (): SessionState => ({ store: null, quarantined: false });

export interface SmtpDeps {
  config: Readonly<Config>;
  spool: Spool;
  metrics: Metrics;
  log: Logger;
  tls: { key: string; cert: string };
  /** The store registry, for `r-…` addresses and revoked stores (absent: route rules only). */
  registry?: RegistryLookup;
  /** Clock of the abuse limits (tests advance it instead of sleeping). */
  clock?: () => number;
}

export interface SmtpListening {
  port: number;
  tlsPort: number | null;
}

export class SmtpFrontEnd {
  private readonly servers: SMTPServer[] = [];
  private readonly perIp = new Map<string, number>();
  private readonly sessions = new Set<string>();
  /** Connections smtp-server created that have not reached onConnect yet (greeting delay), by session id. */
  private readonly pending = new Map<string, SmtpConnection>();
  /** Accepted sessions in order of arrival: the first pre-MAIL one is the eviction candidate. */
  private readonly live = new Map<string, Tracked>();
  /** Bytes held by all sessions in DATA (smtp.dataMemoryBytes). */
  readonly budget: DataBudget;
  private draining = false;
  private listeningState = false;
  /** Per-address rate limits and cooling-off (abuse.ts). */
  readonly guard: AbuseGuard;

  constructor(private readonly deps: SmtpDeps) {
    const { config } = deps;
    this.guard = new AbuseGuard(config.smtp.abuse, deps.clock ?? Date.now);
    this.budget = new DataBudget(config.smtp.dataMemoryBytes, (used) => deps.metrics.smtpDataBuffered.set(used));
    deps.metrics.smtpDataBuffered.set(0);
    collectOnScrape(deps.metrics.smtpCoolingOff, () => deps.metrics.smtpCoolingOff.set(this.guard.coolingOff()));
    const hooks = {
      maxErrors: config.smtp.abuse.maxErrors,
      onErrorLimit: (ip: string) => {
        this.refused('too_many_errors');
        this.guard.offence(ip);
      },
      maxMessageBytes: config.smtp.maxMessageBytes,
      onDeclaredTooBig: () => {
        this.limitAction('declared_size');
        deps.metrics.smtpMessages.inc({ result: 'too_big', code: String(REPLIES.declaredTooBig.code) });
      },
      proxyHeaderTimeoutMs: config.smtp.proxyHeaderTimeoutMs,
      onProxyHeaderTimeout: () => this.limitAction('proxy_header_timeout'),
      onConnection: (conn: SmtpConnection) => {
        this.pending.set(conn.id, conn);
        // Draining: a connection that slipped in before the listener closed is told at once.
        if (this.draining) conn.send(REPLIES.shuttingDown.code, replyText('shuttingDown'), false);
      },
    };
    this.servers.push(new ErrorLimitedSMTPServer(this.options(false), hooks));
    if (config.smtp.tlsPort !== null) this.servers.push(new ErrorLimitedSMTPServer(this.options(true), hooks));
    for (const s of this.servers) s.on('error', (err) => deps.log.warn({ err }, 'smtp server error'));
  }

  private options(secure: boolean): SMTPServerOptions {
    const { config, tls } = this.deps;
    return {
      secure,
      name: config.smtp.hostname,
      banner: config.smtp.banner,
      key: tls.key,
      cert: tls.cert,
      // smtp-server's default allows TLS 1.0; nothing that forwards reservations needs it.
      minVersion: 'TLSv1.2',
      // Our order wins, AEAD suites only for TLS 1.2, and no renegotiation (client-initiated
      // renegotiation costs the server a handshake per request: a cheap CPU DoS).
      ciphers: TLS12_CIPHERS,
      honorCipherOrder: true,
      secureOptions: crypto.constants.SSL_OP_NO_RENEGOTIATION,
      size: config.smtp.maxMessageBytes,
      authOptional: true,
      disabledCommands: ['AUTH'],
      disableReverseLookup: true,
      // PROXY protocol only from the listed load balancers (they must send it); everyone else is plain SMTP.
      useProxy: config.smtp.proxyTrusted.length > 0 ? [...config.smtp.proxyTrusted] : false,
      socketTimeout: config.smtp.socketTimeoutMs,
      closeTimeout: config.smtp.closeTimeoutMs,
      logger: false,
      onConnect: (session, cb) => this.onConnect(session, cb),
      onClose: (session) => this.onClose(session),
      onMailFrom: (address, session, cb) => void this.onMailFrom(address, session, cb),
      onRcptTo: (address, session, cb) => this.onRcptTo(address.address, session, cb),
      onData: (stream, session, cb) => this.onData(stream, session, cb),
    };
  }

  private onConnect(session: Session, cb: (err?: Error | null) => void): void {
    const { config, metrics } = this.deps;
    const ip = session.remoteAddress;
    const conn = this.pending.get(session.id);
    this.pending.delete(session.id);
    let refusal: ReplyName | null = null;
    const abuse = this.draining ? null : this.abuseRefusal(this.guard.connection(ip));
    if (abuse) return cb(abuse);
    if (this.draining) refusal = 'shuttingDown';
    else if ((this.perIp.get(ip) ?? 0) >= config.smtp.maxConnectionsPerIp) refusal = 'tooManyConnectionsFromIp';
    else if (!this.makeRoom()) refusal = 'tooManyConnections';
    if (refusal) {
      metrics.smtpConnections.inc({ result: refusal === 'shuttingDown' ? 'refused_shutdown' : 'refused_limit' });
      return cb(replyError(refusal));
    }
    this.sessions.add(session.id);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    if (conn) {
      const tracked: Tracked = { conn, connectedAt: Date.now(), transacted: false, preMailTimer: null, busy: false };
      tracked.preMailTimer = setTimeout(() => {
        tracked.preMailTimer = null;
        if (tracked.transacted || !this.live.has(session.id)) return;
        this.limitAction('pre_mail_timeout');
        this.deps.log.debug({ session: session.id }, 'no MAIL FROM in time: closing');
        this.cut(session.id, 'preMailTimeout', { seconds: Math.round(config.smtp.preMailTimeoutMs / 1000) });
      }, config.smtp.preMailTimeoutMs);
      tracked.preMailTimer.unref();
      this.live.set(session.id, tracked);
    }
    metrics.smtpConnections.inc({ result: 'accepted' });
    metrics.smtpActiveConnections.set(this.sessions.size);
    cb();
  }

  /**
   * Whether one more session may start. At `maxClients`, or when sessions
   * that have not started a transaction hold every slot outside the
   * `reservedConnections` headroom, the oldest such session is closed with
   * 421 4.4.5 to make room; false when there is none (all busy with mail).
   */
  private makeRoom(): boolean {
    const { maxClients, reservedConnections } = this.deps.config.smtp;
    const preMailCap = Math.max(1, maxClients - reservedConnections);
    if (this.sessions.size < preMailCap) return true;
    let preMail = 0;
    let oldest: string | null = null;
    for (const [id, t] of this.live) {
      if (t.transacted || t.busy) continue;
      preMail += 1;
      oldest ??= id; // insertion order: the first one has waited longest
    }
    if (this.sessions.size < maxClients && preMail < preMailCap) return true;
    if (oldest === null) return false;
    this.limitAction('evicted');
    this.deps.log.debug({ session: oldest }, 'connection limit: evicting the oldest session without a transaction');
    this.cut(oldest, 'evicted');
    return true;
  }

  /** Sends a closing reply (421) to a session and forgets it at once (its slot is free now). */
  private cut(id: string, reply: ReplyName, vars: Record<string, string | number> = {}): void {
    const t = this.live.get(id);
    if (!t) return;
    this.forget(id, t.conn.remoteAddress);
    t.conn.send(REPLIES[reply].code, replyText(reply, vars), false);
  }

  private forget(id: string, ip: string): void {
    const t = this.live.get(id);
    if (t?.preMailTimer) clearTimeout(t.preMailTimer);
    this.live.delete(id);
    this.pending.delete(id);
    if (!this.sessions.delete(id)) return;
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
    this.deps.metrics.smtpActiveConnections.set(this.sessions.size);
  }

  private onClose(session: Session): void {
    this.forget(session.id, session.remoteAddress);
  }

  private async onMailFrom(
    address: SMTPServerAddress,
    session: Session,
    cb: (err?: Error | null) => void,
  ): Promise<void> {
    session.ota = freshState();
    if (this.draining) return cb(replyError('shuttingDown'));
    const abuse = this.abuseRefusal(this.guard.transaction(session.remoteAddress));
    if (abuse) return cb(abuse);
    // SIZE= is a promise of at most that many bytes (RFC 1870): if it cannot fit the free budget now, say so before the transfer.
    const declared = address.args && typeof address.args.SIZE === 'string' ? Number(address.args.SIZE) : 0;
    if (declared > this.budget.free) {
      this.limitAction('data_memory');
      this.deps.metrics.smtpMessages.inc({ result: 'memory_busy', code: String(REPLIES.dataMemoryBusy.code) });
      return cb(replyError('dataMemoryBusy'));
    }
    try {
      if (!(await this.deps.spool.hasSpace())) {
        this.deps.metrics.smtpMessages.inc({ result: 'no_space', code: '452' });
        this.deps.log.warn(
          { session: session.id },
          'spool disk below the free-space reserve: refusing MAIL FROM with 452 4.3.1',
        );
        return cb(replyError('insufficientStorage'));
      }
    } catch (err) {
      this.deps.log.error({ err }, 'cannot read spool free space');
      return cb(replyError('localError'));
    }
    const t = this.live.get(session.id);
    if (t) {
      t.transacted = true;
      if (t.preMailTimer) clearTimeout(t.preMailTimer);
      t.preMailTimer = null;
    }
    cb();
  }

  private onRcptTo(address: string, session: Session, cb: (err?: Error | null) => void): void {
    const { config, metrics } = this.deps;
    const state = (session.ota ??= freshState());
    if (session.envelope.rcptTo.length >= config.smtp.maxRecipients) {
      metrics.smtpRecipients.inc({ result: 'too_many' });
      return cb(replyError('tooManyRecipients', { max: config.smtp.maxRecipients }));
    }
    const route = routeRecipient(address, config, this.deps.registry);
    if (route.kind === 'relay') {
      metrics.smtpRecipients.inc({ result: 'relay_denied' });
      return cb(replyError('relayDenied', { domain: route.domain }));
    }
    if (route.kind === 'reject') {
      metrics.smtpRecipients.inc({ result: 'unknown_rejected' });
      this.deps.log.info({ session: session.id, reason: route.reason }, `recipient refused: ${route.reason}`);
      return cb(replyError(route.reply, { address }));
    }
    if (route.kind === 'quarantine') {
      metrics.smtpRecipients.inc({ result: route.reason === 'postmaster' ? 'postmaster' : 'quarantine' });
      // One message belongs to one store: the first routed recipient decides.
      if (state.store === null) {
        state.quarantined = true;
        state.quarantineReason ??= route.reason;
      }
      return cb();
    }
    metrics.smtpRecipients.inc({ result: 'store' });
    if (state.store === null) {
      state.store = route.store;
      state.quarantined = false;
    }
    cb();
  }

  private onData(
    stream: SMTPServerDataStream,
    session: Session,
    callback: (err?: Error | null, message?: string) => void,
  ): void {
    const { metrics, spool, log, config } = this.deps;
    const tracked = this.live.get(session.id);
    if (tracked) tracked.busy = true;
    let answered = false;
    // Every way out of DATA passes here: the session is idle again, and told to go if we are draining.
    const cb = (err?: Error | null, message?: string) => {
      if (answered) return;
      answered = true;
      clearTimeout(deadline);
      this.budget.release(held);
      held = 0;
      if (tracked) tracked.busy = false;
      callback(err, message);
      if (this.draining) this.cut(session.id, 'shuttingDown');
    };
    let chunks: Buffer[] = [];
    let held = 0;
    let size = 0;
    let overBudget = false;
    let aborted = false;
    const drop = () => {
      chunks = [];
      this.budget.release(held);
      held = 0;
    };
    const header = new HeaderScanner(config.smtp.maxHeaderBytes);
    // The idle timeout never ends a sender that trickles a byte now and then; this bounds the whole transfer.
    const deadline = setTimeout(() => {
      aborted = true;
      drop();
      this.limitAction('data_timeout');
      metrics.smtpMessages.inc({ result: 'data_timeout', code: String(REPLIES.dataTimeout.code) });
      log.warn({ session: session.id, bytes: size }, 'DATA deadline passed: message not accepted, closing');
      const seconds = Math.round(config.smtp.dataTimeoutMs / 1000);
      answered = true;
      if (tracked) tracked.busy = false;
      // The stream is destroyed when the connection closes; the pending callback is dropped on purpose.
      if (tracked) this.cut(session.id, 'dataTimeout', { seconds });
      else callback(replyError('dataTimeout', { seconds }));
    }, config.smtp.dataTimeoutMs);
    deadline.unref();
    stream.on('data', (chunk: Buffer) => {
      header.push(chunk);
      size += chunk.length;
      if (aborted || overBudget) return;
      // Past a limit keep reading (the client is still sending) but stop buffering.
      if (size > config.smtp.maxMessageBytes || header.exceeded) {
        if (held > 0) drop();
        return;
      }
      if (!this.budget.take(chunk.length)) {
        overBudget = true;
        drop();
        this.limitAction('data_memory');
        log.warn(
          { session: session.id, budgetBytes: this.budget.max, heldBytes: this.budget.held },
          'SMTP memory budget exhausted: this message will get 452 4.3.1',
        );
        return;
      }
      held += chunk.length;
      chunks.push(chunk);
    });
    stream.on('error', (err) => {
      if (answered) return;
      log.warn({ session: session.id, err }, 'data stream error');
      cb(replyError('localError'));
    });
    stream.on('end', () => {
      // Received in full: the deadline bounds the transfer, not our own spooling.
      clearTimeout(deadline);
      if (answered) return;
      if (stream.sizeExceeded || size > config.smtp.maxMessageBytes) {
        metrics.smtpMessages.inc({ result: 'too_big', code: String(REPLIES.messageTooBig.code) });
        return cb(replyError('messageTooBig', { size, max: config.smtp.maxMessageBytes }));
      }
      if (header.exceeded) {
        this.refused('header_too_big');
        metrics.smtpMessages.inc({ result: 'header_too_big', code: String(REPLIES.headerTooBig.code) });
        return cb(replyError('headerTooBig', { max: config.smtp.maxHeaderBytes }));
      }
      if (overBudget) {
        metrics.smtpMessages.inc({ result: 'memory_busy', code: String(REPLIES.dataMemoryBusy.code) });
        return cb(replyError('dataMemoryBusy'));
      }
      const started = performance.now();
      const state = session.ota ?? { store: null, quarantined: true };
      const receivedAt = (this.deps.clock ?? Date.now)();
      const id = newSpoolId(receivedAt);
      const rcptTo = session.envelope.rcptTo.map((r) => r.address);
      const tls = session.secure ? tlsInfo(session) : null;
      const helo = session.hostNameAppearsAs || null;
      const quarantined = state.quarantined || state.store === null;
      const envelope: Envelope = {
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
        rcptTo,
        clientIp: session.remoteAddress,
        helo,
        tls,
        store: state.quarantined ? null : state.store,
        quarantined,
        quarantineReason: quarantined ? (state.quarantineReason ?? 'unknown-recipient') : null,
        sessionId: session.id,
        received: receivedHeader({
          id,
          receivedAt,
          helo,
          clientIp: session.remoteAddress,
          by: config.smtp.hostname,
          protocol: session.transmissionType || (session.secure ? 'ESMTPS' : 'ESMTP'),
          tls,
          rcptTo,
        }),
      };
      // The one copy of the message: chunks → one buffer, which the spool writes and the pipeline parses.
      const body = Buffer.concat(chunks, held);
      chunks = [];
      spool.append(envelope, [body], size, { id, receivedAt }).then(
        (rec) => {
          metrics.acceptDuration.observe((performance.now() - started) / 1000);
          metrics.smtpMessages.inc({ result: 'accepted', code: '250' });
          metrics.receivedBytes.inc(size);
          metrics.messageSize.observe(size);
          metrics.lastReceived.set(rec.receivedAt / 1000);
          const line = acceptedLine(rec.id, envelope, size);
          log.info(line.fields, line.msg);
          if (envelope.quarantineReason === 'postmaster')
            log.info({ spoolId: rec.id }, 'mail for postmaster accepted into quarantine');
          cb(null, replyText('accepted', { id: rec.id }));
        },
        (err: unknown) => {
          const code = errorCode(err);
          const reply: ReplyName =
            code === 'SPOOL_NO_SPACE' ? 'insufficientStorage' : code === 'SPOOL_CLOSED' ? 'shuttingDown' : 'localError';
          if (code === 'SPOOL_NO_SPACE') spool.invalidateFreeSpace();
          metrics.smtpMessages.inc({
            result: code === 'SPOOL_NO_SPACE' ? 'no_space' : 'spool_error',
            code: String(REPLIES[reply].code),
          });
          log.error({ session: session.id, code, err }, 'message not spooled; answered 4xx so the sender retries');
          cb(replyError(reply));
        },
      );
    });
  }

  /** An abuse verdict as the reply error to send, counted; null when allowed. */
  private abuseRefusal(v: Verdict): (Error & { responseCode: number }) | null {
    if (v.ok) return null;
    this.refused(v.reason);
    const reply: ReplyName =
      v.reason === 'cooling_off' ? 'coolingOff' : v.reason === 'message_rate' ? 'messageRate' : 'connectionRate';
    this.deps.log.debug({ reason: v.reason, retryAfterSeconds: v.retryAfterSeconds }, 'abuse limit: refused');
    return replyError(reply, { seconds: v.retryAfterSeconds });
  }

  private refused(reason: RefusalReason): void {
    this.deps.metrics.smtpRefusals.inc({ reason });
  }

  private limitAction(limit: LimitAction): void {
    this.deps.metrics.smtpLimitActions.inc({ limit });
  }

  /** Starts listening; resolves with the bound ports (port 0 picks free ones). */
  async listen(): Promise<SmtpListening> {
    const { config } = this.deps;
    const ports = [config.smtp.port, config.smtp.tlsPort];
    const bound: number[] = [];
    for (const [i, server] of this.servers.entries()) {
      bound.push(
        await new Promise<number>((resolve, reject) => {
          const onError = (err: Error) => reject(err);
          server.once('error', onError);
          server.listen(ports[i]!, config.smtp.host, () => {
            server.off('error', onError);
            resolve((server.server.address() as { port: number }).port);
          });
        }),
      );
    }
    this.listeningState = true;
    return { port: bound[0]!, tlsPort: bound[1] ?? null };
  }

  get listening(): boolean {
    return this.listeningState && !this.draining;
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Serves a new certificate to the next handshakes (no restart). */
  updateCertificate(tls: { key: string; cert: string }): void {
    for (const s of this.servers) s.updateSecureContext({ key: tls.key, cert: tls.cert });
  }

  /**
   * Graceful stop: every idle session gets 421 4.3.2 at once and is closed;
   * a session receiving or spooling a message finishes it (and is closed
   * right after its reply), for at most `smtp.closeTimeoutMs`, after which
   * smtp-server cuts what is left. New connections are refused.
   */
  async close(): Promise<void> {
    this.draining = true;
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const [id, t] of [...this.live]) {
      if (t.busy) continue;
      this.limitAction('shutdown_idle');
      this.cut(id, 'shuttingDown');
    }
    // Still in the greeting delay: no session yet, nothing to lose.
    for (const conn of [...this.pending.values()])
      conn.send(REPLIES.shuttingDown.code, replyText('shuttingDown'), false);
    await closed;
    this.listeningState = false;
  }
}

/**
 * Counts the header section (bytes before the first empty line, CRLF or bare
 * LF) of a message as it streams in, without buffering it.
 */
class HeaderScanner {
  private bytes = 0;
  /** 0: inside a line, 1: just after LF (a line starts), 2: after LF CR. The message starts like a line. */
  private state = 1;
  private done = false;
  exceeded = false;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    if (this.done) return;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === 0x0a && this.state !== 0) {
        this.done = true;
        return;
      }
      this.state = c === 0x0a ? 1 : c === 0x0d && this.state === 1 ? 2 : 0;
      if (++this.bytes > this.max) {
        this.exceeded = true;
        this.done = true;
        return;
      }
    }
  }
}

function tlsInfo(session: SMTPServerSession): { protocol: string; cipher: string } {
  const t = session.tlsOptions as { name?: string; version?: string; standardName?: string } | false | undefined;
  return { protocol: (t && t.version) || 'TLS', cipher: (t && (t.standardName ?? t.name)) || 'unknown' };
}
