/**
 * The webhook dispatcher: sends outbox rows (store/outbox.ts) to their
 * endpoints, signed, with bounded concurrency, a per-request time limit, no
 * redirects, and retries with exponential backoff + jitter until the
 * delivery's max age — then it is dead: visible and redeliverable.
 *
 * Ordering: the outbox only hands out the earliest pending delivery of each
 * (reservation, endpoint), so a reservation's events arrive in the order they
 * were recorded. Delivery is at-least-once (a crash mid-request resends after
 * the lease); receivers dedupe on Idempotency-Key.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Config } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { collectOnScrape, type Metrics } from '../monitor/metrics.ts';
import type { DeliveryRow, Outbox, RecordedEvent } from '../store/index.ts';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';
import { Endpoints, OutboxWriter } from './writer.ts';
import { signatureHeader } from './signature.ts';
import { HOUR_MS, backoffMs } from '../shared/index.ts';

/** A claimed delivery's lease outlives its request by this much, so only a crash — never a slow answer — makes it due again. */
const LEASE_MARGIN_MS = 5_000;
/** Bytes of an endpoint's answer kept as the failure reason (and read at most, so the connection can be reused). */
const RESPONSE_EXCERPT_BYTES = 512;
/** Longest Retry-After honoured; beyond it the normal backoff applies. */
const MAX_RETRY_AFTER_MS = 6 * HOUR_MS;
/** setTimeout's ceiling (~24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647;
/** Even with nothing due, look at the outbox this often: rows written by another process (the `replay` command) or whose lease ran out get picked up. */
const IDLE_POLL_MS = 5_000;

export type WebhookSettings = Readonly<Config['webhook']>;

export type AttemptResult = 'delivered' | 'retry' | 'dead';

/** Emitted as `attempt` after every attempt is recorded (tests and progress wait on it). */
export interface AttemptEvent {
  delivery: DeliveryRow;
  result: AttemptResult;
  status: number | null;
  code: ErrorCode | null;
}

export interface DispatcherOptions {
  outbox: Outbox;
  settings: WebhookSettings;
  metrics: Metrics;
  log: Logger;
  version: string;
  clock?: () => number;
  random?: () => number;
}

interface SendOutcome {
  status: number | null;
  code: ErrorCode | null;
  error: string | null;
  retryAfterMs: number | null;
}

function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : null;
}

/** Reads at most `limit` bytes of a response body and drops the rest. */
async function excerpt(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  // The global Response types its body loosely; the bytes are Uint8Array chunks.
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8').replace(/\s+/g, ' ').trim();
}

function networkCode(err: unknown): { code: ErrorCode; error: string } {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return { code: 'WEBHOOK_TIMEOUT', error: 'no answer within webhook.timeoutMs' };
  const cause = e?.cause;
  return {
    code: 'WEBHOOK_CONNECT',
    error: cause?.code ? `${cause.code}: ${cause.message ?? ''}`.trim() : String(e?.message ?? err),
  };
}

/**
 * Sends the outbox. `enqueue` writes a recorded event's deliveries (the
 * pipeline calls it inside the transaction that recorded the event);
 * `afterCommit` wakes the sender once that transaction has committed.
 */
export class Dispatcher extends EventEmitter {
  readonly endpoints: Endpoints;
  private readonly writer: OutboxWriter;
  private readonly o: DispatcherOptions;
  private readonly s: WebhookSettings;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly inflight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Deliveries were queued since the last commit (see afterCommit). */
  private written = false;

  constructor(opts: DispatcherOptions) {
    super();
    this.o = opts;
    this.s = opts.settings;
    this.clock = opts.clock ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.writer = new OutboxWriter(opts.outbox, opts.settings, this.clock);
    this.endpoints = this.writer.endpoints;
    const m = opts.metrics;
    collectOnScrape(m.webhookPending, () => m.webhookPending.set(opts.outbox.stats().pending));
    collectOnScrape(m.webhookOldestPendingAge, () => {
      const oldest = opts.outbox.stats().oldestPendingAt;
      m.webhookOldestPendingAge.set(oldest === null ? 0 : Math.max(0, this.clock() - oldest) / 1000);
    });
    collectOnScrape(m.webhookDead, () => m.webhookDead.set(opts.outbox.stats().dead));
  }

  /** Secrets to sign with: the current one, then the previous one during a rotation. */
  private get secrets(): string[] {
    return [this.s.secret, this.s.secretPrevious].filter((s): s is string => !!s);
  }

  /**
   * Writes one delivery per endpoint of the event's store. Call inside the
   * transaction that recorded the event (the pipeline's batch): both commit or neither.
   */
  enqueue(e: RecordedEvent): void {
    if (this.writer.write(e) > 0) this.written = true;
  }

  /** After the pipeline commits a batch: send what it queued (nothing to do when it queued nothing). */
  afterCommit(): void {
    if (!this.written) return;
    this.written = false;
    this.pump();
  }

  start(): void {
    this.running = true;
    this.pump();
  }

  /** Takes due deliveries up to the concurrency limit and arms a timer for the next one. */
  pump(): void {
    if (!this.running) return;
    const free = this.s.concurrency - this.inflight.size;
    if (free > 0) {
      const now = this.clock();
      let rows: DeliveryRow[];
      try {
        rows = this.o.outbox.claim(now, free, now + this.s.timeoutMs + LEASE_MARGIN_MS);
      } catch (err) {
        this.o.log.error({ err }, 'cannot read due deliveries; will retry');
        this.arm(this.s.retryBaseMs);
        return;
      }
      for (const row of rows) {
        const p = this.send(row).finally(() => {
          this.inflight.delete(row.id);
          this.pump();
        });
        this.inflight.set(row.id, p);
      }
    }
    // With every slot busy a finishing request pumps again; arming a timer
    // for an already-due delivery then would only spin.
    if (this.inflight.size >= this.s.concurrency) return;
    const next = this.o.outbox.nextDueAt();
    this.arm(Math.min(IDLE_POLL_MS, next === null ? IDLE_POLL_MS : next - this.clock()));
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.pump();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, ms)),
    );
    this.timer.unref();
  }

  /**
   * Puts a dead (or delivered) delivery back in the queue with a fresh retry
   * window. Returns the row, `null` when unknown, `'pending'` when it already is.
   */
  redeliver(id: string): DeliveryRow | null | 'pending' {
    const row = this.o.outbox.get(id);
    if (!row) return null;
    const now = this.clock();
    if (!this.o.outbox.redeliver(id, now, now + this.s.maxAgeHours * HOUR_MS)) return 'pending';
    this.o.log.info({ deliveryId: id, endpoint: row.endpoint }, 'delivery queued again by an operator');
    this.pump();
    return this.o.outbox.get(id)!;
  }

  private async send(row: DeliveryRow): Promise<void> {
    const url = this.endpoints.urlOf(row.endpoint);
    if (!url) {
      this.record(
        row,
        'dead',
        {
          status: null,
          code: 'WEBHOOK_ENDPOINT_REMOVED',
          error: `endpoint ${row.endpoint} is not in the configuration`,
          retryAfterMs: null,
        },
        0,
        false,
      );
      return;
    }
    const timestamp = Math.floor(this.clock() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': `ota-inbound/${this.o.version}`,
      'idempotency-key': row.idempotency_key,
      'x-ota-delivery-id': row.id,
      'x-ota-event': row.event,
      'x-ota-attempt': String(row.attempts + 1),
      'x-ota-timestamp': String(timestamp),
      'x-ota-signature': signatureHeader(this.secrets, timestamp, row.payload),
    };
    const started = performance.now();
    let out: SendOutcome;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers,
        body: row.payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.s.timeoutMs),
      });
      const text = await excerpt(res, RESPONSE_EXCERPT_BYTES);
      out = this.classify(res, text);
    } catch (err) {
      out = { status: null, retryAfterMs: null, ...networkCode(err) };
    }
    const durationMs = performance.now() - started;
    this.o.metrics.webhookDuration.observe(durationMs / 1000);
    const result: AttemptResult = out.code === null ? 'delivered' : ERROR_CODES[out.code].transient ? 'retry' : 'dead';
    this.record(row, result, out, durationMs, true);
  }

  private classify(res: Response, text: string): SendOutcome {
    const s = res.status;
    const base = { status: s, retryAfterMs: null };
    const said = text ? `: ${text}` : '';
    if (s >= 200 && s < 300) return { ...base, code: null, error: null };
    if (s === 408 || s === 429 || s >= 500) {
      return {
        ...base,
        code: 'WEBHOOK_STATUS_RETRY',
        error: `HTTP ${s}${said}`,
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), this.clock()),
      };
    }
    if (s >= 300 && s < 400)
      return {
        ...base,
        code: 'WEBHOOK_REDIRECT',
        error: `HTTP ${s} to ${res.headers.get('location') ?? '(no location)'}: redirects are not followed; fix the endpoint URL`,
      };
    if (s >= 400 && s < 500) return { ...base, code: 'WEBHOOK_REJECTED', error: `HTTP ${s}${said}` };
    return { ...base, code: 'WEBHOOK_STATUS_OTHER', error: `HTTP ${s}${said}` };
  }

  private record(
    row: DeliveryRow,
    result: AttemptResult,
    out: SendOutcome,
    durationMs: number,
    attempted: boolean,
  ): void {
    const now = this.clock();
    const attempts = row.attempts + (attempted ? 1 : 0);
    const a = {
      id: row.id,
      now,
      status: out.status,
      durationMs: Math.round(durationMs),
      code: out.code,
      error: out.error?.slice(0, 1000) ?? null,
    };
    const log = this.o.log;
    const bound = {
      deliveryId: row.id,
      endpoint: row.endpoint,
      event: row.event,
      attempts,
      status: out.status,
      code: out.code,
    };
    let final = result;
    try {
      if (result === 'delivered') {
        this.o.outbox.markDelivered(a);
        log.debug(bound, 'webhook delivered');
      } else if (result === 'retry' && now >= row.expires_at) {
        final = 'dead';
        this.o.outbox.markDead({
          ...a,
          code: 'WEBHOOK_EXPIRED',
          error: `retries stopped after ${this.s.maxAgeHours} h; last: ${a.error ?? out.code}`,
          attempted,
        });
        log.error({ ...bound, code: 'WEBHOOK_EXPIRED' }, 'webhook delivery expired (dead; redeliver from the API)');
      } else if (result === 'retry') {
        const backoff = backoffMs(attempts, this.s.retryBaseMs, this.s.retryMaxMs, this.random);
        const next = Math.min(row.expires_at, now + Math.max(backoff, out.retryAfterMs ?? 0));
        this.o.outbox.markRetry({ ...a, next });
        log.warn({ ...bound, retryInMs: next - now }, 'webhook attempt failed; will retry');
      } else {
        this.o.outbox.markDead({ ...a, attempted });
        log.error(bound, 'webhook delivery failed permanently (dead; redeliver from the API)');
      }
    } catch (err) {
      // The lease keeps the row pending: it is tried again once the lease ends.
      log.error({ ...bound, err }, 'cannot record a webhook attempt; it will be repeated');
      return;
    }
    this.o.metrics.webhookDeliveries.inc({ result: final });
    if (out.code)
      this.o.metrics.webhookFailures.inc({
        reason: final === 'dead' && result === 'retry' ? 'WEBHOOK_EXPIRED' : out.code,
      });
    const event: AttemptEvent = {
      delivery: this.o.outbox.get(row.id) ?? row,
      result: final,
      status: out.status,
      code: out.code,
    };
    this.emit('attempt', event);
  }

  /** Deliveries being sent now. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Stops taking work and waits for requests in flight (each bounded by webhook.timeoutMs) to be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inflight.values()]);
  }
}
