/**
 * A no-op SMTP sink: smtp-server configured like ota-inbound's listener, whose
 * onData reads the stream and answers 250 without storing anything. Measured
 * in the same run as ota-inbound, it is the ceiling the ratios refer to.
 *
 * It runs in its own process ({@link spawnSink}) so that, like ota-inbound,
 * it gets a core of its own instead of sharing the load generator's event
 * loop. Run directly (`node dist/bench/lib/sink.js`) it listens on port 0 and
 * reports its port to the parent over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';

const MIB = 1024 * 1024;
/** Same as ota-inbound's default `smtp.maxMessageBytes`, so SIZE handling costs the same. */
export const SINK_MAX_MESSAGE_BYTES = 25 * MIB;
// RFC 5321 §4.5.3.2 asks for 5 minutes; ota-inbound uses the same.
const SOCKET_TIMEOUT_MS = 300_000;
// ota-inbound's default maxClients; the bench stays well below it.
const MAX_CLIENTS = 500;
// How long the parent waits for the child to report its port before giving up.
const SPAWN_READY_TIMEOUT_MS = 10_000;
// After SIGTERM, how long the child gets to exit before SIGKILL.
const STOP_TIMEOUT_MS = 5_000;
// Idle sessions would keep server.close() waiting; the bench is done with them by then.
const CHILD_CLOSE_GRACE_MS = 1_000;
// Queue ids look like ota-inbound's: short, unique within a run.
const QUEUE_ID_BYTES = 8;

/** A running in-process sink. */
export interface Sink {
  port: number;
  /** Messages answered 250 so far. */
  accepted(): number;
  close(): Promise<void>;
}

/**
 * Start a no-op sink on 127.0.0.1 and the given port (0 = any free port).
 * Answers `250 Ok: queued as <ID>` like ota-inbound, and `552` when the
 * message exceeds the size limit.
 */
export async function startSink(port = 0): Promise<Sink> {
  let accepted = 0;
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    size: SINK_MAX_MESSAGE_BYTES,
    authOptional: true,
    // No TLS for the bench load: ota-inbound's plain port is measured without STARTTLS too.
    disabledCommands: ['AUTH', 'STARTTLS'],
    socketTimeout: SOCKET_TIMEOUT_MS,
    maxClients: MAX_CLIENTS,
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          const err = Object.assign(new Error('Message exceeds fixed maximum message size'), { responseCode: 552 });
          callback(err);
          return;
        }
        accepted++;
        callback(null, `Ok: queued as ${randomBytes(QUEUE_ID_BYTES).toString('hex')}`);
      });
    },
  });
  server.on('error', () => {
    // Client resets under load are expected; the load generator counts them.
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.server.address() as AddressInfo;
  return {
    port: address.port,
    accepted: () => accepted,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A sink running in a child process. */
export interface SinkProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Fork this module as a sink process and wait until it reports its port. */
export async function spawnSink(): Promise<SinkProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), SPAWN_READY_TIMEOUT_MS);
  try {
    const [msg] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(() => {
        throw new Error('sink process exited before it was ready');
      }),
    ])) as [{ port?: unknown }];
    if (typeof msg.port !== 'number') throw new Error('sink process sent no port');
    const pid = child.pid ?? 0;
    return { port: msg.port, pid, stop: () => stopChild(child) };
  } finally {
    clearTimeout(timer);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const sink = await startSink(0);
  process.send?.({ port: sink.port });
  const shutdown = (): void => {
    void sink.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), CHILD_CLOSE_GRACE_MS).unref();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  process.once('disconnect', shutdown);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void main();
}
