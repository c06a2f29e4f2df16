/**
 * The fault-injection scenarios of `npm run chaos`. Each starts ota-inbound
 * as an operator would (bench/lib/server.ts), breaks something for real —
 * SIGKILL, a full tmpfs, a locked or corrupt database file, a parser worker
 * that runs out of memory, a webhook receiver that is down, slow-loris
 * clients, garbage certificate files — and checks the promise that must hold.
 */
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
  existsSync,
  statSync,
  readdirSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Journal } from '../../src/spool/index.ts';
import { bigTextMail } from '../lib/mails.ts';
import { freePort, metricValue, serverEnv, startOtaInbound, type OtaInbound } from '../lib/server.ts';
import { prepareBody, runSmtpLoad, type LoadReport } from '../lib/smtp-load.ts';
import { BENCH_MAIL_FROM, BENCH_RCPT_TO, LOOPBACK_SOURCES } from '../lib/types.ts';
import { SETTLED_STATES, waitSettled } from '../scenarios/common.ts';
import {
  pollFor,
  runCli,
  sameSpool,
  slowLoris,
  spawnServe,
  spoolFingerprint,
  spoolUnchanged,
  starttlsFingerprint,
  type ChaosContext,
  type ChaosScenario,
  type Recorder,
} from './lib.ts';

const DB_FILE = 'ota-inbound.db';

function tmp(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `ota-chaos-${prefix}-`));
}

function load(
  ctx: ChaosContext,
  port: number,
  o: {
    connections: number;
    messages: number;
    ratePerSec?: number;
    body?: Buffer;
    stopWhen?: () => boolean;
    onResult?: (code: number, id: string | null) => void;
    sources?: readonly string[];
  },
): Promise<LoadReport> {
  return runSmtpLoad({
    host: '127.0.0.1',
    port,
    connections: o.connections,
    messages: o.messages,
    maxDurationMs: 60_000,
    reuse: true,
    body: o.body ?? prepareBody(ctx.raw),
    mailFrom: BENCH_MAIL_FROM,
    rcptTo: BENCH_RCPT_TO,
    localAddresses: o.sources ?? LOOPBACK_SOURCES,
    replyTimeoutMs: 15_000,
    ...(o.ratePerSec ? { ratePerSec: o.ratePerSec } : {}),
    ...(o.stopWhen ? { stopWhen: o.stopWhen } : {}),
    ...(o.onResult ? { onResult: o.onResult } : {}),
  });
}

function ids(r: LoadReport): string[] {
  return r.queueIds.filter((x): x is string => x !== null);
}

function codes(r: LoadReport): string {
  return (
    Object.entries(r.codes)
      .map(([c, n]) => `${c}×${n}`)
      .join(' ') + (Object.keys(r.errors).length ? ` errors ${JSON.stringify(r.errors)}` : '')
  );
}

function withDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(dataDir, DB_FILE), { readonly: true, fileMustExist: true, timeout: 5_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Delivers `n` mails, waits until they are settled, stops the server cleanly; returns their ids. */
async function seed(ctx: ChaosContext, r: Recorder, dataDir: string, certsDir: string, n: number): Promise<string[]> {
  const ota = await startOtaInbound({ root: ctx.root, dataDir, certsDir });
  try {
    const rep = await load(ctx, ota.smtpPort, { connections: 4, messages: n });
    const accepted = ids(rep);
    await waitSettled(ota, accepted, 60_000);
    r.did(`seeded ${accepted.length} mails (${codes(rep)}) and stopped the server with SIGTERM`);
    return accepted;
  } finally {
    await ota.stop();
  }
}

const kill9: ChaosScenario = {
  name: 'kill9',
  description: 'kill -9 under a concurrent load, restart: every 250 is processed exactly once',
  fast: true,
  async run(ctx, r) {
    const dir = tmp('kill9');
    const dataDir = path.join(dir, 'data');
    const certsDir = path.join(dir, 'certs');
    try {
      const first = await startOtaInbound({ root: ctx.root, dataDir, certsDir });
      let acceptedSoFar = 0;
      let killed = false;
      const KILL_AFTER = 300;
      const rep = await load(ctx, first.smtpPort, {
        connections: 20,
        messages: 5_000,
        stopWhen: () => killed,
        onResult: (code) => {
          if (code === 250 && ++acceptedSoFar >= KILL_AFTER && !killed) {
            killed = true;
            void first.kill('SIGKILL');
          }
        },
      });
      const exit = await first.kill('SIGKILL');
      const accepted = ids(rep);
      r.did(`20 sessions delivering; SIGKILL after ${KILL_AFTER} 250s (server ${exit}); client saw ${codes(rep)}`);
      const second = await startOtaInbound({ root: ctx.root, dataDir, certsDir });
      try {
        r.did(`restarted on the same data directory (ready in ${second.readyMs} ms)`);
        const s = await waitSettled(second, accepted, 60_000);
        const missing = accepted.length - s.rows.length;
        r.check(
          "every 250'd message is in the database after restart",
          missing === 0,
          `${accepted.length} accepted, ${missing} missing`,
        );
        const notDone = s.rows.filter((x) => !SETTLED_STATES.has(x.state) || x.state === 'dead');
        r.check(
          "every 250'd message is processed (none pending, failed or dead)",
          s.settled && notDone.length === 0,
          `${notDone.length} not processed${notDone[0] ? ` (e.g. ${notDone[0].id}: ${notDone[0].state})` : ''}`,
        );
        await second.waitForDrain(30_000);
        const dup = withDb(
          dataDir,
          (db) =>
            db
              .prepare(
                'SELECT COUNT(*) AS n FROM (SELECT message_id FROM messages WHERE message_id IS NOT NULL GROUP BY message_id HAVING COUNT(*) > 1)',
              )
              .get() as { n: number },
        );
        const events = withDb(
          dataDir,
          (db) =>
            db
              .prepare(
                'SELECT COUNT(*) AS n FROM (SELECT message FROM reservation_events GROUP BY message HAVING COUNT(*) > 1)',
              )
              .get() as { n: number },
        );
        r.check(
          'exactly once: no Message-ID recorded twice, no message with two reservation events',
          dup.n === 0 && events.n === 0,
          `${dup.n} duplicated Message-IDs, ${events.n} messages with several events`,
        );
      } finally {
        const stop = await second.stop();
        r.check('the restarted server stops cleanly on SIGTERM', stop.exit === 'code 0', stop.exit);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const DISK_BYTES = 32 * 1024 * 1024;
const FILLER_BYTES = 20 * 1024 * 1024;

/** A plain mail of about `bytes` (text lines), distinct per Message-ID via the load generator. */
function paddedMail(bytes: number): Buffer {
  const line = `${'x'.repeat(76)}\r\n`;
  return Buffer.from(
    `Message-ID: <pad@chaos.example>\r\nFrom: info@sender.example\r\nTo: sakura-ginza@intake.example\r\nSubject: fill\r\n\r\n${line.repeat(Math.ceil(bytes / line.length))}`,
    'latin1',
  );
}

const diskFull: ChaosScenario = {
  name: 'disk-full',
  description:
    'the spool disk (a real 32 MiB tmpfs) fills mid-load: 4xx, nothing half-written, recovery once space returns',
  fast: true,
  needsRoot: true,
  async run(ctx, r) {
    const dir = tmp('disk');
    const mnt = path.join(dir, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', mnt]);
    let ota: OtaInbound | null = null;
    try {
      const filler = path.join(mnt, 'filler');
      writeFileSync(filler, Buffer.alloc(FILLER_BYTES));
      const dataDir = path.join(mnt, 'data');
      ota = await startOtaInbound({
        root: ctx.root,
        dataDir,
        certsDir: path.join(dir, 'certs'),
        env: {
          OTA_INBOUND_SMTP_MAX_MESSAGE_BYTES: String(1024 * 1024),
          OTA_INBOUND_SMTP_MIN_FREE_BYTES: String(1024 * 1024),
          OTA_INBOUND_PIPELINE_RETRY_BASE_MS: '200',
        },
      });
      r.did(
        `mounted a ${DISK_BYTES / 2 ** 20} MiB tmpfs with ${FILLER_BYTES / 2 ** 20} MiB taken; server spool and database on it (free-space guard 1 MiB)`,
      );
      const rep = await load(ctx, ota.smtpPort, {
        connections: 10,
        messages: 200,
        body: prepareBody(paddedMail(200 * 1024)),
      });
      const accepted = ids(rep);
      r.did(`10 sessions sent 200 mails of 200 KB: ${codes(rep)}`);
      const fourxx = Object.entries(rep.codes)
        .filter(([c]) => c.startsWith('4'))
        .reduce((n, [, k]) => n + k, 0);
      const fivexx = Object.entries(rep.codes)
        .filter(([c]) => c.startsWith('5'))
        .reduce((n, [, k]) => n + k, 0);
      r.check('the full disk is answered with 4xx (the sender keeps the mail)', fourxx > 0, `${fourxx} 4xx replies`);
      r.check('never a 5xx for our own full disk', fivexx === 0, `${fivexx} 5xx replies`);
      // Nothing half-written: the journal holds exactly complete records, and every 250'd id.
      const journal = new Journal({ dir: path.join(dataDir, 'spool') });
      const inJournal = new Set<string>();
      const ends = new Map<number, number>();
      for await (const rec of journal.scan({ segment: 0, offset: 0 }, { verify: true })) {
        if (rec.kind === 'record' && rec.crcOk) inJournal.add(rec.id);
        ends.set(rec.kind === 'record' ? rec.ref.segment : rec.segment, rec.end);
      }
      const torn = readdirSync(path.join(dataDir, 'spool'))
        .filter((n) => n.endsWith('.seg'))
        .filter((n) => statSync(path.join(dataDir, 'spool', n)).size !== (ends.get(Number(n.slice(0, 12))) ?? 0));
      r.check(
        'no half-written record: every segment ends at its last complete record',
        torn.length === 0,
        torn.length ? `torn: ${torn.join(', ')}` : `${inJournal.size} complete records`,
      );
      const lost = accepted.filter((id) => !inJournal.has(id));
      r.check("every 250'd message is in the spool", lost.length === 0, `${lost.length} of ${accepted.length} missing`);
      rmSync(filler);
      r.did('deleted the filler: space returns');
      await sleep(1_000);
      const again = await load(ctx, ota.smtpPort, {
        connections: 2,
        messages: 10,
        body: prepareBody(paddedMail(200 * 1024)),
      });
      r.check('accepts again once space returns', again.accepted === 10, codes(again));
      const all = [...accepted, ...ids(again)];
      const s = await waitSettled(ota, all, 60_000);
      const dead = s.rows.filter((x) => x.state === 'dead');
      r.check(
        "every 250'd message ends processed (none lost, none dead)",
        s.settled && s.rows.length === all.length && dead.length === 0,
        `${s.rows.length}/${all.length} rows, ${dead.length} dead`,
      );
    } finally {
      await ota?.stop();
      try {
        execFileSync('umount', [mnt]);
      } catch {
        execFileSync('umount', ['-l', mnt]);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const dbLocked: ChaosScenario = {
  name: 'db-locked',
  description:
    'the database file is locked by another process at start: a clear error or a visible not-ready state, spool untouched, normal once released',
  fast: true,
  async run(ctx, r) {
    const dir = tmp('lock');
    const dataDir = path.join(dir, 'data');
    const certsDir = path.join(dir, 'certs');
    try {
      const seeded = await seed(ctx, r, dataDir, certsDir, 20);
      const before = await spoolFingerprint(dataDir);
      const holder = new Database(path.join(dataDir, DB_FILE));
      holder.pragma('busy_timeout = 0');
      holder.exec('BEGIN EXCLUSIVE');
      r.did('another process holds an exclusive lock on the database (BEGIN EXCLUSIVE)');
      const ports = { httpPort: await freePort(), smtpPort: await freePort() };
      const serve = spawnServe(
        ctx.root,
        serverEnv({ root: ctx.root, dataDir, certsDir, ...ports, env: { OTA_INBOUND_LOG_LEVEL: 'info' } }),
        ports,
      );
      let lastReady: { status: number; body: string } | null = null;
      try {
        // Either it refuses to start (exits with a message) or it runs and says it is not ready.
        await pollFor(
          async () => {
            lastReady = await serve.readyz();
            return (
              serve.exited() !== null || (lastReady !== null && lastReady.status !== 200) || lastReady?.status === 200
            );
          },
          20_000,
          200,
        );
        await sleep(1_000);
        lastReady = await serve.readyz();
        const ended = serve.exited();
        if (ended !== null) {
          const msg = serve.output();
          const line = msg.split('\n').find((l) => /lock|busy/i.test(l)) ?? msg.split('\n').at(-2) ?? '';
          r.check(
            'refuses to start with a clear error that names the lock',
            ended !== 'code 0' && /locked|busy/i.test(msg),
            `${ended}: ${line.slice(0, 300)}`,
          );
          r.check('the error names the database file', msg.includes(DB_FILE));
        } else {
          const rd = lastReady;
          r.did(`it started while locked; /readyz answers ${rd ? `${rd.status} ${rd.body.slice(0, 160)}` : 'nothing'}`);
          r.check(
            'while locked: /readyz is not ready and names the database',
            rd !== null && rd.status !== 200 && /database/i.test(rd.body),
            rd ? `${rd.status}` : 'no answer',
          );
          const probe = await load(ctx, ports.smtpPort, { connections: 1, messages: 3 });
          r.did(`delivered 3 mails while locked: ${codes(probe)} (the spool, not the database, is what a 250 needs)`);
          holder.exec('ROLLBACK');
          holder.close();
          r.did('released the lock');
          const ok = await pollFor(async () => (await serve.readyz())?.status === 200, 15_000, 200);
          r.check('ready once the lock is released', ok);
          const pending = await pollFor(
            () =>
              withDb(
                dataDir,
                (db) =>
                  (
                    db.prepare("SELECT COUNT(*) AS n FROM messages WHERE state IN ('pending','failed')").get() as {
                      n: number;
                    }
                  ).n === 0,
              ),
            30_000,
            250,
          );
          r.check(
            'mail accepted while locked is processed after the release',
            pending && probe.accepted === 3,
            codes(probe),
          );
        }
      } finally {
        if (holder.open) {
          holder.exec('ROLLBACK');
          holder.close();
          r.did('released the lock');
        }
        const stop = await serve.stop();
        r.check(
          'stops on SIGTERM within 10 s',
          stop.exit === 'code 0' && stop.ms < 10_000,
          `${stop.exit} after ${stop.ms} ms`,
        );
      }
      const after = await spoolFingerprint(dataDir);
      r.check(
        'spool untouched: every byte journaled before is unchanged',
        await spoolUnchanged(dataDir, before),
        `${Object.keys(before).length} segment(s) compared by SHA-256; now ${Object.keys(after).length}`,
      );
      const again = await startOtaInbound({ root: ctx.root, dataDir, certsDir });
      try {
        const rows = again.rows(seeded);
        r.check(
          'after the lock is gone the server starts and has every seeded message',
          rows.length === seeded.length,
          `${rows.length}/${seeded.length}`,
        );
      } finally {
        await again.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const dbCorrupt: ChaosScenario = {
  name: 'db-corrupt',
  description:
    'the database file is garbage at start: a clear error naming the file and `rebuild`, spool untouched; `ota-inbound rebuild --replace` recovers',
  fast: true,
  async run(ctx, r) {
    const dir = tmp('corrupt');
    const dataDir = path.join(dir, 'data');
    const certsDir = path.join(dir, 'certs');
    try {
      const seeded = await seed(ctx, r, dataDir, certsDir, 20);
      const before = await spoolFingerprint(dataDir);
      const dbFile = path.join(dataDir, DB_FILE);
      for (const suffix of ['-wal', '-shm']) rmSync(dbFile + suffix, { force: true });
      const fd = openSync(dbFile, 'r+');
      writeSync(fd, Buffer.from('this is not a database '.repeat(200)), 0, 4096, 0);
      closeSync(fd);
      r.did(`overwrote the first 4 KiB of ${DB_FILE} with garbage`);
      let started: OtaInbound | null = null;
      try {
        started = await startOtaInbound({ root: ctx.root, dataDir, certsDir, readyTimeoutMs: 20_000 });
      } catch (err) {
        const msg = (err as Error).message;
        const line =
          msg.split('\n').find((l) => /cannot start|database|not a database|malformed/i.test(l)) ??
          msg.split('\n')[0] ??
          '';
        r.check('refuses to start', true, line.slice(0, 300));
        r.check(
          'the error names the database file',
          msg.includes(dbFile) || msg.includes(DB_FILE),
          msg.includes(DB_FILE) ? 'named' : 'no file name in the error',
        );
        r.check(
          'the error points to `ota-inbound rebuild`',
          /rebuild/.test(msg),
          /rebuild/.test(msg) ? 'mentions rebuild' : 'no mention of rebuild',
        );
      }
      if (started) {
        r.check('refuses to start on a corrupt database', false, 'it started and answered /readyz 200');
        await started.stop();
      }
      r.check(
        'spool untouched by the failed start',
        sameSpool(before, await spoolFingerprint(dataDir)),
        `${Object.keys(before).length} segment(s) compared by SHA-256`,
      );
      const env = {
        ...process.env,
        OTA_INBOUND_DATA_DIR: dataDir,
        OTA_INBOUND_CERTS_DIR: certsDir,
        OTA_INBOUND_SITES_DIRS: path.join(ctx.root, 'bench/sites'),
        OTA_INBOUND_LOG_LEVEL: 'warn',
      };
      const rb = await runCli(ctx.root, ['rebuild', '--replace'], env, 120_000);
      r.did(
        `ran \`ota-inbound rebuild --replace\`: exit ${String(rb.code)}: ${(rb.stdout + rb.stderr).trim().split('\n').at(-1)?.slice(0, 200) ?? ''}`,
      );
      r.check('rebuild --replace succeeds', rb.code === 0, rb.code === 0 ? '' : rb.stderr.slice(0, 300));
      r.check(
        'the corrupt file is kept aside, not deleted',
        readdirSync(dataDir).some((n) => n.startsWith(`${DB_FILE}.before-rebuild-`)),
      );
      const ota = await startOtaInbound({ root: ctx.root, dataDir, certsDir });
      try {
        const s = await waitSettled(ota, seeded, 30_000);
        r.check(
          'the server starts on the rebuilt database with every seeded message settled',
          s.settled && s.rows.length === seeded.length,
          `${s.rows.length}/${seeded.length}`,
        );
        const rep = await load(ctx, ota.smtpPort, { connections: 2, messages: 10 });
        const s2 = await waitSettled(ota, ids(rep), 30_000);
        r.check('and takes new mail', rep.accepted === 10 && s2.settled, codes(rep));
      } finally {
        await ota.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** Restarts a supervised server this many times at most (like a container restart policy). */
const MAX_SUPERVISED_RESTARTS = 4;

const workerCrash: ChaosScenario = {
  name: 'worker-crash',
  description:
    'a parser worker exhausts its heap (a 20 MB text body, 32 MB heap limit) while normal mail flows; V8 may abort the whole process (nodejs/node#47224), so the server runs under a restart policy: the poison mail is dead-lettered with its reason, every other accepted mail is processed once',
  fast: true,
  async run(ctx, r) {
    const env = {
      OTA_INBOUND_PIPELINE_WORKER_MAX_MEMORY_MB: '32',
      OTA_INBOUND_PIPELINE_MAX_ATTEMPTS: '2',
      OTA_INBOUND_PIPELINE_RETRY_BASE_MS: '100',
      OTA_INBOUND_PIPELINE_PARSE_TIMEOUT_MS: '10000',
    };
    let ota = await startOtaInbound({ root: ctx.root, env });
    const dataDir = ota.dataDir;
    let restarts = 0;
    // The restart policy: a server that died is started again on the same data directory.
    const supervise = async () => {
      if (ota.exited() === null || restarts >= MAX_SUPERVISED_RESTARTS) return;
      restarts += 1;
      ota = await startOtaInbound({ root: ctx.root, env, dataDir });
    };
    try {
      const killer = prepareBody(bigTextMail(ctx.raw, 20_000_000));
      const normal = load(ctx, ota.smtpPort, { connections: 4, messages: 200, ratePerSec: 40 });
      const bad = await runSmtpLoad({
        host: '127.0.0.1',
        port: ota.smtpPort,
        connections: 1,
        messages: 1,
        maxDurationMs: 60_000,
        reuse: true,
        body: killer,
        mailFrom: BENCH_MAIL_FROM,
        rcptTo: BENCH_RCPT_TO,
        localAddresses: ['127.0.0.30'],
        replyTimeoutMs: 60_000,
      });
      const normalRep = await normal;
      const badId = ids(bad)[0];
      // Senders whose connection died with the process got no 250: they would retry; only 250s count.
      r.did(
        `sent a 20 MB mail to workers limited to a 32 MB heap (${codes(bad)}) among 200 normal mails (${codes(normalRep)})`,
      );
      if (!badId) {
        r.check('the crashing mail was accepted', false, codes(bad));
        return;
      }
      const normals = ids(normalRep);
      let settled = false;
      for (let round = 0; round < 60 && !settled; round++) {
        await supervise();
        settled = (await waitSettled(ota, [badId, ...normals], 2_000)).settled;
      }
      const s = await waitSettled(ota, [badId], 1_000);
      const row = s.rows[0];
      r.did(
        `the big mail ended ${row?.state ?? 'unknown'} ${row?.errorCode ?? ''} after ${row?.attempts ?? '?'} attempt(s); the process was restarted ${restarts} time(s)`,
      );
      r.check(
        'a worker (or the process) actually died on it',
        row?.errorCode === 'PROCESS_CRASHED' ||
          row?.errorCode === 'PARSE_RESOURCE_LIMIT' ||
          row?.errorCode === 'PARSE_WORKER_CRASHED',
        `${row?.errorCode ?? 'none'}`,
      );
      r.check(
        'the crashing mail is dead-lettered with a coded reason (raw kept)',
        row?.state === 'dead' && !!row.errorCode,
        `${row?.state} ${row?.errorCode ?? ''}: ${row?.error?.slice(0, 120) ?? ''}`,
      );
      r.check(`no crash loop: at most pipeline.maxAttempts restarts`, restarts <= 2, `${restarts} restart(s)`);
      const ns = await waitSettled(ota, normals, 30_000);
      const good = ns.rows.filter((x) => x.state === 'processed' || x.state === 'review').length;
      const others = ns.rows.filter((x) => x.state !== 'processed' && x.state !== 'review');
      r.check(
        'every accepted normal mail is processed (none dead-lettered with the crashing one)',
        normals.length > 0 && good === normals.length,
        `${good}/${normals.length}${
          others.length
            ? `; others: ${others
                .slice(0, 5)
                .map((x) => `${x.id} ${x.state} ${x.errorCode ?? ''} attempts=${x.attempts}`)
                .join('; ')}`
            : ''
        }`,
      );
      const after = await load(ctx, ota.smtpPort, { connections: 2, messages: 10 });
      const as = await waitSettled(ota, ids(after), 30_000);
      r.check(
        'the server works afterwards',
        as.settled && as.rows.every((x) => x.state !== 'dead') && ota.exited() === null,
        codes(after),
      );
    } finally {
      await ota.stop();
    }
  },
};

const webhookDown: ChaosScenario = {
  name: 'webhook-down',
  description: 'the webhook receiver is down while reservations arrive; everything is delivered after it returns',
  fast: true,
  async run(ctx, r) {
    const port = await freePort();
    const ota = await startOtaInbound({
      root: ctx.root,
      env: {
        OTA_INBOUND_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
        OTA_INBOUND_WEBHOOK_SECRET: 'chaos-secret',
        OTA_INBOUND_WEBHOOK_RETRY_BASE_MS: '200',
        OTA_INBOUND_WEBHOOK_RETRY_MAX_MS: ctx.full ? '15000' : '1000',
        OTA_INBOUND_WEBHOOK_TIMEOUT_MS: '2000',
      },
    });
    let receiver: http.Server | null = null;
    try {
      const rep = await load(ctx, ota.smtpPort, { connections: 4, messages: 30 });
      const accepted = ids(rep);
      await waitSettled(ota, accepted, 30_000);
      r.did(
        `receiver down (nothing listens on :${port}); delivered 30 reservation mails (${codes(rep)}); waiting ${ctx.webhookDownMs / 1000} s`,
      );
      await sleep(ctx.webhookDownMs);
      const m1 = await ota.metrics();
      const pendingDown = metricValue(m1, 'ota_inbound_webhook_pending_deliveries');
      const failed = [...m1.matchAll(/^ota_inbound_webhook_failures_total\{reason="([^"]+)"\} (\S+)/gm)].map(
        (m) => `${m[1]}=${m[2]}`,
      );
      r.check(
        'while down: deliveries wait in the outbox and failures are counted',
        (pendingDown ?? 0) >= accepted.length && failed.length > 0,
        `pending ${String(pendingDown)}, failures ${failed.join(', ')}`,
      );
      const got = new Map<string, number>();
      let bad = 0;
      receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          try {
            const p = JSON.parse(body) as { message?: { spoolId?: string } };
            const id = p.message?.spoolId ?? '';
            got.set(id, (got.get(id) ?? 0) + 1);
            if (!String(req.headers['x-ota-signature'] ?? '').includes('v1=')) bad++;
          } catch {
            bad++;
          }
          res.writeHead(200).end('ok');
        });
      });
      await new Promise<void>((resolve) => receiver!.listen(port, '127.0.0.1', resolve));
      const t0 = Date.now();
      r.did('receiver started');
      const all = await pollFor(() => accepted.every((id) => got.has(id)), ctx.full ? 120_000 : 30_000, 100);
      r.check(
        'every reservation arrives after the receiver returns',
        all,
        `${accepted.filter((id) => got.has(id)).length}/${accepted.length} in ${Date.now() - t0} ms`,
      );
      r.check('every request is signed', bad === 0, `${bad} unsigned or unreadable`);
      const drained = await pollFor(
        async () => metricValue(await ota.metrics(), 'ota_inbound_webhook_pending_deliveries') === 0,
        10_000,
      );
      r.check('the outbox is empty afterwards', drained);
      const dups = [...got.values()].filter((n) => n > 1).length;
      r.did(
        `${dups} reservation(s) were delivered more than once (at-least-once; receivers de-duplicate by X-OTA-Idempotency-Key)`,
      );
    } finally {
      receiver?.close();
      await ota.stop();
    }
  },
};

const slowLorisScenario: ChaosScenario = {
  name: 'slow-loris',
  description:
    'many connections trickling one byte at a time or sitting silent: per-IP limit and idle timeout hold, other clients unaffected',
  fast: true,
  async run(ctx, r) {
    const TIMEOUT_MS = 2_000;
    const PER_IP = 20;
    const ota = await startOtaInbound({
      root: ctx.root,
      env: {
        OTA_INBOUND_SMTP_SOCKET_TIMEOUT_MS: String(TIMEOUT_MS),
        OTA_INBOUND_SMTP_MAX_CONNECTIONS_PER_IP: String(PER_IP),
        OTA_INBOUND_SMTP_ABUSE_EXEMPT: '127.0.0.1',
      },
    });
    try {
      const good = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
      const baseline = await load(ctx, ota.smtpPort, { connections: 4, messages: 80, ratePerSec: 20, sources: good });
      r.did(
        `baseline: 80 normal mails at 20/s from 4 other addresses: p99 ${baseline.latencyMs.p99.toFixed(1)} ms (${codes(baseline)})`,
      );
      const ATTACK_MS = 8_000;
      const silent = Array.from({ length: 30 }, () =>
        slowLoris(ota.smtpPort, '127.0.1.1', { trickle: false, text: '', byteEveryMs: 100, durationMs: ATTACK_MS }),
      );
      const trickle = Array.from({ length: 30 }, () =>
        slowLoris(ota.smtpPort, '127.0.1.2', {
          trickle: true,
          text:
            'EHLO slow.example\r\nMAIL FROM:<slow@loris.example>\r\nRCPT TO:<sakura-ginza@intake.example>\r\nDATA\r\n' +
            'x'.repeat(100_000),
          byteEveryMs: 200,
          durationMs: ATTACK_MS,
        }),
      );
      await sleep(500);
      const during = await load(ctx, ota.smtpPort, { connections: 4, messages: 80, ratePerSec: 20, sources: good });
      const [s, t] = [await Promise.all(silent), await Promise.all(trickle)];
      r.did(
        `30 silent + 30 trickling (1 byte / 200 ms) connections from two addresses for ${ATTACK_MS / 1000} s; meanwhile the same normal load: p99 ${during.latencyMs.p99.toFixed(1)} ms (${codes(during)})`,
      );
      const admitted = (xs: typeof s): number => xs.filter((x) => x.greeting === 220).length;
      r.check(
        `per-IP limit holds (≤ ${PER_IP} admitted per address, the rest refused)`,
        admitted(s) <= PER_IP && admitted(t) <= PER_IP,
        `silent: ${admitted(s)} admitted, ${s.filter((x) => x.greeting === 421).length} got 421; trickle: ${admitted(t)} admitted, ${t.filter((x) => x.greeting === 421).length} got 421`,
      );
      const silentAdmitted = s.filter((x) => x.greeting === 220);
      const closedInTime = silentAdmitted.filter(
        (x) => x.closedAfterMs !== null && x.closedAfterMs <= TIMEOUT_MS + 1_500,
      );
      r.check(
        `silent sessions are closed by the ${TIMEOUT_MS} ms idle timeout`,
        silentAdmitted.length > 0 && closedInTime.length === silentAdmitted.length,
        `${closedInTime.length}/${silentAdmitted.length} closed within ${TIMEOUT_MS + 1_500} ms (max ${Math.max(...silentAdmitted.map((x) => x.closedAfterMs ?? Infinity))} ms)`,
      );
      const trickleAdmitted = t.filter((x) => x.greeting === 220);
      const trickleClosed = trickleAdmitted.filter((x) => x.closedAfterMs !== null);
      r.did(
        `trickling sessions: ${trickleClosed.length}/${trickleAdmitted.length} closed by the server within ${ATTACK_MS / 1000} s (a byte every 200 ms resets an idle timeout; they hold a slot until the per-IP limit)`,
      );
      r.check('other clients unaffected: every normal mail 250', during.accepted === 80, codes(during));
      const limit = Math.max(50, baseline.latencyMs.p99 * 3);
      r.check(
        'other clients unaffected: 250 p99 within 3× baseline (min 50 ms)',
        during.latencyMs.p99 <= limit,
        `${during.latencyMs.p99.toFixed(1)} ms vs baseline ${baseline.latencyMs.p99.toFixed(1)} ms`,
      );
    } finally {
      await ota.stop();
    }
  },
};

const certGarbage: ChaosScenario = {
  name: 'cert-garbage',
  description:
    'certificate files replaced by garbage: the old certificate keeps being served, the failure is counted and alerted',
  fast: true,
  async run(ctx, r) {
    const TOKEN = 'chaos-api-token';
    const ota = await startOtaInbound({
      root: ctx.root,
      env: {
        OTA_INBOUND_TLS_WATCH_INTERVAL_MS: '200',
        OTA_INBOUND_API_TOKEN: TOKEN,
        OTA_INBOUND_ALERTS_INTERVAL_MS: '1000',
      },
    });
    try {
      const fp1 = await starttlsFingerprint(ota.smtpPort);
      const certFile = path.join(ota.certsDir, 'cert.pem');
      const keyFile = path.join(ota.certsDir, 'key.pem');
      r.check('a certificate is served over STARTTLS', !!fp1 && existsSync(certFile), fp1.slice(0, 23));
      writeFileSync(certFile, '-----BEGIN CERTIFICATE-----\nthis is garbage\n-----END CERTIFICATE-----\n');
      writeFileSync(keyFile, 'not a key at all\n');
      r.did('overwrote cert.pem and key.pem with garbage');
      const failures = await pollFor(
        async () => {
          const m = await ota.metrics();
          return Number(/^ota_inbound_tls_certificate_reloads_total\{result="failure"\} (\S+)/m.exec(m)?.[1] ?? 0);
        },
        15_000,
        200,
      );
      r.check('ota_inbound_tls_certificate_reloads_total{result="failure"} increments', failures >= 1, `= ${failures}`);
      const fp2 = await starttlsFingerprint(ota.smtpPort);
      r.check(
        'the old certificate is still served',
        fp2 === fp1,
        fp2 === fp1 ? 'same SHA-256 fingerprint' : `changed to ${fp2}`,
      );
      const api = `http://127.0.0.1:${ota.httpPort}/api/alerts`;
      const unauth = await fetch(api);
      r.check('/api/alerts requires the bearer token', unauth.status === 401, `without token: ${unauth.status}`);
      const body = await pollFor(
        async () => {
          const res = await fetch(api, { headers: { authorization: `Bearer ${TOKEN}` } });
          const text = await res.text();
          return res.ok && text.includes('CertificateReloadFailed') ? text : '';
        },
        15_000,
        250,
      );
      r.check('the CertificateReloadFailed alert appears at /api/alerts', body !== '', body ? 'active' : 'not found');
      const rep = await load(ctx, ota.smtpPort, { connections: 1, messages: 5 });
      r.check('mail is still accepted', rep.accepted === 5, codes(rep));
    } finally {
      await ota.stop();
    }
  },
};

/** Every scenario, in run order. */
export const CHAOS_SCENARIOS: readonly ChaosScenario[] = [
  kill9,
  diskFull,
  dbLocked,
  dbCorrupt,
  workerCrash,
  webhookDown,
  slowLorisScenario,
  certGarbage,
];
