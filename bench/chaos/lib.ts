/**
 * The chaos suite's toolkit: a recorder of what a scenario did and checked,
 * a way to run other `ota-inbound` subcommands on the same data, spool
 * fingerprints (to prove "spool untouched"), a raw STARTTLS probe and a
 * trickling slow-loris client.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** What one scenario did and checked, printed as it goes. */
export class Recorder {
  readonly checks: CheckResult[] = [];
  readonly actions: string[] = [];
  constructor(private readonly out: (line: string) => void) {}

  did(what: string): void {
    this.actions.push(what);
    this.out(`   did:   ${what}`);
  }

  check(name: string, ok: boolean, detail = ''): boolean {
    this.checks.push({ name, ok, detail });
    this.out(`   [${ok ? 'PASS' : 'FAIL'}] ${name}${detail ? ` — ${detail}` : ''}`);
    return ok;
  }

  get failed(): number {
    return this.checks.filter((c) => !c.ok).length;
  }
}

export interface ChaosContext {
  /** Checkout whose dist/ is exercised. */
  root: string;
  /** The standard bench mail (raw). */
  raw: Buffer;
  /** Longer variants (e.g. the webhook receiver down for minutes, not seconds). */
  full: boolean;
  /** How long the webhook receiver stays down. */
  webhookDownMs: number;
  out: (line: string) => void;
}

/** A fault-injection scenario. `fast` ones run in CI (`test/chaos/chaos.test.ts`). */
export interface ChaosScenario {
  name: string;
  description: string;
  fast: boolean;
  /** Needs root (e.g. mounts a tmpfs); skipped with a note otherwise. */
  needsRoot?: boolean;
  run(ctx: ChaosContext, r: Recorder): Promise<void>;
}

/** Runs `ota-inbound <args>` with an environment; resolves with its exit and output (killed after `timeoutMs`). */
export function runCli(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'dist/src/cli/main.js'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Size and SHA-256 of every journal segment, by file name. */
export async function spoolFingerprint(dataDir: string): Promise<Record<string, { size: number; sha: string }>> {
  const dir = path.join(dataDir, 'spool');
  const out: Record<string, { size: number; sha: string }> = {};
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort()) {
    const bytes = await readFile(path.join(dir, name));
    out[name] = { size: bytes.length, sha: createHash('sha256').update(bytes).digest('hex') };
  }
  return out;
}

/**
 * True when every segment fingerprinted before still holds the same bytes
 * (a journal may have grown since: only the first `size` bytes are compared).
 */
export async function spoolUnchanged(
  dataDir: string,
  before: Record<string, { size: number; sha: string }>,
): Promise<boolean> {
  for (const [name, { size, sha }] of Object.entries(before)) {
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(dataDir, 'spool', name));
    } catch {
      return false;
    }
    if (bytes.length < size || createHash('sha256').update(bytes.subarray(0, size)).digest('hex') !== sha) return false;
  }
  return true;
}

/** Same segment files with the same bytes. */
export function sameSpool(
  a: Record<string, { size: number; sha: string }>,
  b: Record<string, { size: number; sha: string }>,
): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** SHA-256 fingerprint of the certificate served after STARTTLS. */
export async function starttlsFingerprint(port: number, timeoutMs = 10_000): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error('STARTTLS probe timed out')));
  let buf = '';
  const waitFor = (re: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const onData = (d: Buffer): void => {
        buf += d.toString('latin1');
        if (re.test(buf)) {
          socket.off('data', onData);
          buf = '';
          resolve();
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
    });
  try {
    await waitFor(/^220 .*\r\n/m);
    socket.write('EHLO probe.example\r\n');
    await waitFor(/^250 .*\r\n/m);
    socket.write('STARTTLS\r\n');
    await waitFor(/^220 .*\r\n/m);
    const secure = tls.connect({ socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    const fp = secure.getPeerCertificate().fingerprint256;
    secure.destroy();
    return fp;
  } finally {
    socket.destroy();
  }
}

/** A slow-loris connection: what it managed and how it ended. */
export interface LorisOutcome {
  greeting: number | null;
  /** Milliseconds from connect until the server closed it (null: still open when we stopped). */
  closedAfterMs: number | null;
  bytesSent: number;
  lastReply: string | null;
}

/**
 * Opens a connection from `localAddress` and, after the greeting, either stays
 * silent (`trickle` false) or sends `text` one byte every `byteEveryMs`,
 * until the server closes it or `durationMs` passes.
 */
export async function slowLoris(
  port: number,
  localAddress: string,
  o: { trickle: boolean; text: string; byteEveryMs: number; durationMs: number },
): Promise<LorisOutcome> {
  const t0 = Date.now();
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  let closed: number | null = null;
  let greeting: number | null = null;
  let lastReply: string | null = null;
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    const lines = buf.split('\r\n');
    buf = lines.pop() ?? '';
    for (const l of lines) {
      if (greeting === null) greeting = Number(l.slice(0, 3));
      lastReply = l.slice(0, 120);
    }
  });
  socket.on('close', () => (closed ??= Date.now() - t0));
  let sent = 0;
  while (closed === null && Date.now() - t0 < o.durationMs) {
    await sleep(o.byteEveryMs);
    if (o.trickle && greeting !== null && closed === null) {
      socket.write(o.text[sent % o.text.length]!);
      sent++;
    }
  }
  socket.destroy();
  return { greeting, closedAfterMs: closed, bytesSent: sent, lastReply };
}

/** Polls `fn` until it returns a truthy value or `capMs` passes; returns the last value. */
export async function pollFor<T>(fn: () => Promise<T> | T, capMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + capMs;
  let v = await fn();
  while (!v && Date.now() < deadline) {
    await sleep(everyMs);
    v = await fn();
  }
  return v;
}

/** `ota-inbound serve` started without waiting for readiness (for starts that are expected to fail or to be not ready). */
export interface RawServe {
  httpPort: number;
  smtpPort: number;
  output(): string;
  /** Exit description once exited, else null. */
  exited(): string | null;
  /** GET /readyz: status and body, or null when nothing answers. */
  readyz(): Promise<{ status: number; body: string } | null>;
  /** SIGTERM (SIGKILL after `capMs`); resolves with how it ended and how long it took. */
  stop(capMs?: number): Promise<{ exit: string; ms: number }>;
}

export function spawnServe(
  root: string,
  env: NodeJS.ProcessEnv,
  ports: { httpPort: number; smtpPort: number },
): RawServe {
  const child = spawn(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'serve'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exit: string | null = null;
  child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-16_384)));
  child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-16_384)));
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exit = signal ? `signal ${signal}` : `code ${String(code)}`;
      resolve();
    }),
  );
  return {
    ...ports,
    output: () => out,
    exited: () => exit,
    async readyz() {
      try {
        const res = await fetch(`http://127.0.0.1:${ports.httpPort}/readyz`, { signal: AbortSignal.timeout(2_000) });
        return { status: res.status, body: await res.text() };
      } catch {
        return null;
      }
    },
    async stop(capMs = 35_000) {
      const t0 = Date.now();
      if (exit === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), capMs);
        await exited;
        clearTimeout(timer);
      }
      return { exit: exit ?? 'unknown', ms: Date.now() - t0 };
    },
  };
}
