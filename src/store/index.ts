/**
 * The store: the only module that speaks SQL or imports the database driver
 * (ESLint and test/store/boundary.test.ts enforce it). `Store` is the
 * messages repository and the owner of the connection; the other
 * repositories and read views hang off it, one file each:
 *
 * - `store.reservations` (reservations.ts): reservations and their events,
 *   written only through `applyOutcome`;
 * - `store.outbox` (outbox.ts): webhook deliveries;
 * - `store.queries` (queries.ts): the HTTP API's lists, details and actions;
 * - `store.monitor`, `store.dashboard` (monitor.ts, dashboard.ts): read views;
 * - `store.retention` (retention.ts): what retention reads and erases;
 * - `store.digests` (digests.ts): the digest completeness check;
 * - `selectMessages` (selection.ts) and `failureCounts`: replay and status.
 *
 * Row types live in rows.ts. Idempotency and ordering rules live here and in
 * reservations.ts, so they hold whoever calls (docs/architecture.md, "Data access").
 */
import { openDatabase, type Db } from './db.ts';
import type { DamagedSpan, RawLocation, SpoolCursor, SpoolRecord, SpoolRef } from '../spool/index.ts';
import {
  DUPLICATE_ANCHOR_STATES,
  FAILED_STATES,
  UNFINISHED_STATES,
  WAITING_STATES,
  sqlList,
  type MessageState,
} from './states.ts';
import { selectMessages } from './selection.ts';
import { DigestChecks, describeMissing, digestList } from './digests.ts';
import { Outbox } from './outbox.ts';
import { Queries } from './queries.ts';
import { Reservations } from './reservations.ts';
import { MonitorView } from './monitor.ts';
import { DashboardView } from './dashboard.ts';
import { StoreRegistry, type RegistryOptions } from './stores.ts';
import { RetentionRepo } from './retention.ts';
import {
  WORK_COLUMNS,
  type ApplyResult,
  type FailureCount,
  type MessageRow,
  type MessageSelection,
  type Outcome,
  type RecordedEvent,
  type SegmentRow,
  type WorkRow,
} from './rows.ts';

export { SERVER_BUSY_TIMEOUT_MS } from './db.ts';
export {
  DigestChecks,
  digestList,
  describeMissing,
  type DigestGap,
  type DigestList,
  type ListedBooking,
  type MissingBySource,
} from './digests.ts';
export {
  StoreRegistry,
  RegistryError,
  REGISTRY_PREFIX,
  isRegistryLocalPart,
  type StoreRecord,
  type StoreAddress,
  type StoreStatus,
  type AddressVerdict,
  type InactiveReason,
  type SiteActivity,
  type PendingVerification,
} from './stores.ts';
export { Outbox } from './outbox.ts';
export { Queries } from './queries.ts';
export { Reservations } from './reservations.ts';
export { MonitorView } from './monitor.ts';
export { DashboardView } from './dashboard.ts';
export { RetentionRepo, type PersonalCutoff } from './retention.ts';
export * from './rows.ts';

export {
  MESSAGE_STATES,
  WAITING_STATES,
  FAILED_STATES,
  UNFINISHED_STATES,
  SETTLED_STATES,
  DUPLICATE_ANCHOR_STATES,
  inStates,
  type MessageState,
} from './states.ts';

export function refOf(row: Pick<MessageRow, 'spool_segment' | 'spool_offset' | 'header_length' | 'size'>): SpoolRef {
  return {
    segment: row.spool_segment,
    offset: row.spool_offset,
    headerLength: row.header_length,
    bodyLength: row.size,
  };
}

/** Where a message's raw bytes are: its journal record, a file retention moved it to, or nowhere (purged). */
export function rawLocation(
  row: Pick<
    MessageRow,
    'id' | 'spool_segment' | 'spool_offset' | 'header_length' | 'size' | 'raw_path' | 'raw_purged_at'
  >,
): RawLocation {
  return { id: row.id, ref: refOf(row), path: row.raw_path, purgedAt: row.raw_purged_at };
}

/** Readiness waits at most this long for the write lock before calling the database unwritable. */
const WRITABLE_PROBE_TIMEOUT_MS = 200;

/** The messages repository, and the owner of the connection and of every other repository and view. */
export class Store {
  /** Private on purpose: nothing outside src/store/ sees the driver (tests reach it through store/testing.ts). */
  private readonly db: Db;
  private readonly clock: () => number;
  private readonly stmts;
  /** Reservations and their events (written only through applyOutcome). */
  readonly reservations: Reservations;
  /** Webhook deliveries. */
  readonly outbox: Outbox;
  /** The HTTP API's lists, details and message actions. */
  readonly queries: Queries;
  /** The watchdogs' read view. */
  readonly monitor: MonitorView;
  /** The dashboard overview's read view. */
  readonly dashboard: DashboardView;
  /** What retention reads and erases. */
  readonly retention: RetentionRepo;
  /** The digest completeness check (digests.ts). */
  readonly digests: DigestChecks;

  constructor(file: string, opts: { clock?: () => number; busyTimeoutMs?: number } = {}) {
    this.db = openDatabase(file, { busyTimeoutMs: opts.busyTimeoutMs });
    this.clock = opts.clock ?? Date.now;
    const db = this.db;
    this.reservations = new Reservations(db);
    this.outbox = new Outbox(db);
    this.queries = new Queries(db);
    this.monitor = new MonitorView(db);
    this.dashboard = new DashboardView(db);
    this.retention = new RetentionRepo(db);
    this.digests = new DigestChecks(db);
    this.stmts = {
      insertMessage: db.prepare(
        `INSERT OR IGNORE INTO messages (id, received_at, spool_segment, spool_offset, header_length, size, mail_from, rcpt_to, client_ip, helo, tls, store, quarantined, quarantine_reason, state)
         VALUES (@id, @received_at, @spool_segment, @spool_offset, @header_length, @size, @mail_from, @rcpt_to, @client_ip, @helo, @tls, @store, @quarantined, @quarantine_reason, 'pending')`,
      ),
      pendingExists: db.prepare(`SELECT 1 FROM messages WHERE state = 'pending' LIMIT 1`),
      dueExists: db.prepare(`SELECT 1 FROM messages WHERE state = 'failed' AND next_attempt_at <= ? LIMIT 1`),
      // Arrays, made into objects here: half the time of better-sqlite3's own row objects
      // (a million rows per reconciler pass on a large ledger).
      rowsInSegment: db
        .prepare(
          'SELECT id, spool_offset, header_length, raw_path, raw_purged_at, state FROM messages WHERE spool_segment = ?',
        )
        .raw(true),
      segmentsWithRows: db.prepare(
        'SELECT DISTINCT spool_segment AS segment FROM messages WHERE raw_path IS NULL AND raw_purged_at IS NULL',
      ),
      setCursor: db.prepare('UPDATE spool_cursor SET segment = ?, offset = ? WHERE id = 1'),
      insertDamage: db.prepare(
        `INSERT OR IGNORE INTO spool_damage (segment, offset, end_offset, spool_id, detected_at) VALUES (@segment, @offset, @end, @id, @now)`,
      ),
      insertDamagedMessage: db.prepare(
        `INSERT OR IGNORE INTO messages (id, received_at, spool_segment, spool_offset, header_length, size, rcpt_to, client_ip, state, attempts, error_code, error, processed_at)
         VALUES (@id, @received_at, @segment, @offset, 0, @size, '[]', '', 'dead', 1, 'SPOOL_CORRUPT', @error, @now)`,
      ),
      openDamage: db.prepare(
        'SELECT segment, offset, end_offset AS "end", spool_id AS id FROM spool_damage WHERE resolved_at IS NULL ORDER BY segment, offset',
      ),
      getCursor: db.prepare('SELECT segment, offset FROM spool_cursor WHERE id = 1'),
      // Fresh mail reaches the pipeline in memory and goes first; these queries
      // feed the spare capacity (docs/architecture.md, "Scheduling"). One state
      // per query, so each is a range scan of an index, not a sort of the backlog.
      // Keyset scan of pending mail in received order: each call continues where
      // the last one stopped, so messages already in flight are not read again.
      backlog: db.prepare(
        `SELECT ${WORK_COLUMNS.join(', ')} FROM messages WHERE state = 'pending' AND (received_at, id) > (@t, @id) ORDER BY received_at, id LIMIT @n`,
      ),
      dueRetries: db.prepare(
        `SELECT ${WORK_COLUMNS.join(', ')} FROM messages WHERE state = 'failed' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`,
      ),
      nextDueAt: db.prepare(`SELECT MIN(next_attempt_at) AS t FROM messages WHERE state = 'failed'`),
      getMessage: db.prepare('SELECT * FROM messages WHERE id = ?'),
      dupByMessageId: db.prepare(
        `SELECT id FROM messages WHERE message_id = ? AND id != ? AND state IN ${sqlList(DUPLICATE_ANCHOR_STATES)} ORDER BY received_at LIMIT 1`,
      ),
      dupByHash: db.prepare(
        `SELECT id FROM messages WHERE content_hash = ? AND id != ? AND state IN ${sqlList(DUPLICATE_ANCHOR_STATES)} ORDER BY received_at LIMIT 1`,
      ),
      setOutcome: db.prepare(
        `UPDATE messages SET state = @state, attempts = attempts + 1, error_code = NULL, error = NULL, message_id = @message_id, sent_at = @sent_at,
           content_hash = @content_hash, kind = @kind, source = @source, event = @event, extraction = @extraction, meta = @meta,
           duplicate_of = @duplicate_of, auth = COALESCE(@auth, auth), processed_at = @now WHERE id = @id`,
      ),
      setFailure: db.prepare(
        `UPDATE messages SET state = @state, attempts = attempts + 1, next_attempt_at = @next, error_code = @code, error = @error, processed_at = @now WHERE id = @id`,
      ),
      countByState: db.prepare('SELECT state, COUNT(*) AS n FROM messages GROUP BY state'),
      oldestPending: db.prepare(`SELECT MIN(received_at) AS t FROM messages WHERE state IN ${sqlList(WAITING_STATES)}`),
      backlogCount: db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE state IN ${sqlList(WAITING_STATES)}`),
      lastProcessed: db.prepare(
        `SELECT MAX(processed_at) AS t FROM messages WHERE state NOT IN ${sqlList(UNFINISHED_STATES)}`,
      ),
      failureCounts: db.prepare(
        `SELECT error_code AS code, state, COUNT(*) AS n FROM messages WHERE state IN ${sqlList(FAILED_STATES)} GROUP BY error_code, state`,
      ),
    };
  }

  /** Position in the spool journal up to which records are in `messages`. */
  cursor(): SpoolCursor {
    return this.stmts.getCursor.get() as SpoolCursor;
  }

  /**
   * Records freshly spooled messages (and damaged spans a scan met on the way)
   * and advances the cursor, atomically: the cursor only ever moves over
   * records whose rows commit with it. Re-recording is a no-op.
   */
  recordSpooled(records: readonly SpoolRecord[], cursor: SpoolCursor, damage: readonly DamagedSpan[] = []): void {
    this.db.transaction(() => {
      for (const r of records) {
        this.stmts.insertMessage.run({
          id: r.id,
          received_at: r.receivedAt,
          spool_segment: r.ref.segment,
          spool_offset: r.ref.offset,
          header_length: r.ref.headerLength,
          size: r.size,
          mail_from: r.envelope.mailFrom,
          rcpt_to: JSON.stringify(r.envelope.rcptTo),
          client_ip: r.envelope.clientIp,
          helo: r.envelope.helo,
          tls: r.envelope.tls ? JSON.stringify(r.envelope.tls) : null,
          store: r.envelope.store,
          quarantined: r.envelope.quarantined ? 1 : 0,
          quarantine_reason: r.envelope.quarantined ? (r.envelope.quarantineReason ?? null) : null,
        });
      }
      for (const d of damage) this.recordDamage(d);
      this.stmts.setCursor.run(cursor.segment, cursor.offset);
    })();
  }

  /**
   * Reports a damaged journal span. When the span still names its spool id,
   * the message becomes visible as dead (`SPOOL_CORRUPT`) unless it already
   * has a row (its bytes then fail their check when read). Idempotent.
   */
  recordDamage(d: DamagedSpan): void {
    const now = this.clock();
    this.stmts.insertDamage.run({ segment: d.segment, offset: d.offset, end: d.end, id: d.id, now });
    if (d.id === null) return;
    const ids = [d.id, ...(d.otherIds ?? [])];
    const where = `its journal record at ${d.segment}:${d.offset} (${d.end - d.offset} bytes) is damaged`;
    for (const id of ids) {
      const receivedAt = parseInt(id.slice(0, 9), 36);
      const also = ids.filter((other) => other !== id);
      this.stmts.insertDamagedMessage.run({
        id,
        received_at: Number.isFinite(receivedAt) ? receivedAt : now,
        segment: d.segment,
        offset: d.offset,
        size: Math.max(0, d.end - d.offset),
        error:
          also.length === 0
            ? `${where}; the bytes are kept in the segment`
            : `${where}; the damaged bytes name ${[id, ...also].join(', ')} (another reading of this id, or records the damage reached); the bytes are kept in the segment`,
        now,
      });
    }
  }

  /** The message rows indexed in one journal segment (the reconciler compares them with the segment). */
  rowsInSegment(segment: number): SegmentRow[] {
    return (
      this.stmts.rowsInSegment.all(segment) as [
        string,
        number,
        number,
        string | null,
        number | null,
        SegmentRow['state'],
      ][]
    ).map(([id, spool_offset, header_length, raw_path, raw_purged_at, state]) => ({
      id,
      spool_offset,
      header_length,
      raw_path,
      raw_purged_at,
      state,
    }));
  }

  /** Segments that rows still expect their raw bytes in (not moved to kept/, not purged). */
  segmentsWithRows(): number[] {
    return (this.stmts.segmentsWithRows.all() as { segment: number }[]).map((r) => r.segment);
  }

  /** Damaged journal spans not yet resolved (reconciler, status, retention). */
  openDamage(): DamagedSpan[] {
    return (this.stmts.openDamage.all() as Omit<DamagedSpan, 'kind'>[]).map((d) => ({ kind: 'damage', ...d }));
  }

  /**
   * Pending messages after `after` in received order (the backlog scan), at most
   * `limit`. Failed messages waiting for a retry are `dueRetries`'s. The pipeline
   * feeds fresh mail from memory; this is for backlog and recovery.
   */
  backlog(after: { t: number; id: string }, limit: number): WorkRow[] {
    return this.stmts.backlog.all({ t: after.t, id: after.id, n: limit }) as WorkRow[];
  }

  /** Failed messages whose retry time has come, soonest first, at most `limit`. */
  dueRetries(limit: number, now = this.clock()): WorkRow[] {
    return this.stmts.dueRetries.all(now, limit) as WorkRow[];
  }

  /** True when a message is pending, or failed with its retry time come: work the pipeline should be doing. */
  hasDueWork(now = this.clock()): boolean {
    return this.stmts.pendingExists.get() !== undefined || this.stmts.dueExists.get(now) !== undefined;
  }

  /** When the next failed message is due for a retry (ms), or null when none is waiting. */
  nextDueAt(): number | null {
    return (this.stmts.nextDueAt.get() as { t: number | null }).t;
  }

  message(id: string): MessageRow | undefined {
    return this.stmts.getMessage.get(id) as MessageRow | undefined;
  }

  /** The rows a replay or rebuild selection names, oldest first; throws when nothing is selected. */
  selectMessages(sel: MessageSelection): MessageRow[] {
    return selectMessages(this.db, sel);
  }

  /**
   * Applies one processing outcome: duplicate detection, message state, and the
   * reservation/event rows. Idempotent: applying the same outcome twice (replay)
   * adds nothing — unless `replayReason` is given (a replay whose extraction
   * changed), which records a new event carrying that reason.
   *
   * Returns the event rows it wrote. Call it inside `transaction()` and write
   * their outbox rows (src/deliver OutboxWriter) in that same transaction, so
   * an event and its webhook deliveries commit or roll back together.
   */
  applyOutcome(row: WorkRow, o: Outcome, opts: { replayReason?: string } = {}): ApplyResult {
    const now = this.clock();
    let x = o.extraction;
    let duplicateOf: string | null = null;
    if (o.messageId)
      duplicateOf = (this.stmts.dupByMessageId.get(o.messageId, row.id) as { id: string } | undefined)?.id ?? null;
    if (!duplicateOf && o.contentHash && x.kind !== 'unknown') {
      duplicateOf = (this.stmts.dupByHash.get(o.contentHash, row.id) as { id: string } | undefined)?.id ?? null;
    }
    let state: MessageState;
    const events: RecordedEvent[] = [];
    if (duplicateOf) state = 'duplicate';
    else if (row.quarantined) state = 'quarantined';
    else if (x.kind === 'reservation') {
      if (x.source && x.reservationId && x.event) {
        const replayReason = opts.replayReason ?? null;
        const recorded = this.reservations.apply(row, o, now, replayReason);
        if (recorded) events.push({ ...recorded, row, outcome: o, replayReason });
        state = x.needsReview ? 'review' : 'processed';
      } else state = 'review';
    } else if (x.kind === 'verification') state = 'review';
    else if (x.kind === 'digest') {
      // A booking the site lists that we never imported: a review item that names it.
      const reasons = this.digestReasons(row, o);
      if (reasons.length > 0) x = { ...x, needsReview: true, reviewReasons: reasons };
      state = reasons.length > 0 ? 'review' : 'ignored';
    } else state = 'ignored';

    this.stmts.setOutcome.run({
      id: row.id,
      state,
      message_id: o.messageId,
      sent_at: o.sentAt,
      content_hash: o.contentHash,
      kind: x.kind,
      source: x.source,
      event: x.event,
      extraction: JSON.stringify(x),
      meta: JSON.stringify(o.meta),
      duplicate_of: duplicateOf,
      auth: o.auth ? JSON.stringify(o.auth) : null,
      now,
    });
    return { state, events, duplicateOf };
  }

  private digestReasons(row: WorkRow, o: Outcome): string[] {
    const list = o.extraction.source ? digestList(o.meta) : null;
    if (!list || !o.extraction.source) return [];
    const gap = this.digests.check(o.extraction.source, row.store, list);
    if (gap.missingCount === 0) return [];
    const reasons = ['digest:missing-reservations', ...gap.missing.map(describeMissing)];
    if (gap.missingCount > gap.missing.length)
      reasons.push(`missing-reservation:${gap.missingCount - gap.missing.length} not listed by name`);
    return reasons;
  }

  /** Records a failure: back to pending with a retry time, or to a terminal state. */
  recordFailure(
    id: string,
    f: { state: 'failed' | 'dead'; code: string; message: string; nextAttemptAt?: number },
  ): void {
    this.stmts.setFailure.run({
      id,
      state: f.state,
      code: f.code,
      error: f.message,
      next: f.nextAttemptAt ?? 0,
      now: this.clock(),
    });
  }

  /** Runs `fn` in one transaction (batched persistence). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * The backlog only (pending + failed, and the oldest of them): index ranges,
   * cheap at any table size — what a Prometheus scrape needs. `summary()`
   * counts every state and is for status pages and tools.
   */
  backlogStats(): { waiting: number; oldestAt: number | null } {
    return {
      waiting: (this.stmts.backlogCount.get() as { n: number }).n,
      oldestAt: (this.stmts.oldestPending.get() as { t: number | null }).t,
    };
  }

  /** Failed and dead messages by error code and state (status). */
  failureCounts(): FailureCount[] {
    return this.stmts.failureCounts.all() as FailureCount[];
  }

  /** Pipeline figures for status, readiness and metrics. */
  summary(): { byState: Record<string, number>; oldestPendingAt: number | null; lastProcessedAt: number | null } {
    const byState: Record<string, number> = {};
    for (const r of this.stmts.countByState.all() as { state: string; n: number }[]) byState[r.state] = r.n;
    return {
      byState,
      oldestPendingAt: (this.stmts.oldestPending.get() as { t: number | null }).t,
      lastProcessedAt: (this.stmts.lastProcessed.get() as { t: number | null }).t,
    };
  }

  /**
   * True when a write transaction can be taken within `timeoutMs` (readiness).
   * The probe uses a short busy timeout of its own: better-sqlite3 is
   * synchronous, so waiting the full writer timeout on a lock held elsewhere
   * would stall the event loop and outlast the health check.
   */
  writable(timeoutMs = WRITABLE_PROBE_TIMEOUT_MS): boolean {
    const previous = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma(`busy_timeout = ${timeoutMs}`);
    try {
      this.db.exec('BEGIN IMMEDIATE; ROLLBACK');
      return true;
    } catch {
      return false;
    } finally {
      this.db.pragma(`busy_timeout = ${previous}`);
    }
  }

  /** The store registry (src/store/stores.ts) on this database; its grace period is configuration. */
  registry(opts: Omit<RegistryOptions, 'clock'> & { clock?: () => number }): StoreRegistry {
    return new StoreRegistry(this.db, { clock: this.clock, ...opts });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
