/**
 * `npm run build && node dist/bench/reconcile-cost.js [--records 1000000] [--dir DIR]`:
 * what one reconciler pass (`ota-inbound verify`) costs on a large ledger
 * (issue 12: "cheap on a 1M-row database").
 *
 * Builds a data directory the way the server would have: N distinct variants
 * of the 5.7 KB benchmark mail appended by the server's own journal code, each
 * recorded as a message row by the server's own store code (the state the
 * hand-off leaves), then runs the built `ota-inbound verify --json` on it
 * twice (the first pass may read the segments from disk, the second from the
 * page cache) and prints one JSON line: records, journal and database sizes,
 * each pass's wall time, the reconciler's own duration and the peak RSS.
 * `--dir` keeps (or reuses) the data directory; without it a temporary one is
 * removed at the end.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Journal, recordEnd, type Envelope, type SpoolRecord } from '../src/spool/index.ts';
import { Store } from '../src/store/index.ts';
import { messageVariants } from './lib/smtp-load.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.resolve(HERE, '../..') : path.resolve(HERE, '..');
const BENCH_MAIL = path.join(ROOT, 'bench', 'reservation-iso2022jp.eml');
/** Records per group commit and per row batch: bounds memory and the number of syncs. */
const BATCH = 1_000;

const { values } = parseArgs({
  options: { records: { type: 'string', default: '1000000' }, dir: { type: 'string' } },
});
const count = Number(values.records);
if (!Number.isInteger(count) || count < 1) {
  console.error('usage: node dist/bench/reconcile-cost.js [--records N] [--dir DIR]');
  process.exit(2);
}
const dataDir = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ota-reconcile-'));
const dbFile = path.join(dataDir, 'ota-inbound.db');
const spoolDir = path.join(dataDir, 'spool');

const envelope: Envelope = {
  mailFrom: 'yoyaku-noreply@ota.example',
  rcptTo: ['sakura-ginza@intake.example'],
  clientIp: '127.0.0.2',
  helo: 'prefill.bench.example',
  tls: null,
  store: 'sakura-ginza',
  quarantined: false,
  sessionId: 'bench-reconcile',
};

/** Appends and records `count` mails unless the directory already holds a ledger of that size. */
async function build(): Promise<number> {
  const store = new Store(dbFile);
  try {
    const have = store.cursor().offset > 0 || store.cursor().segment > 1;
    if (have) return 0;
    const started = performance.now();
    const journal = new Journal({ dir: spoolDir });
    await journal.open();
    const variant = messageVariants(fs.readFileSync(BENCH_MAIL));
    for (let i = 0; i < count; i += BATCH) {
      const n = Math.min(BATCH, count - i);
      const recs: SpoolRecord[] = await Promise.all(
        Array.from({ length: n }, (_, k) => {
          const body = variant(i + k);
          return journal.append(envelope, [body], body.length);
        }),
      );
      store.recordSpooled(recs, recordEnd(recs.at(-1)!.ref));
    }
    await journal.close();
    return Math.round(performance.now() - started);
  } finally {
    store.close();
  }
}

/** One `ota-inbound verify --json` pass in a child process: wall time, its report, its peak RSS (GNU time). */
function verifyPass(): { wallMs: number; durationMs: number; records: number; rows: number; maxRssMb: number } {
  const started = performance.now();
  const cli = path.join(ROOT, 'dist/src/cli/main.js');
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, cli, 'verify', '--json'], {
    env: { PATH: process.env.PATH ?? '', OTA_INBOUND_DATA_DIR: dataDir },
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  const wallMs = Math.round(performance.now() - started);
  if (r.status !== 0) throw new Error(`verify exited ${r.status}: ${r.stderr}${r.stdout.slice(0, 500)}`);
  const report = JSON.parse(r.stdout) as { durationMs: number; records: number; rows: number };
  const maxRssKb = Number(r.stderr.trim().split('\n').at(-1));
  return {
    wallMs,
    durationMs: report.durationMs,
    records: report.records,
    rows: report.rows,
    maxRssMb: Math.round(maxRssKb / 1024),
  };
}

const buildMs = await build();
const journalBytes = fs.readdirSync(spoolDir).reduce((n, f) => n + fs.statSync(path.join(spoolDir, f)).size, 0);
const passes = [verifyPass(), verifyPass()];
console.log(
  JSON.stringify({
    records: passes[0]!.records,
    rows: passes[0]!.rows,
    journalMb: Math.round(journalBytes / 2 ** 20),
    databaseMb: Math.round(fs.statSync(dbFile).size / 2 ** 20),
    buildMs,
    passes,
  }),
);
if (!values.dir) fs.rmSync(dataDir, { recursive: true, force: true });
