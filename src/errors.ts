/**
 * One catalogue of coded errors. Logs, metrics and stored failure reasons use
 * `code` (a small fixed set), never the message text, so dashboards and alerts
 * can group by it. `transient` says whether retrying the same work may succeed.
 */
export const ERROR_CODES = {
  SPOOL_NO_SPACE: { transient: true, text: 'the spool disk is full' },
  SPOOL_IO: { transient: true, text: 'the spool could not write or sync the message' },
  SPOOL_CLOSED: { transient: true, text: 'the spool is shutting down' },
  SPOOL_CORRUPT: { transient: false, text: 'a spool record failed its checksum' },
  SPOOL_MISSING: { transient: false, text: 'the raw message is no longer in the spool' },
  PARSE_TIMEOUT: { transient: true, text: 'parsing took longer than the parse timeout' },
  PARSE_WORKER_CRASHED: { transient: true, text: 'the parser worker died while parsing' },
  PROCESS_CRASHED: {
    transient: true,
    text: 'the server process died while this message was being processed; it is retried alone',
  },
  PARSE_RESOURCE_LIMIT: { transient: false, text: 'the parser worker ran out of memory on this message' },
  PARSE_FAILED: { transient: false, text: 'the message could not be parsed' },
  STORE_BUSY: { transient: true, text: 'the database was busy or locked' },
  STORE_IO: { transient: true, text: 'the database could not be written' },
  WEBHOOK_TIMEOUT: { transient: true, text: 'the webhook endpoint did not answer within webhook.timeoutMs' },
  WEBHOOK_CONNECT: {
    transient: true,
    text: 'the webhook endpoint could not be reached (connection refused, reset, DNS, TLS)',
  },
  WEBHOOK_STATUS_RETRY: { transient: true, text: 'the webhook endpoint answered 408, 429 or 5xx' },
  WEBHOOK_REJECTED: { transient: false, text: 'the webhook endpoint answered a 4xx other than 408/429' },
  WEBHOOK_REDIRECT: { transient: false, text: 'the webhook endpoint answered a redirect (redirects are not followed)' },
  WEBHOOK_STATUS_OTHER: {
    transient: false,
    text: 'the webhook endpoint answered a status that is neither success nor retryable',
  },
  WEBHOOK_EXPIRED: { transient: false, text: 'retries stopped after webhook.maxAgeHours' },
  WEBHOOK_ENDPOINT_REMOVED: { transient: false, text: "the delivery's endpoint is no longer configured" },
  INTERNAL: { transient: true, text: 'unexpected internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error that carries a catalogue code. */
export class CodedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_CODES[code].text,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CodedError';
  }

  get transient(): boolean {
    return ERROR_CODES[this.code].transient;
  }
}

/** Maps any thrown value to a catalogue code (SQLite busy/locked → STORE_BUSY, etc.). */
export function errorCode(err: unknown): ErrorCode {
  if (err instanceof CodedError) return err.code;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (
      code === 'SQLITE_BUSY' ||
      code === 'SQLITE_LOCKED' ||
      code.startsWith('SQLITE_BUSY_') ||
      code.startsWith('SQLITE_LOCKED_')
    )
      return 'STORE_BUSY';
    if (code.startsWith('SQLITE_')) return 'STORE_IO';
    if (code === 'ENOSPC' || code === 'EDQUOT') return 'SPOOL_NO_SPACE';
    if (code in ERROR_CODES) return code as ErrorCode;
  }
  return 'INTERNAL';
}
