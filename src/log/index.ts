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

export interface LogOptions {
  level: string;
  pretty?: boolean;
  /** Destination stream (tests pass their own); default stdout. */
  destination?: NodeJS.WritableStream;
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
  if (opts.pretty) {
    return pino(options, prettyStream(opts.destination ?? process.stderr));
  }
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/** A log field as text: strings as they are, anything else as JSON. */
function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * A dependency-free single-line formatter for development: `time level component msg key=value…`.
 * (pino-pretty would add a transitive tree for a development-only nicety.)
 */
function prettyStream(out: NodeJS.WritableStream): pino.DestinationStream {
  return {
    write(line: string) {
      try {
        const {
          time,
          level,
          msg,
          service: _s,
          pid: _p,
          hostname: _h,
          component,
          ...rest
        } = JSON.parse(line) as Record<string, unknown>;
        const extras = Object.entries(rest)
          .map(([k, v]) => `${k}=${text(v)}`)
          .join(' ');
        out.write(
          `${String(time).slice(11, 23)} ${String(level).toUpperCase().padEnd(5)} ${component ? `[${text(component)}] ` : ''}${text(msg ?? '')} ${extras}\n`,
        );
      } catch {
        out.write(line);
      }
    },
  };
}
