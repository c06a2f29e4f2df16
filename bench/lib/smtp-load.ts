/**
 * A lean SMTP load generator over raw `net` sockets.
 *
 * Why not nodemailer: on a 2-core machine the client competes with the server
 * for CPU, and nodemailer's per-message work (address parsing, stream
 * plumbing, logging hooks) would eat into what we are trying to measure. This
 * client prepares the wire form of the body once and then only writes
 * buffers and parses three-digit reply lines.
 *
 * Latency is the time from the write that carries the end-of-data marker
 * (`\r\n.\r\n`) to the final reply line. In rate mode (open loop) it is
 * measured from the message's *scheduled* send time instead, so a slow server
 * that makes the client fall behind shows up as latency rather than silently
 * lowering the offered load (no coordinated omission).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ReplyReader, type Reply } from './smtp-replies.ts';

/** Reply code recorded when the message never got a reply (socket error, timeout, closed). */
export const NO_REPLY = 0;

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
// How many multi-line continuation lines a single reply may have before we
// call it garbage; a real EHLO reply has about ten.
const MAX_REPLY_LINES = 200;
// The server answers 250 with "... queued as <ID>"; the id is what callers
// check against the spool later.
const QUEUED_AS = /queued as\s+(\S+)/i;

/** Options for {@link runSmtpLoad}. */
export interface LoadOptions {
  host: string;
  port: number;
  /** Concurrent SMTP sessions. */
  connections: number;
  /** Total messages to send (an upper bound; the time cap may stop earlier). */
  messages: number;
  /** Stop starting new messages after this long; in-flight ones still finish. */
  maxDurationMs: number;
  /** Reuse each connection for many messages (EHLO once) instead of one connection per message. */
  reuse: boolean;
  /** Send MAIL, RCPT and DATA in one write when the server advertises PIPELINING. */
  pipelining?: boolean;
  /** Open-loop target rate in messages per second; unset means closed loop (as fast as replies come). */
  ratePerSec?: number;
  /** The message body in wire form, from {@link prepareBody}. */
  body: Buffer;
  /**
   * Give every message its own Message-ID (default true), so the server sees
   * distinct mails rather than one mail repeated, which a receiver that
   * de-duplicates would short-circuit. The rest of the body is sent as is.
   */
  uniqueMessageIds?: boolean;
  mailFrom: string;
  rcptTo: readonly string[];
  /** EHLO name. */
  helo?: string;
  /**
   * Local (source) addresses to spread sessions over, round-robin. On Linux
   * any 127.0.0.0/8 address is local, so this simulates many sending hosts
   * and keeps a per-IP connection limit from skewing a single-host bench.
   */
  localAddresses?: readonly string[];
  /** Idle limit on a socket (connect, any reply); past it the message counts as an error. */
  replyTimeoutMs?: number;
  /** Checked before each new message: true stops the load early (e.g. once a backlog has drained). */
  stopWhen?: () => boolean;
  /** Called with every message's final reply code and queue id, as it completes (e.g. to kill the server mid-load). */
  onResult?: (code: number, queueId: string | null) => void;
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** What {@link runSmtpLoad} measured. */
export interface LoadReport {
  /** Messages attempted (a result was recorded for each). */
  attempted: number;
  /** Messages that got 250 to the end of DATA. */
  accepted: number;
  /** Messages never started because the time cap was reached. */
  notStarted: number;
  /** From the first scheduled message to the last reply. */
  durationMs: number;
  /** Accepted messages per second over `durationMs`. */
  msgsPerSec: number;
  /** 250 latency (end-of-data → 250, or scheduled time → 250 in rate mode). */
  latencyMs: LatencySummary;
  /** Final reply code per message attempt, by code ("250", "421", …; "0" = no reply). */
  codes: Record<string, number>;
  /** Client-side failures (connect refused, timeout, closed), by kind. */
  errors: Record<string, number>;
  /** Queue id from each 250 reply, in completion order (null when the text had none). */
  queueIds: (string | null)[];
  /** Whether the server advertised PIPELINING and we used it. */
  pipelined: boolean;
  /** CPU time this process used during the load, in ms (the client's own cost). */
  clientCpuMs: number;
}

/**
 * Convert a message to its DATA wire form once: bare LF → CRLF, dot-stuffing
 * of lines that start with ".", a final CRLF, and the `.\r\n` terminator.
 */
export function prepareBody(raw: Buffer): Buffer {
  // Line by line with indexOf (not byte by byte): the big-mail scenario prepares 25 MB once.
  const parts: Buffer[] = [];
  const CRLF = Buffer.from('\r\n', 'latin1');
  const DOT_BUF = Buffer.from('.', 'latin1');
  let start = 0;
  while (start < raw.length) {
    const lf = raw.indexOf(LF, start);
    const end = lf === -1 ? raw.length : lf;
    const lineEnd = end > start && raw[end - 1] === CR ? end - 1 : end;
    if (raw[start] === DOT) parts.push(DOT_BUF);
    parts.push(raw.subarray(start, lineEnd), CRLF);
    start = end + 1;
  }
  parts.push(Buffer.from('.\r\n', 'latin1'));
  return Buffer.concat(parts);
}

/** CRLF line ends (bare LF → CRLF), no dot-stuffing: the form a message has in the spool. */
export function toCrlf(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  const CRLF = Buffer.from('\r\n', 'latin1');
  let start = 0;
  while (start < raw.length) {
    const lf = raw.indexOf(LF, start);
    if (lf === -1) {
      parts.push(raw.subarray(start), CRLF);
      break;
    }
    parts.push(raw.subarray(start, lf > start && raw[lf - 1] === CR ? lf - 1 : lf), CRLF);
    start = lf + 1;
  }
  return Buffer.concat(parts);
}

/**
 * Distinct messages from one template, without the wire form: message `i` gets
 * its own Message-ID and booking number (as the load generator sends them).
 * Used to pre-fill a spool with a backlog of distinct reservations.
 */
export function messageVariants(
  raw: Buffer,
  tag = `${Date.now().toString(36)}.${randomBytes(RUN_TAG_BYTES).toString('hex')}`,
): (i: number) => Buffer {
  const t = messageIdTemplate(toCrlf(raw));
  const base = randomBytes(4).readUInt32LE(0) % 9_000_000;
  return (i) =>
    Buffer.concat(fillTemplate(t, tag, base, i).map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c)));
}

function fillTemplate(t: BodyTemplate, tag: string, bookingBase: number, i: number): (string | Buffer)[] {
  const booking = String((bookingBase + i) % 10_000_000).padStart(BOOKING_TOKEN.length, '0');
  const out: (string | Buffer)[] = [t.head, `bench.${tag}.${i}@load.ota-inbound.example`];
  t.tailParts.forEach((part, k) => (k === 0 ? out.push(part) : out.push(booking, part)));
  return out;
}

/** The wire body cut around its Message-ID value, so each message can carry its own id cheaply. */
interface BodyTemplate {
  head: Buffer;
  tail: Buffer;
  /** `tail` cut at every occurrence of the booking number, so each message is a distinct reservation. */
  tailParts: Buffer[];
}

/**
 * The booking number of the standard bench mail (ASCII inside the ISO-2022-JP
 * text). Varying it makes every message a different reservation: otherwise the
 * server rightly files message 2..N as duplicates of message 1 and the bench
 * measures the dedupe shortcut instead of extraction and persistence.
 */
const BOOKING_TOKEN = '0047153';

function splitAll(buf: Buffer, token: string): Buffer[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = buf.indexOf(token, from, 'latin1'); at !== -1; at = buf.indexOf(token, from, 'latin1')) {
    parts.push(buf.subarray(from, at));
    from = at + token.length;
  }
  parts.push(buf.subarray(from));
  return parts;
}

const MESSAGE_ID_HEADER = /^message-id:[ \t]*</im;

/**
 * Cut a wire-form body around its Message-ID value (`head` ends with "<",
 * `tail` starts with ">"). Without a Message-ID header one is added on top.
 */
export function messageIdTemplate(body: Buffer): BodyTemplate {
  const headerEnd = body.indexOf('\r\n\r\n');
  const header = body.subarray(0, headerEnd === -1 ? body.length : headerEnd).toString('latin1');
  const m = MESSAGE_ID_HEADER.exec(header);
  const close = m ? header.indexOf('>', m.index + m[0].length) : -1;
  if (!m || close === -1) {
    const tail = Buffer.concat([Buffer.from('>\r\n', 'latin1'), body]);
    return { head: Buffer.from('Message-ID: <', 'latin1'), tail, tailParts: splitAll(tail, BOOKING_TOKEN) };
  }
  const open = m.index + m[0].length;
  const tail = body.subarray(close);
  return { head: body.subarray(0, open), tail, tailParts: splitAll(tail, BOOKING_TOKEN) };
}

/** Thrown for client-side failures; `kind` is the label it is counted under. */
class SessionError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One SMTP connection: a reply parser plus a FIFO of waiters, so pipelined
 * commands get their replies in order.
 */
class Connection {
  private readonly socket: net.Socket;
  private readonly reader = new ReplyReader(
    (reply) => this.onReply(reply),
    (line) => this.fail(new SessionError('bad-reply', `unparseable reply line: ${line.slice(0, 80)}`)),
    MAX_REPLY_LINES,
  );
  private readonly replies: Reply[] = [];
  private readonly waiters: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private failure: SessionError | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    // Replies are ASCII; latin1 decoding is the cheapest lossless choice.
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.reader.feed(chunk));
    socket.on('timeout', () => this.fail(new SessionError('timeout', 'no reply in time')));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(new SessionError(err.code ?? 'socket-error', err.message)),
    );
    socket.on('close', () => this.fail(new SessionError('closed', 'connection closed by server')));
  }

  /** Connect and resolve once the socket is open (the greeting is read separately). */
  static open(host: string, port: number, localAddress: string | undefined, timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
      socket.setTimeout(timeoutMs);
      const conn = new Connection(socket);
      const onFail = (): void => reject(conn.failure ?? new SessionError('connect', 'connect failed'));
      socket.once('connect', () => {
        socket.off('close', onFail);
        resolve(conn);
      });
      socket.once('close', onFail);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Write several chunks as one segment (cork → one writev). */
  writeAll(chunks: readonly (string | Buffer)[]): void {
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
  }

  /** The next reply in order (already buffered or yet to arrive). */
  read(): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Say QUIT and wait (briefly, via the socket timeout) for the server to close. */
  async quit(): Promise<void> {
    if (this.failure) return;
    this.write('QUIT\r\n');
    try {
      await this.read();
    } catch {
      // The server may close before or after 221; either way we are done.
    }
    this.destroy();
  }

  destroy(): void {
    this.failure ??= new SessionError('closed', 'closed by client');
    this.socket.destroy();
  }

  private onReply(reply: Reply): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(reply);
    else this.replies.push(reply);
  }

  private fail(err: SessionError): void {
    if (this.failure) return;
    this.failure = err;
    this.socket.destroy();
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w.reject(err);
  }
}

/** Result of one message attempt. */
interface Attempt {
  code: number;
  latencyMs: number;
  queueId: string | null;
  errorKind: string | null;
  /** The connection is unusable afterwards (error, or a 421-style close). */
  connectionLost: boolean;
}

/** Shared state of one load run: the message counter, schedule and tallies. */
class LoadState {
  next = 0;
  readonly latencies: Float64Array;
  accepted = 0;
  attempted = 0;
  lastReplyAt = 0;
  readonly codes = new Map<number, number>();
  readonly errors = new Map<string, number>();
  readonly queueIds: (string | null)[] = [];
  pipelined = false;
  /** Set when each message gets its own Message-ID. */
  readonly template: BodyTemplate | null;
  /** Makes Message-IDs unique across runs against the same server, not only within one. */
  readonly runTag = `${Date.now().toString(36)}.${randomBytes(RUN_TAG_BYTES).toString('hex')}`;
  /** Random start for booking numbers, so warm-up and measured messages differ too. */
  readonly bookingBase = randomBytes(4).readUInt32LE(0) % 9_000_000;

  constructor(
    readonly opts: LoadOptions,
    public startAt: number,
    public deadline: number,
  ) {
    this.latencies = new Float64Array(opts.messages);
    this.template = opts.uniqueMessageIds === false ? null : messageIdTemplate(opts.body);
  }

  /** The DATA payload of message `i`. */
  payload(i: number): (string | Buffer)[] {
    const t = this.template;
    if (!t) return [this.opts.body];
    return fillTemplate(t, this.runTag, this.bookingBase, i);
  }

  /** Claim the next message index, or -1 when the count or the time cap is reached. */
  claim(): number {
    if (this.next >= this.opts.messages || performance.now() >= this.deadline || this.opts.stopWhen?.()) return -1;
    return this.next++;
  }

  /** Scheduled start of message `i` (open loop), or now (closed loop). */
  scheduledAt(i: number): number {
    const rate = this.opts.ratePerSec;
    return rate ? this.startAt + (i * 1000) / rate : performance.now();
  }

  record(a: Attempt): void {
    this.attempted++;
    this.codes.set(a.code, (this.codes.get(a.code) ?? 0) + 1);
    if (a.errorKind) this.errors.set(a.errorKind, (this.errors.get(a.errorKind) ?? 0) + 1);
    if (a.code === 250) {
      this.latencies[this.accepted++] = a.latencyMs;
      this.queueIds.push(a.queueId);
    }
    this.lastReplyAt = performance.now();
    this.opts.onResult?.(a.code, a.queueId);
  }
}

function sleepUntil(t: number): Promise<void> {
  const ms = t - performance.now();
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

function errorKind(err: unknown): string {
  return err instanceof SessionError ? err.kind : 'exception';
}

/** Open a connection, read the greeting and say EHLO. Returns the session or the failing attempt. */
async function openSession(
  state: LoadState,
  localAddress: string | undefined,
): Promise<{ conn: Connection; pipelining: boolean } | { fail: Attempt }> {
  const { opts } = state;
  let conn: Connection;
  try {
    conn = await Connection.open(opts.host, opts.port, localAddress, opts.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS);
  } catch (err) {
    return { fail: { code: NO_REPLY, latencyMs: 0, queueId: null, errorKind: errorKind(err), connectionLost: true } };
  }
  try {
    const greeting = await conn.read();
    if (greeting.code !== 220) {
      conn.destroy();
      return { fail: { code: greeting.code, latencyMs: 0, queueId: null, errorKind: null, connectionLost: true } };
    }
    conn.write(`EHLO ${opts.helo ?? DEFAULT_HELO}\r\n`);
    const ehlo = await conn.read();
    if (ehlo.code !== 250) {
      conn.destroy();
      return { fail: { code: ehlo.code, latencyMs: 0, queueId: null, errorKind: null, connectionLost: true } };
    }
    const pipelining = ehlo.lines.some((l) => l.toUpperCase().startsWith('PIPELINING'));
    return { conn, pipelining };
  } catch (err) {
    conn.destroy();
    return { fail: { code: NO_REPLY, latencyMs: 0, queueId: null, errorKind: errorKind(err), connectionLost: true } };
  }
}

const DEFAULT_REPLY_TIMEOUT_MS = 30_000; // generous: a loaded server may lag, but a hang must not stall the bench forever
const DEFAULT_HELO = 'bench.client.example';
const RUN_TAG_BYTES = 4;

/** One mail transaction on an open session: MAIL, RCPT…, DATA, body. */
async function sendOne(
  state: LoadState,
  conn: Connection,
  pipelining: boolean,
  index: number,
  scheduled: number,
): Promise<Attempt> {
  const { opts } = state;
  const envelope = [`MAIL FROM:<${opts.mailFrom}>\r\n`, ...opts.rcptTo.map((r) => `RCPT TO:<${r}>\r\n`)];
  const steps = envelope.length + 1; // + DATA
  const fail = (code: number): Attempt => ({
    code,
    latencyMs: 0,
    queueId: null,
    errorKind: null,
    connectionLost: code === 421,
  });
  try {
    if (pipelining) {
      conn.write(envelope.join('') + 'DATA\r\n');
      // Read every reply even after a failure so the stream stays in step.
      let firstBad = 0;
      let dataReply = NO_REPLY;
      for (let s = 0; s < steps; s++) {
        const r = await conn.read();
        if (s === steps - 1) dataReply = r.code;
        else if (r.code !== 250 && r.code !== 251 && firstBad === 0) firstBad = r.code;
      }
      if (dataReply !== 354) return fail(firstBad || dataReply);
      if (firstBad) {
        // The server said 354 although a recipient failed (no valid one would
        // have got 503/554); finish with an empty body so the session stays usable.
        conn.write('.\r\n');
        const r = await conn.read();
        return { ...fail(firstBad), connectionLost: r.code === 421 };
      }
    } else {
      for (const cmd of envelope) {
        conn.write(cmd);
        const r = await conn.read();
        if (r.code !== 250 && r.code !== 251) return fail(r.code);
      }
      conn.write('DATA\r\n');
      const r = await conn.read();
      if (r.code !== 354) return fail(r.code);
    }
    const payload = state.payload(index);
    const sentAt = performance.now();
    conn.writeAll(payload);
    const final = await conn.read();
    const from = opts.ratePerSec ? scheduled : sentAt;
    const latencyMs = performance.now() - from;
    const queueId = final.code === 250 ? (QUEUED_AS.exec(final.text)?.[1] ?? null) : null;
    return { code: final.code, latencyMs, queueId, errorKind: null, connectionLost: final.code === 421 };
  } catch (err) {
    return { code: NO_REPLY, latencyMs: 0, queueId: null, errorKind: errorKind(err), connectionLost: true };
  }
}

/**
 * One client session loop: claims messages until none are left, keeping its
 * connection across messages when `reuse` is on. Every claimed message gets
 * exactly one recorded attempt, so the loop is bounded by the message count.
 */
function localAddressOf(opts: LoadOptions, sessionIndex: number): string | undefined {
  const locals = opts.localAddresses;
  return locals && locals.length > 0 ? locals[sessionIndex % locals.length] : undefined;
}

async function sessionLoop(
  state: LoadState,
  sessionIndex: number,
  preopened: { conn: Connection; pipelining: boolean } | null,
): Promise<void> {
  const { opts } = state;
  const localAddress = localAddressOf(opts, sessionIndex);
  let session: { conn: Connection; pipelining: boolean } | null = preopened;
  let needsRset = false;
  for (let i = state.claim(); i !== -1; i = state.claim()) {
    const scheduled = state.scheduledAt(i);
    if (opts.ratePerSec) await sleepUntil(scheduled);
    if (!session) {
      const opened = await openSession(state, localAddress);
      if ('fail' in opened) {
        state.record(opened.fail);
        continue;
      }
      session = opened;
      needsRset = false;
    }
    if (needsRset) {
      // A failed transaction may leave state behind (e.g. MAIL accepted,
      // RCPT refused); RSET makes the next MAIL FROM valid again.
      session.conn.write('RSET\r\n');
      try {
        await session.conn.read();
      } catch {
        session.conn.destroy();
        session = null;
        state.record({ code: NO_REPLY, latencyMs: 0, queueId: null, errorKind: 'rset-failed', connectionLost: true });
        continue;
      }
    }
    const usePipelining = opts.pipelining === true && session.pipelining;
    if (usePipelining) state.pipelined = true;
    const attempt = await sendOne(state, session.conn, usePipelining, i, scheduled);
    state.record(attempt);
    needsRset = attempt.code !== 250;
    if (attempt.connectionLost) {
      session.conn.destroy();
      session = null;
    } else if (!opts.reuse) {
      await session.conn.quit();
      session = null;
    }
  }
  if (session) await session.conn.quit();
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

/** Summarise latencies (ms) with nearest-rank percentiles. */
export function summarise(latencies: Float64Array): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    max: sorted.length ? sorted[sorted.length - 1]! : 0,
    mean: sorted.length ? sum / sorted.length : 0,
  };
}

function mapToRecord<K extends string | number>(m: Map<K, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of [...m.entries()].sort((a, b) => String(a[0]).localeCompare(String(b[0])))) out[String(k)] = v;
  return out;
}

/**
 * Run an SMTP load against `host:port` and measure it. Never throws for
 * server behaviour: refusals, non-250 replies and broken connections are
 * counted in the report.
 */
export async function runSmtpLoad(opts: LoadOptions): Promise<LoadReport> {
  if (opts.connections < 1 || opts.messages < 0) throw new RangeError('connections must be ≥ 1 and messages ≥ 0');
  const cpuBefore = process.cpuUsage();
  let startAt = performance.now();
  const state = new LoadState(opts, startAt, startAt + opts.maxDurationMs);
  const sessions = Math.min(opts.connections, Math.max(1, opts.messages));
  // Open loop over reused connections: connect (greeting pause, EHLO) before
  // the clock starts, so the schedule measures message latency, not the
  // one-time session set-up of the first message of each session. A session
  // that fails to open here is retried (and counted) by its loop.
  let pre: ({ conn: Connection; pipelining: boolean } | null)[] = [];
  if (opts.ratePerSec && opts.reuse) {
    pre = (
      await Promise.all(Array.from({ length: sessions }, (_, s) => openSession(state, localAddressOf(opts, s))))
    ).map((o) => ('fail' in o ? null : o));
    startAt = performance.now();
    state.startAt = startAt;
    state.deadline = startAt + opts.maxDurationMs;
  }
  await Promise.all(Array.from({ length: sessions }, (_, s) => sessionLoop(state, s, pre[s] ?? null)));
  const cpu = process.cpuUsage(cpuBefore);
  const durationMs = Math.max(0, (state.lastReplyAt || performance.now()) - startAt);
  return {
    attempted: state.attempted,
    accepted: state.accepted,
    notStarted: opts.messages - state.next,
    durationMs,
    msgsPerSec: durationMs > 0 ? (state.accepted * 1000) / durationMs : 0,
    latencyMs: summarise(state.latencies.subarray(0, state.accepted)),
    codes: mapToRecord(state.codes),
    errors: mapToRecord(state.errors),
    queueIds: state.queueIds,
    pipelined: state.pipelined,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}
