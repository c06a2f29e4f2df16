/**
 * Soak test (not in CI): ota-inbound under a moderate open-loop load for a
 * long time, reporting every minute the server's RSS, open file descriptors,
 * the minute's 250 latency and accept → persisted latency (from the database),
 * and the backlog. Growth in RSS or fds over a steady load is what it is for.
 *
 *   npm run build && node dist/bench/soak.js [--minutes 30] [--rate 100] [--json FILE]
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startOtaInbound } from './lib/server.ts';
import { prepareBody, runSmtpLoad } from './lib/smtp-load.ts';
import { BENCH_MAIL_FROM, BENCH_RCPT_TO, LOOPBACK_SOURCES, percentileOf } from './lib/types.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.resolve(HERE, '../..') : path.resolve(HERE, '..');
const CONNECTIONS = 16;
const MAX_MINUTES = 24 * 60;

interface Minute {
  minute: number;
  accepted: number;
  non250: number;
  rssMiB: number;
  openFds: number;
  ack50Ms: number;
  ack99Ms: number;
  persisted50Ms: number | null;
  persisted99Ms: number | null;
  backlog: number | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      rate: { type: 'string', default: '100' },
      json: { type: 'string' },
    },
  });
  const minutes = Number(values.minutes);
  const rate = Number(values.rate);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_MINUTES || !(rate > 0)) {
    process.stderr.write(`soak: --minutes must be 1..${MAX_MINUTES} and --rate > 0\n`);
    process.exit(2);
  }
  const body = prepareBody(readFileSync(path.join(ROOT, 'bench/reservation-iso2022jp.eml')));
  const ota = await startOtaInbound({ root: ROOT });
  const rows: Minute[] = [];
  process.stdout.write(
    `soak: ${minutes} min at ${rate} msgs/s (open loop, ${CONNECTIONS} sessions); server pid ${ota.pid}\n`,
  );
  process.stdout.write('min  accepted non250  RSS MiB  fds  250 p50/p99 ms   persisted p50/p99 ms  backlog\n');
  try {
    for (let m = 1; m <= minutes; m++) {
      const r = await runSmtpLoad({
        host: '127.0.0.1',
        port: ota.smtpPort,
        connections: CONNECTIONS,
        messages: rate * 60,
        maxDurationMs: 90_000,
        reuse: true,
        ratePerSec: rate,
        body,
        mailFrom: BENCH_MAIL_FROM,
        rcptTo: BENCH_RCPT_TO,
        localAddresses: LOOPBACK_SOURCES,
      });
      const backlog = await ota.pending().catch(() => null);
      const proc = await ota.sample();
      const ids = r.queueIds.filter((x): x is string => x !== null);
      // Rows of this minute that are already persisted; the rest show up as backlog.
      const lat = ota
        .rows(ids)
        .filter((x) => x.processedAt !== null)
        .map((x) => x.processedAt! - x.receivedAt);
      const row: Minute = {
        minute: m,
        accepted: r.accepted,
        non250: r.attempted - r.accepted,
        rssMiB: proc.rssBytes / 2 ** 20,
        openFds: proc.openFds,
        ack50Ms: r.latencyMs.p50,
        ack99Ms: r.latencyMs.p99,
        persisted50Ms: percentileOf(lat, 0.5),
        persisted99Ms: percentileOf(lat, 0.99),
        backlog,
      };
      rows.push(row);
      process.stdout.write(
        `${String(m).padStart(3)}  ${String(row.accepted).padStart(8)} ${String(row.non250).padStart(6)}  ${row.rssMiB.toFixed(0).padStart(7)}  ${String(row.openFds).padStart(3)}  ${row.ack50Ms.toFixed(1).padStart(6)}/${row.ack99Ms.toFixed(1).padEnd(8)}  ${String(row.persisted50Ms ?? '-').padStart(8)}/${String(row.persisted99Ms ?? '-').padEnd(10)}  ${String(row.backlog ?? '-')}\n`,
      );
      if (ota.exited()) throw new Error(`server exited: ${String(ota.exited())}\n${ota.logTail()}`);
    }
  } finally {
    const stop = await ota.stop();
    process.stdout.write(`server stopped: ${stop.exit}\n`);
  }
  const first = rows[0];
  const last = rows.at(-1);
  if (first && last)
    process.stdout.write(
      `RSS ${first.rssMiB.toFixed(0)} → ${last.rssMiB.toFixed(0)} MiB, fds ${first.openFds} → ${last.openFds} over ${rows.length} min\n`,
    );
  if (values.json) {
    await mkdir(path.dirname(path.resolve(values.json)), { recursive: true });
    await writeFile(values.json, JSON.stringify({ rate, connections: CONNECTIONS, minutes: rows }, null, 2) + '\n');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
