/**
 * The pipeline: takes committed spool records into the database (intake),
 * parses them in the worker pool, and persists outcomes in batched
 * transactions. Failures are retried with backoff and end, at worst, as
 * dead letters with their raw bytes kept — never dropped.
 *
 * Scheduling (docs/architecture.md): fresh mail is handed over in memory, with
 * its bytes, straight from the spool commit — no database read, no disk read —
 * and goes first. Spare capacity drains the backlog (mail left from a restart,
 * a burst that outran the workers, a replay) by a keyset scan in received
 * order, and retries whose time has come. New mail therefore keeps its latency
 * while a 100,000-message backlog drains at full speed.
 */
import { EventEmitter } from 'node:events';
import type { Config } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../monitor/metrics.ts';
import type { Spool, SpoolRecord, SpoolCursor } from '../spool/index.ts';
import { WAITING_STATES, inStates, rawLocation, type ApplyResult, type Store, type WorkRow } from '../store/index.ts';
import { CodedError, ERROR_CODES, errorCode } from '../errors.ts';
import { ParserPool } from './pool.ts';
import { InflightLog } from './inflight.ts';
import type { WorkerResult } from './worker.ts';
import type { SiteDefinition } from '../extract/index.ts';
import { authMetricLabels, authTaskFields, type AuthSettings } from '../auth/index.ts';
import { backoffMs } from '../shared/index.ts';

export { ParserPool } from './pool.ts';
export { InflightLog } from './inflight.ts';
export { replay, type ReplayReport, type ReplaySelection, type ReplayChange } from './replay.ts';

/** Records inserted per transaction while recovering a backlog from the spool. */
const RECOVERY_BATCH = 1_000;
/** Tasks in flight per worker: enough to hide the read/transfer latency between tasks. */
const INFLIGHT_PER_WORKER = 8;
/**
 * Fresh messages held in memory with their bytes, waiting for a worker. Past
 * this the bytes are dropped and the backlog scan reads them from the spool
 * later: a burst cannot grow memory without bound.
 */
const FRESH_QUEUE_MAX_BYTES = 64 * 1024 * 1024;
/** How long finished outcomes wait to share one transaction (adds at most this to accept→persisted). */
const PERSIST_WINDOW_MS = 10;

export interface PipelineOptions {
  store: Store;
  spool: Spool;
  metrics: Metrics;
  log: Logger;
  sites: SiteDefinition[];
  /** The `pipeline.*` settings. */
  settings: Readonly<Config['pipeline']>;
  /** Sender authentication in the workers (src/auth); off when absent. */
  auth?: AuthSettings;
  clock?: () => number;
  /** Crash-loop guard (see inflight.ts); off when absent (tools). */
  inflightLog?: InflightLog;
  /** Called after each persisted batch with the reservation events written (outbox, webhooks). */
  onApplied?: (results: { row: WorkRow; result: ApplyResult }[]) => void;
}

interface Finished {
  row: WorkRow;
  result?: WorkerResult;
  error?: CodedError;
}

interface Fresh {
  row: WorkRow;
  raw: Buffer;
}

function workRowOf(rec: SpoolRecord): WorkRow {
  return {
    id: rec.id,
    received_at: rec.receivedAt,
    spool_segment: rec.ref.segment,
    spool_offset: rec.ref.offset,
    header_length: rec.ref.headerLength,
    size: rec.size,
    raw_path: null,
    raw_purged_at: null,
    store: rec.envelope.store,
    quarantined: rec.envelope.quarantined ? 1 : 0,
    attempts: 0,
    client_ip: rec.envelope.clientIp,
    helo: rec.envelope.helo,
    mail_from: rec.envelope.mailFrom,
    auth: null,
    error_code: null,
  };
}

const SCAN_START = { t: -1, id: '' };

/**
 * Emits `persisted` (ids) after every batch commit, success or failure, and
 * `retrying` (error code) when a database write failed and will be retried, so
 * callers (tests, replay progress) can wait on real progress, not timers.
 */
export class Pipeline extends EventEmitter {
  readonly pool: ParserPool;
  private readonly o: PipelineOptions;
  private readonly clock: () => number;
  private readonly inflight = new Set<string>();
  private intakeBuffer: { rec: SpoolRecord; fresh: Fresh }[] = [];
  private intakeCursor: SpoolCursor | null = null;
  private intakeScheduled = false;
  private fresh: Fresh[] = [];
  private freshBytes = 0;
  /** Where the backlog scan continues; reset to the start when it runs dry. */
  private scanAfter = SCAN_START;
  /** False while the last backlog scan found nothing and nothing new may have appeared since. */
  private backlogMaybe = true;
  private finished: Finished[] = [];
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private running = false;
  private idleWaiters: (() => void)[] = [];
  /** Messages in flight when the previous process died: retried one at a time, alone. */
  private suspects: string[] = [];
  private solo = false;
  /** Set when an intake insert failed: the records are durable, re-read them from the cursor. */
  private intakeBehind = false;

  constructor(opts: PipelineOptions) {
    super();
    this.o = opts;
    this.clock = opts.clock ?? Date.now;
    this.pool = new ParserPool({
      size: opts.settings.workers,
      timeoutMs: opts.settings.parseTimeoutMs,
      maxOldGenerationSizeMb: opts.settings.workerMaxMemoryMb,
      workerData: { sites: opts.sites, auth: opts.auth },
    });
  }

  /**
   * Takes spool records not yet in the database (crash recovery), then starts
   * processing. Call before SMTP listens so intake order stays the commit order.
   */
  async start(): Promise<number> {
    const recovered = await this.recover();
    this.takeSuspects();
    this.running = true;
    this.pump();
    return recovered;
  }

  /** Charges one attempt to each message the previous process died with, and queues it to run alone. */
  private takeSuspects(): void {
    const ids = this.o.inflightLog?.open() ?? [];
    if (ids.length === 0) return;
    const err = new CodedError('PROCESS_CRASHED');
    this.o.store.transaction(() => {
      for (const id of ids) {
        const row = this.o.store.message(id);
        if (!row || !inStates(WAITING_STATES, row.state)) continue;
        this.fail(row, err, 0);
        if (row.attempts + 1 < this.o.settings.maxAttempts) this.suspects.push(id);
      }
    });
    this.o.log.warn(
      { suspects: ids.length },
      'the previous process died while processing messages: retrying them one at a time',
    );
  }

  /** Re-reads the journal from the database cursor; returns how many records were taken in. */
  async recover(): Promise<number> {
    let batch: SpoolRecord[] = [];
    let cursor: SpoolCursor | null = null;
    let n = 0;
    for await (const rec of this.o.spool.journal.scan(this.o.store.cursor())) {
      batch.push(rec);
      cursor = { segment: rec.ref.segment, offset: rec.end };
      if (batch.length >= RECOVERY_BATCH) {
        this.o.store.recordSpooled(batch, cursor);
        n += batch.length;
        batch = [];
      }
    }
    if (cursor && batch.length > 0) this.o.store.recordSpooled(batch, cursor);
    n += batch.length;
    if (n > 0) this.o.log.info({ recovered: n }, 'took spooled messages into the database');
    this.wake();
    return n;
  }

  /** Spool commit hook: queue records (and their bytes) for one batched insert on the next turn. */
  intake(records: SpoolRecord[], bodies: Buffer[][]): void {
    if (records.length === 0) return;
    const last = records.at(-1)!;
    for (const [i, rec] of records.entries())
      this.intakeBuffer.push({ rec, fresh: { row: workRowOf(rec), raw: Buffer.concat(bodies[i] ?? []) } });
    this.intakeCursor = {
      segment: last.ref.segment,
      offset: last.ref.offset + 16 + last.ref.headerLength + last.ref.bodyLength,
    };
    if (!this.intakeScheduled) {
      this.intakeScheduled = true;
      setImmediate(() => this.flushIntake());
    }
  }

  private flushIntake(): void {
    this.intakeScheduled = false;
    const batch = this.intakeBuffer;
    const cursor = this.intakeCursor!;
    this.intakeBuffer = [];
    try {
      if (this.intakeBehind) throw new CodedError('STORE_BUSY', 'intake is catching up from the spool');
      this.o.store.recordSpooled(
        batch.map((b) => b.rec),
        cursor,
      );
    } catch (err) {
      // The messages are safe in the spool; the cursor did not move. Re-read from it.
      if (!this.intakeBehind)
        this.o.log.error({ code: errorCode(err), err }, 'intake insert failed; will re-read the spool');
      this.intakeBehind = true;
      this.emit('retrying', errorCode(err));
      this.scheduleRetry(this.o.settings.retryBaseMs);
      return;
    }
    for (const { fresh: f } of batch) {
      if (this.freshBytes + f.raw.length > FRESH_QUEUE_MAX_BYTES) {
        this.backlogMaybe = true; // its bytes stay on disk; the backlog scan will find it
        continue;
      }
      this.fresh.push(f);
      this.freshBytes += f.raw.length;
    }
    this.pump();
  }

  /** Tells the scheduler the database may hold due messages it has not seen (replay, API, recovery). */
  wake(): void {
    this.backlogMaybe = true;
    this.scanAfter = SCAN_START;
    this.pump();
  }

  /** Fills free worker capacity: fresh mail first, then due retries and the backlog. */
  pump(): void {
    if (!this.running || this.solo) return;
    if (this.suspects.length > 0) {
      // A suspect runs with nothing else in flight: if it kills the process
      // again, it alone is charged for it.
      if (this.inflight.size > 0) return;
      const row = this.o.store.message(this.suspects.shift()!);
      if (row && row.state === 'failed') {
        this.solo = true;
        this.process(row);
        return;
      }
      return this.pump();
    }
    let capacity = this.o.settings.workers * INFLIGHT_PER_WORKER - this.inflight.size;
    while (capacity > 0 && this.fresh.length > 0) {
      const f = this.fresh.shift()!;
      this.freshBytes -= f.raw.length;
      if (this.inflight.has(f.row.id)) continue;
      this.process(f.row, f.raw);
      capacity -= 1;
    }
    if (capacity > 0) {
      try {
        for (const row of this.o.store.dueRetries(capacity, this.clock())) {
          if (this.inflight.has(row.id)) continue;
          this.process(row);
          capacity -= 1;
        }
        if (capacity > 0 && this.backlogMaybe) this.scanBacklog(capacity);
      } catch (err) {
        this.o.log.error({ code: errorCode(err), err }, 'cannot read due messages');
        this.scheduleRetry(this.o.settings.retryBaseMs);
        return;
      }
    }
    if (this.inflight.size === 0) {
      this.scheduleNextDue();
      this.notifyIdle();
    }
  }

  private scanBacklog(capacity: number): void {
    // Fresh mail waiting in memory is also pending in the database: skip it here.
    let rows = this.o.store.backlog(this.scanAfter, capacity);
    if (rows.length === 0 && this.scanAfter !== SCAN_START) {
      this.scanAfter = SCAN_START;
      rows = this.o.store.backlog(this.scanAfter, capacity);
    }
    if (rows.length === 0) {
      this.backlogMaybe = false;
      return;
    }
    const last = rows.at(-1)!;
    this.scanAfter = { t: last.received_at, id: last.id };
    const queued = this.fresh.length > 0 ? new Set(this.fresh.map((f) => f.row.id)) : null;
    for (const row of rows) if (!this.inflight.has(row.id) && !queued?.has(row.id)) this.process(row);
  }

  private scheduleNextDue(): void {
    const next = this.o.store.nextDueAt();
    if (next !== null) this.scheduleRetry(Math.max(0, next - this.clock()));
  }

  private scheduleRetry(ms: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.intakeBehind) {
        void this.recover().then(
          () => {
            this.intakeBehind = false;
            this.wake();
          },
          () => this.scheduleRetry(this.o.settings.retryBaseMs),
        );
      } else this.pump();
    }, ms);
    this.retryTimer.unref();
  }

  private process(row: WorkRow, raw?: Buffer): void {
    this.inflight.add(row.id);
    this.o.inflightLog?.add(row.id);
    (raw ? Promise.resolve(raw) : this.o.spool.readRaw(rawLocation(row)))
      .then((bytes) => {
        // An own, exactly-sized buffer so it is transferred to the worker, not cloned.
        const copy =
          bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
        return this.pool.run(
          { id: row.id, raw: copy, exclusive: row.error_code === 'PARSE_WORKER_CRASHED', ...authTaskFields(row) },
          [copy.buffer as ArrayBuffer],
        );
      })
      .then(
        (result) => this.finish({ row, result }),
        (err: unknown) =>
          this.finish({
            row,
            error: err instanceof CodedError ? err : new CodedError(errorCode(err), (err as Error).message),
          }),
      );
  }

  private finish(f: Finished): void {
    this.finished.push(f);
    if (this.finished.length >= this.o.settings.batchSize) this.flushFinished();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      // A short window gathers the outcomes finishing together into one
      // transaction: a commit costs far more than a row.
      setTimeout(() => this.flushFinished(), PERSIST_WINDOW_MS);
    }
  }

  private flushFinished(): void {
    this.flushScheduled = false;
    const batch = this.finished;
    this.finished = [];
    if (batch.length === 0) return;
    const applied: { row: WorkRow; result: ApplyResult; source: string | null; kind: string }[] = [];
    try {
      this.o.store.transaction(() => {
        for (const f of batch) {
          if (f.result?.ok) {
            const { extraction } = f.result.outcome;
            applied.push({
              row: f.row,
              result: this.o.store.applyOutcome(f.row, { id: f.row.id, ...f.result.outcome }),
              source: extraction.source,
              kind: extraction.kind,
            });
          } else
            this.fail(
              f.row,
              f.error ?? new CodedError('PARSE_FAILED', f.result && !f.result.ok ? f.result.message : 'unknown'),
            );
        }
      });
    } catch (err) {
      // The whole batch rolls back; every message in it stays due and is retried.
      const code = errorCode(err);
      this.o.metrics.failures.inc({ reason: code }, batch.length);
      this.o.log.error({ code, messages: batch.length, err }, 'persisting a batch failed; will retry');
      for (const f of batch) this.inflight.delete(f.row.id);
      this.backlogMaybe = true;
      this.emit('retrying', code);
      this.scheduleRetry(this.o.settings.retryBaseMs);
      this.emit(
        'persisted',
        batch.map((f) => f.row.id),
      );
      this.notifyIdle();
      return;
    }
    const now = this.clock();
    for (const f of batch) this.inflight.delete(f.row.id);
    if (this.inflight.size === 0) {
      this.solo = false;
      this.o.inflightLog?.clear();
    }
    for (const f of batch)
      if (f.result?.ok)
        this.o.metrics.senderAuth.inc(authMetricLabels(f.result.outcome.extraction.source, f.result.outcome.auth));
    for (const { row, result, source: src, kind } of applied) {
      const source = src ?? 'none';
      this.o.metrics.processed.inc({ source, kind, result: result.state });
      this.o.metrics.acceptToPersisted.observe(Math.max(0, now - row.received_at) / 1000);
      if (src) this.o.metrics.lastProcessed.set({ source }, now / 1000);
      if (result.duplicateOf) this.o.metrics.duplicates.inc({ source });
      for (const e of result.events) this.o.metrics.reservations.inc({ source, event: e.event });
    }
    if (applied.length > 0) {
      this.o.metrics.lastProcessed.set({ source: 'all' }, now / 1000);
      this.o.onApplied?.(applied.map(({ row, result }) => ({ row, result })));
    }
    this.emit(
      'persisted',
      batch.map((f) => f.row.id),
    );
    this.pump();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.inflight.size === 0 && !this.flushScheduled && !this.intakeScheduled)
      for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Inside the batch transaction: failed with a retry time, or dead when out of tries or permanent. */
  private fail(row: WorkRow, err: CodedError, delayMs?: number): void {
    const attempts = row.attempts + 1;
    const permanent = !ERROR_CODES[err.code]?.transient;
    const dead = permanent || attempts >= this.o.settings.maxAttempts;
    const next = dead ? 0 : this.clock() + (delayMs ?? backoffMs(attempts, this.o.settings.retryBaseMs));
    this.o.store.recordFailure(row.id, {
      state: dead ? 'dead' : 'failed',
      code: err.code,
      message: err.message,
      nextAttemptAt: next,
    });
    this.o.metrics.failures.inc({ reason: err.code });
    if (dead) this.o.metrics.deadLettered.inc({ reason: err.code });
    this.o.log[dead ? 'error' : 'warn'](
      { spoolId: row.id, code: err.code, attempts, dead },
      dead ? 'message dead-lettered (raw kept; replay after fixing the cause)' : 'processing failed; will retry',
    );
  }

  /** Number of messages being parsed or waiting for their batch commit. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Resolves when nothing is in flight (tests, graceful shutdown). */
  idle(): Promise<void> {
    if (this.inflight.size === 0 && !this.intakeScheduled && !this.flushScheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops scheduling, lets in-flight work finish and persist, closes the workers. */
  async close(): Promise<void> {
    if (this.intakeScheduled) this.flushIntake();
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.idle();
    await this.pool.close();
    this.o.inflightLog?.close();
  }
}
