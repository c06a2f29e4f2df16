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
import { failureLine, outcomeLine, type Logger } from '../log/index.ts';
import type { Metrics } from '../monitor/metrics.ts';
import {
  recordEnd,
  type DamagedSpan,
  type Journal,
  type Spool,
  type SpoolCursor,
  type SpoolRecord,
  type SpoolRef,
} from '../spool/index.ts';
import {
  WAITING_STATES,
  inStates,
  rawLocation,
  type ApplyResult,
  type RecordedEvent,
  type Store,
  type WorkRow,
} from '../store/index.ts';
import { CodedError, ERROR_CODES, errorCode } from '../errors.ts';
import { ParserPool } from './pool.ts';
import { InflightLog } from './inflight.ts';
import type { WorkerResult } from './worker.ts';
import type { SiteDefinition } from '../extract/index.ts';
import { authMetricLabels, authTaskFields, type AuthSettings } from '../auth/index.ts';
import { backoffMs } from '../shared/index.ts';

export { ParserPool } from './pool.ts';
export { InflightLog } from './inflight.ts';
export { reconcile, unreconciled, type ReconcileReport } from './reconcile.ts';
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
/** Longest wait between retries of a failing database write: a lock held for minutes still sees a try every few seconds. */
const MAX_DB_RETRY_MS = 5_000;
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
  /**
   * Where the reservation events of a batch go (webhook deliveries): written
   * inside the batch's transaction, so events and deliveries commit together.
   * None: events are recorded and nothing is queued for them.
   */
  outbox?: EventOutbox;
  /** Called after each persisted batch with the reservation events written (outbox, webhooks). */
  onApplied?: (results: { row: WorkRow; result: ApplyResult }[]) => void;
}

/**
 * Writes what a recorded reservation event leads to (src/deliver's
 * OutboxWriter and Dispatcher.enqueue fit). Called inside the transaction
 * that recorded the event; throwing rolls the whole batch back.
 */
export interface EventOutbox {
  write(event: RecordedEvent): unknown;
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

/**
 * Records every journal entry after the database cursor (or after `from`) in
 * order, in batches, each batch with the cursor in one transaction; returns how
 * many records were taken in. Damaged spans are recorded as they are met. A
 * failed write throws, leaving the cursor after the last committed batch.
 */
export async function takeSpooled(
  store: Store,
  journal: Journal,
  opts: { from?: SpoolCursor; onBatch?: (records: number, damage: DamagedSpan[], cursor: SpoolCursor) => void } = {},
): Promise<number> {
  let records: SpoolRecord[] = [];
  let damage: DamagedSpan[] = [];
  let cursor: SpoolCursor | null = null;
  let n = 0;
  const commit = () => {
    store.recordSpooled(records, cursor!, damage);
    n += records.length;
    opts.onBatch?.(records.length, damage, cursor!);
    records = [];
    damage = [];
  };
  for await (const e of journal.scan(opts.from ?? store.cursor())) {
    if (e.kind === 'damage') damage.push(e);
    else records.push(e);
    cursor = { segment: e.kind === 'damage' ? e.segment : e.ref.segment, offset: e.end };
    if (records.length + damage.length >= RECOVERY_BATCH) commit();
  }
  if (records.length + damage.length > 0) commit();
  return n;
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
/** True when `ref` is the record right after `cursor` (the same segment, or the start of the next one). */
function follows(cursor: SpoolCursor, ref: SpoolRef): boolean {
  return ref.segment === cursor.segment
    ? ref.offset === cursor.offset
    : ref.segment === cursor.segment + 1 && ref.offset === 0;
}

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
  /** Mirror of the database's spool cursor after the last intake commit. */
  private intakeCursor: SpoolCursor = { segment: 0, offset: 0 };
  /**
   * `fresh`: committed records are handed over in memory, batch by batch, each
   * batch contiguous with the cursor. `catching-up`: an intake failed (or a gap
   * appeared); one sequential re-read of the journal from the cursor runs until
   * it reaches the end the journal has committed, then fresh hand-over resumes.
   */
  private intakeMode: 'fresh' | 'catching-up' = 'fresh';
  /** Records committed by this process and not yet recorded in the database (they count as pending). */
  private unrecorded = 0;
  /** When the pipeline last moved (an intake or an outcome batch committed); for stall detection. */
  private lastProgressAt: number;
  /** Consecutive failed database writes, for the retry backoff. */
  private dbFailures = 0;
  private retryAt = Infinity;
  /** Set by {@link halt}: a crash emulation; nothing is written any more. */
  private halted = false;
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

  constructor(opts: PipelineOptions) {
    super();
    this.o = opts;
    this.clock = opts.clock ?? Date.now;
    this.lastProgressAt = this.clock();
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
    this.intakeCursor = this.o.store.cursor();
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

  /**
   * Re-reads the journal from the database cursor to its end, recording every
   * record (and damaged span) in order; returns how many records were taken in.
   * Throws when a database write fails: the cursor then stays after the last
   * batch that committed, so nothing is skipped.
   */
  async recover(): Promise<number> {
    const n = await takeSpooled(this.o.store, this.o.spool.journal, {
      onBatch: (records, damage, cursor) => {
        this.intakeCursor = cursor;
        this.settleUnrecorded(records);
        for (const d of damage)
          this.o.log.error(
            {
              code: 'SPOOL_CORRUPT',
              segment: d.segment,
              offset: d.offset,
              bytes: d.end - d.offset,
              spoolId: d.id,
              ...(d.otherIds && { otherIds: d.otherIds }),
            },
            'damaged spool record kept and reported',
          );
      },
    });
    if (n > 0) {
      this.o.log.info({ recovered: n }, 'took spooled messages into the database');
      this.progressed();
    }
    this.wake();
    return n;
  }

  /** Spool commit hook: queue records (and their bytes) for one batched insert on the next turn. */
  intake(records: SpoolRecord[], bodies: Buffer[][]): void {
    if (records.length === 0) return;
    this.unrecorded += records.length;
    // While catching up, the re-read takes these from disk (it runs until it reaches the journal's end).
    if (this.intakeMode !== 'fresh') return;
    for (const [i, rec] of records.entries()) {
      // The SMTP front end hands one buffer per message: take it as is (a copy of a 25 MB mail costs 25 MB more).
      const body = bodies[i] ?? [];
      this.intakeBuffer.push({
        rec,
        fresh: { row: workRowOf(rec), raw: body.length === 1 ? body[0]! : Buffer.concat(body) },
      });
    }
    if (!this.intakeScheduled) {
      this.intakeScheduled = true;
      setImmediate(() => this.flushIntake());
    }
  }

  private flushIntake(): void {
    this.intakeScheduled = false;
    if (this.halted) return;
    const batch = this.intakeBuffer;
    this.intakeBuffer = [];
    if (batch.length === 0 || this.intakeMode !== 'fresh') return;
    if (!follows(this.intakeCursor, batch[0]!.rec.ref)) {
      // Defensive: never record past a gap; the re-read fills it in order.
      this.startCatchUp(new CodedError('STORE_BUSY', 'a spool record reached intake out of order'));
      return;
    }
    const cursor = recordEnd(batch.at(-1)!.rec.ref);
    try {
      this.o.store.recordSpooled(
        batch.map((b) => b.rec),
        cursor,
      );
    } catch (err) {
      // The messages are safe in the spool and the cursor did not move: re-read from it.
      this.startCatchUp(err);
      return;
    }
    this.intakeCursor = cursor;
    this.settleUnrecorded(batch.length);
    this.progressed();
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

  /** Switches intake to one sequential re-read of the journal (never two at once). */
  private startCatchUp(err: unknown): void {
    this.intakeBuffer = [];
    if (this.intakeMode === 'catching-up') return;
    this.intakeMode = 'catching-up';
    this.o.log.error({ code: errorCode(err), err }, 'intake insert failed; re-reading the spool from the cursor');
    this.emit('retrying', errorCode(err));
    void this.catchUp();
  }

  private async catchUp(): Promise<void> {
    let failures = 0;
    while (this.intakeMode === 'catching-up' && !this.halted) {
      const seq = this.o.spool.journal.commitSeq;
      try {
        const n = await this.recover();
        // Caught up when a whole re-read found nothing new and nothing was
        // committed meanwhile: from here on every commit is handed over fresh,
        // contiguous with the cursor (this check and the switch run in one turn).
        if (n === 0 && this.o.spool.journal.commitSeq === seq) {
          this.intakeMode = 'fresh';
          this.o.log.info({ cursor: this.intakeCursor }, 'intake caught up with the spool');
          this.wake();
          return;
        }
        failures = 0;
      } catch (err) {
        failures += 1;
        this.emit('retrying', errorCode(err));
        if (failures === 1)
          this.o.log.warn({ code: errorCode(err), err }, 'spool re-read could not write to the database; retrying');
        // Its own timer: new mail arriving meanwhile never postpones it.
        await new Promise((resolve) =>
          setTimeout(resolve, backoffMs(failures, this.o.settings.retryBaseMs, MAX_DB_RETRY_MS)).unref(),
        );
      }
    }
  }

  private settleUnrecorded(n: number): void {
    this.unrecorded = Math.max(0, this.unrecorded - n);
  }

  private progressed(): void {
    this.lastProgressAt = this.clock();
    this.dbFailures = 0;
  }

  /**
   * Messages spooled but not settled that the database cannot count yet:
   * committed to the journal and waiting for intake. Add to the database's
   * pending figure for the real backlog.
   */
  get unrecordedCount(): number {
    return this.unrecorded;
  }

  /**
   * Seconds since the pipeline last advanced while work was waiting, or 0 when
   * it is idle or moving. `dueWork` says whether the database holds due work.
   */
  stalledSeconds(dueWork: boolean): number {
    const waiting = this.unrecorded > 0 || this.fresh.length > 0 || this.inflight.size > 0 || dueWork;
    return waiting ? Math.max(0, this.clock() - this.lastProgressAt) / 1000 : 0;
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

  /** Arms the retry timer; a timer due sooner is kept, so a stream of failures can never postpone it forever. */
  private scheduleRetry(ms: number): void {
    const at = this.clock() + ms;
    if (this.retryTimer && this.retryAt <= at) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryAt = at;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retryAt = Infinity;
      this.pump();
    }, ms);
    this.retryTimer.unref();
  }

  /** After a failed database write: back off on consecutive failures, bounded. */
  private scheduleDbRetry(): void {
    this.dbFailures += 1;
    this.scheduleRetry(backoffMs(this.dbFailures, this.o.settings.retryBaseMs, MAX_DB_RETRY_MS));
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
    if (this.halted) return;
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
    if (this.halted) return;
    const batch = this.finished;
    this.finished = [];
    if (batch.length === 0) return;
    const applied: { row: WorkRow; result: ApplyResult; source: string | null; kind: string }[] = [];
    try {
      this.o.store.transaction(() => {
        for (const f of batch) {
          if (f.result?.ok) {
            const { extraction } = f.result.outcome;
            const result = this.o.store.applyOutcome(f.row, { id: f.row.id, ...f.result.outcome });
            for (const e of result.events) this.o.outbox?.write(e);
            applied.push({ row: f.row, result, source: extraction.source, kind: extraction.kind });
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
      this.scheduleDbRetry();
      this.emit(
        'persisted',
        batch.map((f) => f.row.id),
      );
      this.notifyIdle();
      return;
    }
    const now = this.clock();
    this.progressed();
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
    const results = new Map(applied.map((a) => [a.row.id, a.result]));
    for (const f of batch) {
      const r = results.get(f.row.id);
      if (!f.result?.ok || !r) continue;
      const x = f.result.outcome.extraction;
      const line = outcomeLine({
        spoolId: f.row.id,
        state: r.state,
        store: f.row.store,
        source: x.source,
        kind: x.kind,
        event: x.event,
        reservationId: x.reservationId,
        reviewReasons: r.state === 'review' ? x.reviewReasons : [],
        duplicateOf: r.duplicateOf,
      });
      this.o.log.info(line.fields, line.msg);
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
    const line = failureLine({
      spoolId: row.id,
      code: err.code,
      reason: err.message,
      attempts,
      nextAttemptAt: dead ? null : next,
    });
    this.o.log[dead ? 'error' : 'warn'](line.fields, line.msg);
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
    // A re-read in progress stops; the next start resumes from the cursor.
    this.intakeMode = 'fresh';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.idle();
    await this.pool.close();
    this.o.inflightLog?.close();
  }

  /**
   * Stops at once, as if the process died: nothing more is written to the
   * database, outcomes not yet persisted are dropped, workers are terminated.
   * What is durable (spool, committed rows) is all the next start sees. For the
   * fault simulation; a server stops with {@link close}.
   */
  async halt(): Promise<void> {
    this.halted = true;
    this.running = false;
    this.intakeMode = 'fresh';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.finished = [];
    this.fresh = [];
    await this.pool.close();
    // Whatever was in flight is forgotten, as a dead process forgets it; a later close() returns at once.
    this.inflight.clear();
    this.intakeScheduled = false;
    this.flushScheduled = false;
    this.notifyIdle();
  }
}
