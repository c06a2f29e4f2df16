/**
 * ota-inbound as a child process, started the way an operator starts it
 * (`node dist/src/cli/main.js serve`, configured by environment), for tests
 * that must kill it for real.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export const CLI = path.join(import.meta.dirname, '../../dist/src/cli/main.js');

export interface Child {
  proc: ChildProcess;
  smtpPort: number;
  httpPort: number;
  logs: string[];
  exited: Promise<number | null>;
}

/**
 * Starts `ota-inbound serve` on free ports; resolves once it logged that it is
 * ready, with the ports it bound (the log level is forced to info for that line).
 */
export async function startChild(env: Record<string, string>): Promise<Child> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it first)`);
  const proc = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      OTA_INBOUND_SMTP_HOST: '127.0.0.1',
      OTA_INBOUND_HTTP_HOST: '127.0.0.1',
      OTA_INBOUND_SMTP_PORT: '0',
      OTA_INBOUND_HTTP_PORT: '0',
      // Tests address stores as {store}@intake.example; the sample config has registry addresses only.
      OTA_INBOUND_ROUTES: '{store}@intake.example',
      ...env,
      OTA_INBOUND_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave a server behind, even when a test times out before its cleanup.
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      process.off('exit', reap);
      resolve(code);
    }),
  );
  const ready = new Promise<{ smtpPort: number; httpPort: number }>((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      logs.push(line);
      try {
        const rec = JSON.parse(line) as { msg?: string; smtpPort?: number; httpPort?: number };
        if (rec.msg === 'ota-inbound ready') resolve({ smtpPort: rec.smtpPort!, httpPort: rec.httpPort! });
      } catch {
        // not JSON: keep it in logs for the failure message
      }
    });
    proc.stderr.on('data', (d: Buffer) => logs.push(d.toString()));
    void exited.then((code) =>
      reject(new Error(`ota-inbound exited with ${code} before it was ready:\n${logs.join('\n')}`)),
    );
  });
  const ports = await ready;
  return { proc, ...ports, logs, exited };
}

/** Re-checks `fn` until it returns a truthy value; fails after `timeoutMs` with `what`. */
export async function pollUntil<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
