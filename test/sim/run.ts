/**
 * Runs one fault schedule against a real node and checks the invariant after
 * it: every mail answered 250 is in the database, settled or visibly failed;
 * its raw bytes are what was sent, or it is marked corrupt (never another
 * mail's bytes); each reservation follows its latest-dated event; the journal
 * and the database agree (the reconciler finds nothing); no webhook
 * idempotency key is delivered twice within one process life.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import type { App } from '../../src/app.ts';
import { Journal } from '../../src/spool/index.ts';
import { reconcile } from '../../src/pipeline/index.ts';
import { inStates, SETTLED_STATES } from '../../src/store/states.ts';
import { sqliteOf } from '../../src/store/testing.ts';
import { tabelogMail } from '../helpers/mail.ts';
import { RawSmtp, queuedId } from '../helpers/smtp.ts';
import { Receiver } from '../deliver/receiver.ts';
import { FaultIo } from './faults.ts';
import { crashNode, startNode } from './node.ts';
import { Rng } from './rng.ts';
import { describe, generate, type MailSpec, type Op, type Schedule } from './schedule.ts';

/** How long the final, fault-free node may take to settle every acknowledged mail. */
const SETTLE_DEADLINE_MS = 20_000;
/** A step (or the node's stop) that takes longer than this is a hang, reported as a violation. */
const STEP_DEADLINE_MS = 15_000;
const BOOKING_BASE = Date.UTC(2026, 10, 20, 0, 0, 0);

export interface RunResult {
  seed: number;
  violations: string[];
  acked: number;
  refused: number;
  crashes: number;
  faults: number;
  ms: number;
}

async function mailBytes(m: MailSpec): Promise<Buffer> {
  const date = new Date(BOOKING_BASE + Number(m.booking.slice(-1)) * 3_600_000 + m.seq * 60_000);
  const id = `<sim-${m.booking}-${m.seq}${m.reissue ? `-r${m.copy}` : ''}@tabelog.com>`;
  return tabelogMail({
    event: m.event,
    bookingId: m.booking,
    date,
    messageId: id,
    party: `${m.party}名`,
    name: '佐藤 花子',
    phone: '090-0000-1234',
  });
}

interface Lock {
  db: Database.Database;
  timer: NodeJS.Timeout;
}

interface Acked {
  id: string;
  spec: MailSpec;
  bytes: Buffer;
}

/** A shared certificate directory: generating a key per schedule would dominate the run. */
let sharedCerts: string | null = null;
function certsDir(): string {
  sharedCerts ??= fs.mkdtempSync(path.join(os.tmpdir(), 'ota-sim-certs-'));
  return sharedCerts;
}

export async function runSchedule(schedule: Schedule): Promise<RunResult> {
  const started = Date.now();
  const rng = new Rng(schedule.seed ^ 0x5bd1e995);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-sim-'));
  const receiver = await new Receiver().start();
  const violations: string[] = [];
  let io = new FaultIo();
  let faults = 0;
  let life = 0;
  let crashes = 0;
  let refused = 0;
  const acked: Acked[] = [];
  /** Ids whose journal record was hit by the flipped byte: they may end corrupt, never foreign. */
  const flipped = new Set<string>();
  const delivered = new Map<string, number[]>();
  receiver.on('request', (r: { status: number; headers: Record<string, unknown> }) => {
    if (r.status < 200 || r.status >= 300) return;
    const key = String(r.headers['idempotency-key']);
    delivered.set(key, [...(delivered.get(key) ?? []), life]);
  });
  const clients = new Set<RawSmtp>();
  const background: Promise<void>[] = [];
  const locks = new Set<Lock>();
  const release = (l: Lock) => {
    clearTimeout(l.timer);
    if (!locks.delete(l)) return;
    l.db.exec('ROLLBACK');
    l.db.close();
  };
  let node: App = await startNode(dir, certsDir(), io, receiver.url);

  const releaseLocks = () => {
    for (const l of locks) release(l);
  };

  async function sendOne(m: MailSpec): Promise<void> {
    const bytes = await mailBytes(m);
    let client: RawSmtp;
    try {
      ({ client } = await RawSmtp.connect(node.smtpPort));
    } catch {
      refused += 1; // node down between a crash and its restart
      return;
    }
    clients.add(client);
    try {
      await client.cmd('EHLO mx.tabelog.example');
      await client.cmd('MAIL FROM:<noreply-rsv@tabelog.com>');
      const r = await client.cmd('RCPT TO:<sakura-ginza@intake.example>');
      if (r.code !== 250) throw new Error(`RCPT refused: ${r.code} ${r.text}`);
      const final = await client.data(bytes);
      if (final.code === 250) acked.push({ id: queuedId(final), spec: m, bytes });
      else if (final.code >= 400 && final.code < 500) refused += 1;
      else violations.push(`mail ${m.booking}#${m.seq} refused permanently: ${final.code} ${final.text}`);
      await client.quit().catch(() => undefined);
    } catch {
      refused += 1; // the connection died with the node: no 250, the sender retries
    } finally {
      clients.delete(client);
      client.destroy();
    }
  }

  async function apply(op: Op): Promise<void> {
    switch (op.t) {
      case 'send': {
        const p = Promise.all(op.mails.map(sendOne)).then(() => undefined);
        if (op.background) background.push(p);
        else await p;
        return;
      }
      case 'pause':
        await new Promise((r) => setTimeout(r, op.ms));
        return;
      case 'lock': {
        // One holder at a time (a second would wait on the first in this same thread): the span grows instead.
        for (const l of locks) {
          clearTimeout(l.timer);
          l.timer = setTimeout(() => release(l), op.ms);
          return;
        }
        // Another process takes the write lock (waiting its turn behind the node's own writes).
        const db = new Database(path.join(node.config.dataDir, 'ota-inbound.db'), { timeout: 5_000 });
        db.exec('BEGIN IMMEDIATE');
        const l: Lock = { db, timer: setTimeout(() => release(l), op.ms) };
        locks.add(l);
        return;
      }
      case 'ioFault':
        io.arm(op.op, op.code, op.count);
        faults += op.count;
        return;
      case 'killWorker': {
        const w = node.pipeline.pool.workers[0];
        if (w) await w.terminate();
        return;
      }
      case 'crash': {
        crashes += 1;
        for (const c of clients) c.destroy();
        releaseLocks();
        await crashNode(node, io);
        if (op.powerCut) io.powerCut(rng);
        if (op.flip) await flipRecord(path.join(node.config.dataDir, 'spool'));
        io = io.revive();
        life += 1;
        node = await startNode(dir, certsDir(), io, receiver.url);
        return;
      }
      case 'restart':
        releaseLocks();
        await node.stop();
        node = await startNode(dir, certsDir(), io, receiver.url);
        return;
    }
  }

  /** Flips one byte inside a random record (frame, header or body) of a random segment. */
  async function flipRecord(spoolDir: string): Promise<void> {
    const journal = new Journal({ dir: spoolDir });
    const records: { id: string; segment: number; offset: number; end: number }[] = [];
    for await (const e of journal.scan({ segment: 1, offset: 0 }))
      if (e.kind === 'record') records.push({ id: e.id, segment: e.ref.segment, offset: e.ref.offset, end: e.end });
    await journal.close();
    if (records.length === 0) return;
    const r = rng.pick(records);
    const file = path.join(
      spoolDir,
      fs.readdirSync(spoolDir).find((f) => Number.parseInt(f, 10) === r.segment)!,
    );
    const at = rng.int(r.offset, r.end - 1);
    const fd = fs.openSync(file, 'r+');
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    fs.writeSync(fd, Buffer.from([b[0]! ^ (1 << rng.int(0, 7))]), 0, 1, at);
    fs.closeSync(fd);
    flipped.add(r.id);
  }

  try {
    for (const [i, op] of schedule.ops.entries()) {
      if (process.env.SIM_TRACE) console.error(`  ${Date.now() - started} ms: step ${i} ${op.t}`);
      await within(STEP_DEADLINE_MS, apply(op), `step ${i} (${op.t}) did not finish`);
    }
    await within(STEP_DEADLINE_MS, Promise.all(background), 'SMTP sessions still open after the schedule');
    io.disarm();
    releaseLocks();
    await settle(node, acked, violations);
    await check(node, schedule, acked, flipped, violations);
    for (const [key, lives] of delivered)
      if (new Set(lives).size !== lives.length)
        violations.push(`webhook idempotency key ${key.slice(0, 12)}… delivered twice within one process life`);
  } catch (err) {
    violations.push(`schedule aborted: ${(err as Error).stack ?? String(err)}`);
  } finally {
    releaseLocks();
    await within(STEP_DEADLINE_MS, node.stop(), 'stop did not finish').catch((err: Error) =>
      violations.push(`teardown: ${err.message}`),
    );
    await receiver.close();
    // SIM_KEEP=1 keeps the data directory of a failing schedule for forensics.
    if (process.env.SIM_KEEP && violations.length > 0) console.error(`  seed ${schedule.seed}: data kept in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  return { seed: schedule.seed, violations, acked: acked.length, refused, crashes, faults, ms: Date.now() - started };
}

/** `p`, or a rejection naming what hung once `ms` pass. */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function settledOrDead(state: string | undefined): boolean {
  return state !== undefined && (inStates(SETTLED_STATES, state) || state === 'dead');
}

/** Waits, woken by the pipeline's own progress, until every acknowledged mail has left pending/failed. */
async function settle(node: App, acked: Acked[], violations: string[]): Promise<void> {
  const deadline = Date.now() + SETTLE_DEADLINE_MS;
  const open = () => acked.filter((a) => !settledOrDead(node.store.message(a.id)?.state));
  for (;;) {
    const left = open();
    if (left.length === 0) return;
    const wait = deadline - Date.now();
    if (wait <= 0) {
      violations.push(
        `not settled after ${SETTLE_DEADLINE_MS} ms without faults: ${left
          .map((a) => `${a.id} (${node.store.message(a.id)?.state ?? 'no row'})`)
          .join(', ')}`,
      );
      return;
    }
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), Math.min(wait, 500));
    await once(node.pipeline, 'persisted', { signal: ac.signal }).catch(() => undefined);
    clearTimeout(timer);
  }
}

async function check(
  node: App,
  schedule: Schedule,
  acked: Acked[],
  flipped: Set<string>,
  violations: string[],
): Promise<void> {
  const base = `http://127.0.0.1:${node.httpPort}/api`;
  const corrupt = new Set<string>();
  for (const a of acked) {
    const row = node.store.message(a.id);
    if (!row) {
      // Even a damaged record keeps a row under every id its header may name.
      violations.push(`${a.id} was answered 250 and has no row${flipped.has(a.id) ? ' (its record was damaged)' : ''}`);
      continue;
    }
    const res = await fetch(`${base}/messages/${a.id}/raw`);
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status === 200) {
      if (!body.equals(a.bytes)) violations.push(`${a.id}: the raw API serves other bytes than were sent`);
    } else if (flipped.has(a.id)) corrupt.add(a.id);
    else violations.push(`${a.id}: raw bytes not served (${res.status} ${body.toString('utf8').slice(0, 120)})`);
    if (row.state === 'dead') {
      if (row.error_code === 'SPOOL_CORRUPT' && flipped.has(a.id)) corrupt.add(a.id);
      else violations.push(`${a.id} dead without a fault that explains it: ${row.error_code} ${row.error}`);
    }
  }

  // Each reservation follows its latest-dated event among the mails that took effect: every
  // intact acknowledged one, and any other whose row was processed — one whose record was
  // damaged after it was processed, or one spooled and processed whose 250 a crash cut off.
  const specs = new Map<string, MailSpec>();
  for (const op of schedule.ops) if (op.t === 'send') for (const m of op.mails) specs.set(`${m.booking}#${m.seq}`, m);
  const byBooking = new Map<string, MailSpec[]>();
  const tookEffect = (m: MailSpec) => byBooking.set(m.booking, [...(byBooking.get(m.booking) ?? []), m]);
  for (const a of acked) if (!corrupt.has(a.id)) tookEffect(a.spec);
  const processed = sqliteOf(node.store)
    .prepare(`SELECT message_id FROM messages WHERE state = 'processed' AND message_id IS NOT NULL`)
    .pluck()
    .all() as string[];
  for (const messageId of processed) {
    const [, booking, seq] = /^<sim-(\d+)-(\d+)(?:-r\d+)?@/.exec(messageId) ?? [];
    const spec = specs.get(`${booking}#${seq}`);
    if (spec) tookEffect(spec);
  }
  for (const [booking, mails] of byBooking) {
    const latest = mails.reduce((x, y) => (y.seq > x.seq ? y : x));
    const res = await fetch(`${base}/reservations?source=tabelog&q=${booking}`);
    const { items } = (await res.json()) as { items: { reservationId: string; partySize: number; status: string }[] };
    const r = items.find((i) => i.reservationId.endsWith(booking));
    const want = { partySize: latest.party, status: latest.event === 'cancel' ? 'cancelled' : 'booked' };
    if (!r)
      violations.push(
        `booking ${booking}: no reservation among ${JSON.stringify(items).slice(0, 300)} (latest mail #${latest.seq} ${latest.event})`,
      );
    else if (r.partySize !== want.partySize || r.status !== want.status)
      violations.push(
        `booking ${booking}: reservation is ${r.status}/${r.partySize}, its latest mail #${latest.seq} says ${want.status}/${want.partySize}`,
      );
  }

  // The journal and the database agree.
  const report = await reconcile(node.store, node.spool.journal, { repair: false });
  for (const id of report.missingRows) if (!flipped.has(id)) violations.push(`reconciler: ${id} has no row`);
  for (const id of report.missingBytes) if (!flipped.has(id)) violations.push(`reconciler: ${id} has no bytes`);
}

/** Runs a schedule; on a violation, shrinks it to a shorter schedule that still fails. */
export async function runAndShrink(
  seed: number,
  opts: { shrink?: boolean; log?: (s: string) => void } = {},
): Promise<RunResult & { schedule: Schedule }> {
  const schedule = generate(seed);
  const first = await runSchedule(schedule);
  if (first.violations.length === 0 || opts.shrink === false) return { ...first, schedule };
  let best = schedule;
  let bestResult = first;
  // Remove one step at a time while the schedule still fails (a real-time run may pass by luck: try twice).
  for (let i = best.ops.length - 1; i >= 0; i--) {
    const candidate: Schedule = { seed, ops: best.ops.filter((_, j) => j !== i) };
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await runSchedule(candidate);
      if (r.violations.length > 0) {
        best = candidate;
        bestResult = r;
        opts.log?.(`shrunk to ${best.ops.length} steps`);
        break;
      }
    }
  }
  return { ...bestResult, schedule: best };
}

export { describe, generate };
