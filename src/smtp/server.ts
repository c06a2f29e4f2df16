/**
 * The SMTP front end (smtp-server): policy at RCPT, limits everywhere a client
 * controls something, and the one invariant — the 250 is sent only after the
 * spool has made the message durable.
 */
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession, type SMTPServerDataStream } from 'smtp-server';
import type { Logger } from '../log/index.ts';
import type { Config } from '../config/index.ts';
import { collectOnScrape, type Metrics } from '../monitor/metrics.ts';
import type { Spool, Envelope } from '../spool/index.ts';
import { errorCode } from '../errors.ts';
import { REPLIES, replyError, replyText, type ReplyName } from './replies.ts';
import { routeRecipient, type QuarantineReason, type RegistryLookup } from './routing.ts';
import { acceptedLine } from '../log/index.ts';
import { AbuseGuard, type RefusalReason, type Verdict } from './abuse.ts';
import { ErrorLimitedSMTPServer } from './session-errors.ts';

export { REPLIES, replyText } from './replies.ts';
export {
  routeRecipient,
  routeCoverage,
  describeCoverage,
  type RouteResult,
  type RouteCoverage,
  type RegistryLookup,
} from './routing.ts';

/** Per-session facts kept between commands (on smtp-server's session object). */
interface SessionState {
  store: string | null;
  quarantined: boolean;
  /** Why, when the message ends up quarantined (the first quarantined recipient's reason). */
  quarantineReason?: QuarantineReason;
}
type Session = SMTPServerSession & { ota?: SessionState };

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
  private draining = false;
  private listeningState = false;
  /** Per-address rate limits and cooling-off (abuse.ts). */
  readonly guard: AbuseGuard;

  constructor(private readonly deps: SmtpDeps) {
    const { config } = deps;
    this.guard = new AbuseGuard(config.smtp.abuse, deps.clock ?? Date.now);
    collectOnScrape(deps.metrics.smtpCoolingOff, () => deps.metrics.smtpCoolingOff.set(this.guard.coolingOff()));
    const onErrorLimit = (ip: string) => {
      this.refused('too_many_errors');
      this.guard.offence(ip);
    };
    this.servers.push(new ErrorLimitedSMTPServer(this.options(false), config.smtp.abuse.maxErrors, onErrorLimit));
    if (config.smtp.tlsPort !== null)
      this.servers.push(new ErrorLimitedSMTPServer(this.options(true), config.smtp.abuse.maxErrors, onErrorLimit));
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
      onMailFrom: (_address, session, cb) => void this.onMailFrom(session, cb),
      onRcptTo: (address, session, cb) => this.onRcptTo(address.address, session, cb),
      onData: (stream, session, cb) => this.onData(stream, session, cb),
    };
  }

  private onConnect(session: Session, cb: (err?: Error | null) => void): void {
    const { config, metrics } = this.deps;
    const ip = session.remoteAddress;
    let refusal: ReplyName | null = null;
    const abuse = this.draining ? null : this.abuseRefusal(this.guard.connection(ip));
    if (abuse) return cb(abuse);
    if (this.draining) refusal = 'shuttingDown';
    else if (this.sessions.size >= config.smtp.maxClients) refusal = 'tooManyConnections';
    else if ((this.perIp.get(ip) ?? 0) >= config.smtp.maxConnectionsPerIp) refusal = 'tooManyConnectionsFromIp';
    if (refusal) {
      metrics.smtpConnections.inc({ result: refusal === 'shuttingDown' ? 'refused_shutdown' : 'refused_limit' });
      return cb(replyError(refusal));
    }
    this.sessions.add(session.id);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    metrics.smtpConnections.inc({ result: 'accepted' });
    metrics.smtpActiveConnections.set(this.sessions.size);
    cb();
  }

  private onClose(session: Session): void {
    if (!this.sessions.delete(session.id)) return;
    const ip = session.remoteAddress;
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
    this.deps.metrics.smtpActiveConnections.set(this.sessions.size);
  }

  private async onMailFrom(session: Session, cb: (err?: Error | null) => void): Promise<void> {
    session.ota = { store: null, quarantined: false };
    if (this.draining) return cb(replyError('shuttingDown'));
    const abuse = this.abuseRefusal(this.guard.transaction(session.remoteAddress));
    if (abuse) return cb(abuse);
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
    cb();
  }

  private onRcptTo(address: string, session: Session, cb: (err?: Error | null) => void): void {
    const { config, metrics } = this.deps;
    const state = (session.ota ??= { store: null, quarantined: false });
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
      metrics.smtpRecipients.inc({ result: 'quarantine' });
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
    cb: (err?: Error | null, message?: string) => void,
  ): void {
    const { metrics, spool, log, config } = this.deps;
    const chunks: Buffer[] = [];
    let size = 0;
    const header = new HeaderScanner(config.smtp.maxHeaderBytes);
    stream.on('data', (chunk: Buffer) => {
      header.push(chunk);
      // Past a limit keep reading (the client is still sending) but stop buffering.
      if (size <= config.smtp.maxMessageBytes && !header.exceeded) chunks.push(chunk);
      size += chunk.length;
    });
    stream.on('error', (err) => {
      log.warn({ session: session.id, err }, 'data stream error');
      cb(replyError('localError'));
    });
    stream.on('end', () => {
      if (stream.sizeExceeded || size > config.smtp.maxMessageBytes) {
        metrics.smtpMessages.inc({ result: 'too_big', code: String(REPLIES.messageTooBig.code) });
        return cb(replyError('messageTooBig', { size, max: config.smtp.maxMessageBytes }));
      }
      if (header.exceeded) {
        this.refused('header_too_big');
        metrics.smtpMessages.inc({ result: 'header_too_big', code: String(REPLIES.headerTooBig.code) });
        return cb(replyError('headerTooBig', { max: config.smtp.maxHeaderBytes }));
      }
      const started = performance.now();
      const state = session.ota ?? { store: null, quarantined: true };
      const envelope: Envelope = {
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
        rcptTo: session.envelope.rcptTo.map((r) => r.address),
        clientIp: session.remoteAddress,
        helo: session.hostNameAppearsAs ?? null,
        tls: session.secure ? tlsInfo(session) : null,
        store: state.quarantined ? null : state.store,
        quarantined: state.quarantined || state.store === null,
        quarantineReason:
          state.quarantined || state.store === null ? (state.quarantineReason ?? 'unknown-recipient') : null,
        sessionId: session.id,
      };
      spool.append(envelope, chunks, size).then(
        (rec) => {
          metrics.acceptDuration.observe((performance.now() - started) / 1000);
          metrics.smtpMessages.inc({ result: 'accepted', code: '250' });
          metrics.receivedBytes.inc(size);
          metrics.messageSize.observe(size);
          metrics.lastReceived.set(rec.receivedAt / 1000);
          const line = acceptedLine(rec.id, envelope, size);
          log.info(line.fields, line.msg);
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
   * Graceful stop: refuse new connections and transactions with 421, let
   * in-flight ones finish (smtp-server waits up to closeTimeout), then resolve.
   */
  async close(): Promise<void> {
    this.draining = true;
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
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
