/**
 * Start ota-inbound as an operator would (`node dist/src/cli/main.js serve`
 * with `OTA_INBOUND_*` environment variables), wait for `/readyz`, observe it
 * from outside (`/metrics`, `/proc/<pid>`), and stop it with SIGTERM.
 *
 * Everything goes through the public surface on purpose: the bench measures
 * the product as shipped, not an in-process assembly of its modules.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';

const LOOPBACK = '127.0.0.1';
// Start-up includes generating a certificate and opening SQLite; 30 s is far
// beyond a healthy start on this machine yet bounds a hung one.
const READY_POLL_INTERVAL_MS = 100;
const READY_MAX_POLLS = 300;
// A scrape must not hang the bench if the HTTP side is stuck.
const HTTP_TIMEOUT_MS = 5_000;
// Polling /metrics costs the server a little CPU; 50 ms resolves drain times
// well enough for backlogs that take seconds.
const DRAIN_POLL_INTERVAL_MS = 50;
// SIGTERM lets in-flight messages finish (ota-inbound's closeTimeoutMs is 8 s
// by default); past this the bench kills it so a hang cannot block the run.
const STOP_TIMEOUT_MS = 35_000;
// Keep the end of the server's output for the report when something fails.
const LOG_TAIL_BYTES = 16 * 1024;
// Linux reports utime/stime in USER_HZ ticks, which is 100 on every mainstream arch.
const USER_HZ = 100;
const PENDING_METRIC = 'ota_inbound_spool_pending_messages';
// Where ota-inbound keeps its database inside the data dir (src/app.ts databaseFile()).
const DB_FILE = 'ota-inbound.db';
// SQLite is written by the server while we read; wait briefly rather than fail on a busy lock.
const DB_BUSY_TIMEOUT_MS = 5_000;

/** Which accepted queue ids have a row in ota-inbound's database, and in which state. */
export interface PersistCheck {
  checked: number;
  /** Accepted ids with no row at all: a 250 that was lost. */
  missing: number;
  /** Rows by `messages.state` (pending, processed, review, quarantined, …). */
  states: Record<string, number>;
  /** A few missing ids, for the report. */
  missingSample: string[];
}

/** Resource use of a process, from /proc. */
export interface ProcSample {
  rssBytes: number;
  /** Peak RSS since start (VmHWM). */
  peakRssBytes: number;
  openFds: number;
  /** User + system CPU time since start, in ms. */
  cpuMs: number;
}

/** Read RSS, peak RSS, open file descriptors and CPU time of `pid` from /proc (Linux only). */
export async function sampleProc(pid: number): Promise<ProcSample> {
  const [status, fds, stat] = await Promise.all([
    readFile(`/proc/${pid}/status`, 'utf8'),
    readdir(`/proc/${pid}/fd`),
    readFile(`/proc/${pid}/stat`, 'utf8'),
  ]);
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  };
  // Fields after the parenthesised command name (which may contain spaces):
  // utime and stime are fields 14 and 15 of the whole line.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11] ?? 0) + Number(rest[12] ?? 0);
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), openFds: fds.length, cpuMs: (ticks * 1000) / USER_HZ };
}

/** A free TCP port on the loopback interface (bind to port 0, read it, close). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, LOOPBACK);
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Parse one unlabelled sample out of Prometheus text; null when absent. */
export function metricValue(text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

/** Options for {@link startOtaInbound}. */
export interface StartOptions {
  /** Repository root: `dist/src/cli/main.js` is resolved from here. */
  root: string;
  /** Extra `OTA_INBOUND_*` settings on top of the bench's defaults. */
  env?: Record<string, string>;
  /**
   * Use this data directory (e.g. a pre-filled spool, or a restart after a
   * kill) and keep it on stop. Default: a fresh temporary one, removed on stop.
   */
  dataDir?: string;
  /** Certificates directory; default: a temporary one next to the data. Kept on stop when given. */
  certsDir?: string;
  /** How long to wait for /readyz (start-up recovers a pre-filled spool first); default 30 s. */
  readyTimeoutMs?: number;
}

/**
 * The environment the bench starts ota-inbound with: loopback ports, a data
 * and certificate directory, the bench mail's site, and `OTA_INBOUND_*`
 * overrides. Chaos scenarios use it to run other subcommands the same way.
 */
export function serverEnv(opts: {
  root: string;
  dataDir: string;
  certsDir: string;
  smtpPort: number;
  httpPort: number;
  env?: Record<string, string>;
}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OTA_INBOUND_DATA_DIR: opts.dataDir,
    OTA_INBOUND_CERTS_DIR: opts.certsDir,
    OTA_INBOUND_SMTP_PORT: String(opts.smtpPort),
    OTA_INBOUND_HTTP_PORT: String(opts.httpPort),
    OTA_INBOUND_HTTP_HOST: LOOPBACK,
    OTA_INBOUND_SMTP_HOST: LOOPBACK,
    OTA_INBOUND_DOMAINS: 'intake.example',
    // The bench mail is addressed {store}@intake.example (the sample config has registry addresses only).
    OTA_INBOUND_ROUTES: '{store}@intake.example',
    OTA_INBOUND_LOG_LEVEL: 'warn',
    // The bench mail's made-up site, added the way an operator adds one.
    OTA_INBOUND_SITES_DIRS: path.join(opts.root, 'bench/sites'),
    // The load comes from 127.0.0.2–9 standing in for many sending hosts; the
    // bench measures ingest, not the per-address rate limiter (chaos tests it).
    OTA_INBOUND_SMTP_ABUSE_EXEMPT: '127.0.0.0/8',
    ...opts.env,
  };
}

/** A running ota-inbound child process. */
export interface OtaInbound {
  pid: number;
  smtpPort: number;
  httpPort: number;
  dataDir: string;
  certsDir: string;
  /** The environment it was started with (to run other subcommands on the same data). */
  env: NodeJS.ProcessEnv;
  /** Date.now() at spawn. */
  spawnedAt: number;
  /** Time from spawn until /readyz answered 200. */
  readyMs: number;
  /** GET /metrics as text. */
  metrics(): Promise<string>;
  /** Current `ota_inbound_spool_pending_messages`, or null when the metric is missing. */
  pending(): Promise<number | null>;
  /**
   * Poll the pending gauge until it reads 0. Resolves with the time it took
   * in ms, or null when the cap was reached or the metric is missing.
   */
  waitForDrain(capMs: number, pollMs?: number): Promise<{ drainedMs: number | null; lastPending: number | null }>;
  /** Database rows of these spool ids (read-only, while the server runs). */
  rows(ids: readonly string[]): MessageTiming[];
  /** Send a signal (e.g. SIGKILL for a crash) and wait for the exit. */
  kill(signal: NodeJS.Signals): Promise<string>;
  sample(): Promise<ProcSample>;
  /** Look up accepted queue ids in the database (read-only, while the server runs). */
  checkPersisted(ids: readonly (string | null)[]): PersistCheck;
  /** Exit code or signal if the process has exited (a crash during the bench). */
  exited(): string | null;
  /** The last lines the server wrote to stdout/stderr. */
  logTail(): string;
  /** SIGTERM, wait, SIGKILL after a cap; removes the temp data dir. Returns how it ended. */
  stop(): Promise<{ exit: string; stopMs: number }>;
}

async function httpGet(port: number, pathname: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${LOOPBACK}:${port}${pathname}`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  return { status: res.status, body: await res.text() };
}

/** Starts tried when the ports found free were taken before the server bound them. */
const PORT_ATTEMPTS = 3;

/**
 * Start `ota-inbound serve` on free loopback ports with a fresh data dir and
 * wait until `/readyz` answers 200. Throws (after killing the child) when it
 * does not become ready.
 */
export async function startOtaInbound(opts: StartOptions, attempt = 1): Promise<OtaInbound> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'ota-inbound-bench-'));
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const dataDir = opts.dataDir ?? path.join(tmp, 'data');
  const certsDir = opts.certsDir ?? path.join(tmp, 'certs');
  const env = serverEnv({ root: opts.root, dataDir, certsDir, smtpPort, httpPort, env: opts.env });
  const spawnedAt = Date.now();
  const child: ChildProcess = spawn(process.execPath, [path.join(opts.root, 'dist/src/cli/main.js'), 'serve'], {
    cwd: tmp,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-LOG_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exit: string | null = null;
  const exitedP = once(child, 'exit').then(([code, signal]) => {
    exit = signal ? `signal ${String(signal)}` : `code ${String(code)}`;
  });

  const stop = async (): Promise<{ exit: string; stopMs: number }> => {
    const t0 = Date.now();
    if (exit === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exitedP;
      clearTimeout(timer);
    }
    await rm(tmp, { recursive: true, force: true });
    return { exit: exit ?? 'unknown', stopMs: Date.now() - t0 };
  };

  let ready = false;
  const maxPolls = opts.readyTimeoutMs ? Math.ceil(opts.readyTimeoutMs / READY_POLL_INTERVAL_MS) : READY_MAX_POLLS;
  for (let i = 0; i < maxPolls && exit === null && !ready; i++) {
    try {
      ready = (await httpGet(httpPort, '/readyz')).status === 200;
    } catch {
      // Not listening yet.
    }
    if (!ready) await sleep(READY_POLL_INTERVAL_MS);
  }
  if (!ready) {
    await stop();
    // A port found free can be taken before the child binds it (the load's own outgoing
    // sockets draw from the same ephemeral range): start again on other ports.
    if (exit !== null && tail.includes('EADDRINUSE') && attempt < PORT_ATTEMPTS)
      return startOtaInbound(opts, attempt + 1);
    throw new Error(`ota-inbound did not become ready (${exit ?? 'timed out'}); last output:\n${tail}`);
  }

  const readyMs = Date.now() - spawnedAt;
  const metrics = async (): Promise<string> => (await httpGet(httpPort, '/metrics')).body;
  const pending = async (): Promise<number | null> => metricValue(await metrics(), PENDING_METRIC);
  const pid = child.pid ?? 0;
  const dbFile = path.join(dataDir, DB_FILE);
  return {
    pid,
    smtpPort,
    httpPort,
    dataDir,
    certsDir,
    env,
    spawnedAt,
    readyMs,
    metrics,
    pending,
    rows: (ids) => messageTimings(dbFile, ids),
    async kill(signal) {
      if (exit === null) {
        child.kill(signal);
        await exitedP;
      }
      return exit ?? 'unknown';
    },
    async waitForDrain(capMs, pollMs = DRAIN_POLL_INTERVAL_MS) {
      const t0 = Date.now();
      const maxPolls = Math.ceil(capMs / pollMs);
      let last: number | null = null;
      for (let i = 0; i <= maxPolls && exit === null; i++) {
        try {
          last = await pending();
        } catch {
          last = null;
        }
        if (last === null) return { drainedMs: null, lastPending: null };
        if (last === 0) return { drainedMs: Date.now() - t0, lastPending: 0 };
        await sleep(pollMs);
      }
      return { drainedMs: null, lastPending: last };
    },
    sample: () => sampleProc(pid),
    checkPersisted: (ids) => checkPersisted(dbFile, ids),
    exited: () => exit,
    logTail: () => tail,
    stop,
  };
}

/** One message's row: state, reason and the accept → persisted timing. */
export interface MessageTiming {
  id: string;
  state: string;
  errorCode: string | null;
  error: string | null;
  receivedAt: number;
  processedAt: number | null;
  attempts: number;
}

// SQLite's default limit on bound parameters is well above this; chunks keep statements small.
const ID_CHUNK = 500;

function messageTimings(dbFile: string, ids: readonly string[]): MessageTiming[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true, timeout: DB_BUSY_TIMEOUT_MS });
  try {
    const out: MessageTiming[] = [];
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const chunk = ids.slice(i, i + ID_CHUNK);
      const rows = db
        .prepare(
          `SELECT id, state, error_code AS errorCode, error, received_at AS receivedAt, processed_at AS processedAt, attempts FROM messages WHERE id IN (${chunk.map(() => '?').join(',')})`,
        )
        .all(...chunk) as MessageTiming[];
      out.push(...rows);
    }
    return out;
  } finally {
    db.close();
  }
}

// How many missing ids the report lists; the count says the rest.
const MISSING_SAMPLE_SIZE = 5;

function checkPersisted(dbFile: string, ids: readonly (string | null)[]): PersistCheck {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true, timeout: DB_BUSY_TIMEOUT_MS });
  try {
    const stateOf = new Map<string, string>();
    for (const row of db.prepare('SELECT id, state FROM messages').iterate() as Iterable<{
      id: string;
      state: string;
    }>) {
      stateOf.set(row.id, row.state);
    }
    const states: Record<string, number> = {};
    const missingSample: string[] = [];
    let missing = 0;
    let checked = 0;
    for (const id of ids) {
      if (id === null) continue;
      checked++;
      const state = stateOf.get(id);
      if (state === undefined) {
        missing++;
        if (missingSample.length < MISSING_SAMPLE_SIZE) missingSample.push(id);
      } else {
        states[state] = (states[state] ?? 0) + 1;
      }
    }
    return { checked, missing, states, missingSample };
  } finally {
    db.close();
  }
}
