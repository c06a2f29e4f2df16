/**
 * Structured logging (pino). Personal data never reaches a log line: guest
 * names, phones, addresses and bodies are redacted by path wherever they
 * appear in bound fields, and components log ids and counts, not content.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Field paths that may carry personal data; pino replaces their values. */
export const REDACT_PATHS = [
  'guestName',
  'guestNameKana',
  'phone',
  'notes',
  '*.guestName',
  '*.guestNameKana',
  '*.phone',
  '*.notes',
  '*.*.guestName',
  '*.*.phone',
  'mailFrom',
  'rcptTo',
  '*.mailFrom',
  '*.rcptTo',
  'envelope.mailFrom',
  'envelope.rcptTo',
  'body',
  'text',
  'html',
  'raw',
  'subject',
  '*.subject',
  'headers.authorization',
  'req.headers.authorization',
  // Database rows (snake_case) and whole objects that carry guest data.
  'guest_name',
  'guest_name_kana',
  'mail_from',
  'rcpt_to',
  '*.guest_name',
  '*.guest_name_kana',
  '*.mail_from',
  '*.rcpt_to',
  '*.*.guestNameKana',
  '*.*.notes',
  'extraction',
  '*.extraction',
  'changes',
  '*.changes',
  'payload',
  '*.payload',
  'query',
  'req.query',
  'headers.cookie',
  'req.headers.cookie',
  // Credentials, should a settings object ever be logged.
  'secret',
  'apiToken',
  '*.secret',
  '*.secretPrevious',
  '*.apiToken',
];

export type LogFormat = 'auto' | 'pretty' | 'json';

export interface LogOptions {
  level: string;
  /** `auto` (the default): pretty when stderr is a terminal, JSON otherwise. */
  format?: LogFormat;
  /** Deprecated spelling of `format: 'pretty'`. */
  pretty?: boolean;
  /** Destination stream (tests pass their own); default stdout for JSON, stderr for pretty. */
  destination?: NodeJS.WritableStream;
  /** Whether stderr is a terminal (tests); default `process.stderr.isTTY`. */
  isTTY?: boolean;
}

/** The format `auto` resolves to, and the deprecated `pretty` flag folded in. */
export function resolveFormat(opts: Pick<LogOptions, 'format' | 'pretty' | 'isTTY'>): 'pretty' | 'json' {
  const format = opts.pretty && (opts.format ?? 'auto') === 'auto' ? 'pretty' : (opts.format ?? 'auto');
  if (format !== 'auto') return format;
  return (opts.isTTY ?? process.stderr.isTTY === true) ? 'pretty' : 'json';
}

/** Creates the process logger. Components derive child loggers with `{ component }`. */
export function createLogger(opts: LogOptions): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: { service: 'ota-inbound' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // `log.error({ err }, '…')` everywhere: type, message, stack and own fields such as `code`.
    // Anything thrown that is not an Error is logged as it is.
    serializers: { err: pino.stdSerializers.err },
  };
  if (resolveFormat(opts) === 'pretty') {
    return pino(options, prettyStream(opts.destination ?? process.stderr));
  }
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/** A log field as text: strings as they are, anything else as JSON. */
function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Fields the pretty line leaves out: constant per process, or shown in the prefix. */
const PRETTY_OMIT = new Set(['time', 'level', 'msg', 'service', 'pid', 'hostname', 'component']);

/** The mail lines start `<spool id>: <state>`: those two fields need not be repeated. */
function saidInPrefix(k: string, v: unknown, msg: string, record: Record<string, unknown>): boolean {
  if (k === 'spoolId') return msg.startsWith(`${text(v)}:`);
  if (k === 'state') return msg.startsWith(`${text(record.spoolId)}: ${text(v)}`);
  return false;
}

/**
 * One log record as one line a person reads: `HH:MM:SS.mmm LEVEL [component] msg key=value…`.
 * Fields the message already spells out (`store=sakura` in the text) are not
 * repeated, so the Postfix-style mail lines stay one line each. Exported for tests.
 */
export function prettyLine(record: Record<string, unknown>): string {
  const msg = text(record.msg ?? '');
  const extras = Object.entries(record)
    .filter(([k, v]) => !PRETTY_OMIT.has(k) && !msg.includes(`${k}=`) && !saidInPrefix(k, v, msg, record))
    // A value with spaces, quotes or line breaks is quoted, so a record stays one line and splits unambiguously.
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"]/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  const component = record.component ? `[${text(record.component)}] ` : '';
  const line = `${String(record.time).slice(11, 23)} ${String(record.level).toUpperCase().padEnd(5)} ${component}${msg.replace(/[\r\n]+/g, ' ')}`;
  return extras ? `${line} ${extras}` : line;
}

/**
 * A dependency-free single-line formatter (pino-pretty would add a transitive
 * tree for what one function does). Lines it cannot read pass through.
 */
function prettyStream(out: NodeJS.WritableStream): pino.DestinationStream {
  return {
    write(line: string) {
      try {
        out.write(`${prettyLine(JSON.parse(line) as Record<string, unknown>)}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

/** A log line in two forms: bound fields for JSON collectors, and the Postfix-style sentence. */
export interface MailLine {
  fields: Record<string, unknown>;
  msg: string;
}

/** What the accepted-mail line needs from the envelope (src/spool Envelope). */
export interface AcceptedEnvelope {
  mailFrom: string | null;
  clientIp: string;
  helo: string | null;
  tls: { protocol: string } | null;
  store: string | null;
  quarantined: boolean;
  quarantineReason?: string | null;
}

/**
 * The one `info` line per accepted message, Postfix-style:
 * `<spool id>: accepted client=[203.0.113.5] helo=<mx.example> from=<noreply@site.example> store=sakura size=5120 tls=TLSv1.3`.
 * The envelope sender is an address without a display name (an OTA's bounce
 * address or the restaurant's own mailbox), never the guest's name; the field
 * is called `from` (as in Postfix) because `mailFrom` is a redacted path.
 */
export function acceptedLine(spoolId: string, e: AcceptedEnvelope, size: number): MailLine {
  const store = e.quarantined ? 'quarantine' : (e.store ?? 'quarantine');
  const reason = e.quarantined ? (e.quarantineReason ?? 'unknown-recipient') : null;
  const tls = e.tls ? e.tls.protocol : 'none';
  const fields = {
    spoolId,
    client: e.clientIp,
    helo: e.helo,
    from: e.mailFrom ?? '',
    store,
    ...(reason ? { quarantineReason: reason } : {}),
    size,
    tls,
  };
  const msg =
    `${spoolId}: accepted client=[${e.clientIp}] helo=<${e.helo ?? ''}> from=<${e.mailFrom ?? ''}> store=${store}` +
    (reason ? ` quarantineReason=${reason}` : '') +
    ` size=${size} tls=${tls}`;
  return { fields, msg };
}

/**
 * A review reason as it may appear in a log: its code, and its detail only
 * when that is a plain token (`missing:guestName`, `unauthenticated:tabelog`).
 * Details with free text — a digest's missing booking names its guest — are cut.
 */
export function logSafeReason(reason: string): string {
  const i = reason.indexOf(':');
  if (i < 0) return reason;
  const detail = reason.slice(i + 1);
  return /^[A-Za-z0-9_.-]{1,40}$/.test(detail) ? reason : reason.slice(0, i);
}

/** What the outcome line needs: the message, what processing made of it, and where it stands now. */
export interface OutcomeFacts {
  spoolId: string;
  state: string;
  store: string | null;
  source: string | null;
  kind: string;
  event: string | null;
  reservationId: string | null;
  reviewReasons: readonly string[];
  duplicateOf: string | null;
}

/**
 * The one `info` line per processing outcome, e.g.
 * `<id>: processed site=tabelog event=new reservation=12345678 store=sakura`,
 * `<id>: duplicate of=<other id>`, `<id>: review reasons=missing:visitTime,unauthenticated:tabelog`.
 * No guest data: ids, codes and the site only.
 */
export function outcomeLine(o: OutcomeFacts): MailLine {
  const reasons = o.reviewReasons.map(logSafeReason);
  if (o.state === 'review' && reasons.length === 0)
    reasons.push(
      o.kind === 'verification' ? 'verification-mail' : o.kind === 'digest' ? 'digest:missing-reservations' : 'review',
    );
  const fields: Record<string, unknown> = { spoolId: o.spoolId, state: o.state, store: o.store ?? 'quarantine' };
  let msg = `${o.spoolId}: ${o.state}`;
  if (o.state === 'duplicate') {
    fields.of = o.duplicateOf;
    msg += ` of=${o.duplicateOf ?? ''}`;
  } else {
    Object.assign(fields, { site: o.source ?? 'unknown', kind: o.kind });
    msg += ` site=${o.source ?? 'unknown'} kind=${o.kind}`;
    if (o.event) {
      Object.assign(fields, { event: o.event, reservation: o.reservationId });
      msg += ` event=${o.event} reservation=${o.reservationId ?? 'none'}`;
    }
    if (reasons.length > 0) {
      fields.reasons = reasons.join(',');
      msg += ` reasons=${reasons.join(',')}`;
    }
  }
  msg += ` store=${o.store ?? 'quarantine'}`;
  return { fields, msg };
}

/** The line for a failed attempt: the error code, its text, and when it is tried again (or that it is dead). */
export function failureLine(f: {
  spoolId: string;
  code: string;
  reason: string;
  attempts: number;
  nextAttemptAt: number | null;
}): MailLine {
  const next = f.nextAttemptAt === null ? null : new Date(f.nextAttemptAt).toISOString();
  const state = next === null ? 'dead' : 'failed';
  const fields = { spoolId: f.spoolId, state, code: f.code, reason: f.reason, attempts: f.attempts, next };
  const msg =
    `${f.spoolId}: ${state} code=${f.code} attempts=${f.attempts} ` +
    (next === null ? 'next=never (raw kept; replay after fixing the cause)' : `next=${next}`) +
    ` reason=${JSON.stringify(f.reason)}`;
  return { fields, msg };
}
