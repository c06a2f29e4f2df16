/** `replay`, `rebuild` and `purge`: maintenance that runs beside (or without) the server. */
import fs from 'node:fs';
import path from 'node:path';
import { databaseFile } from '../app.ts';
import type { Config } from '../config/index.ts';
import { loadSiteDefinitions } from '../extract/index.ts';
import { SHIPPED_SITES_DIR } from '../paths.ts';
import {
  reconcile,
  replay,
  takeSpooled,
  type ReconcileReport,
  type ReplayReport,
  type ReplaySelection,
} from '../pipeline/index.ts';
import { purge, type PurgeReport } from '../retention/index.ts';
import { Spool } from '../spool/index.ts';
import { Store } from '../store/index.ts';
import { readLock } from '../lock.ts';
import { OutboxWriter } from '../deliver/index.ts';
import { progressReporter } from './progress.ts';

function open(cfg: Readonly<Config>, dbFile = databaseFile(cfg)) {
  const store = new Store(dbFile);
  const spool = new Spool({ dataDir: cfg.dataDir, minFreeBytes: 0 });
  return { store, spool };
}

function workersOf(cfg: Readonly<Config>) {
  return { sites: loadSiteDefinitions([SHIPPED_SITES_DIR, ...cfg.sitesDirs]), settings: cfg.pipeline };
}

/** Replays a selection; the running server (if any) sees the results in the shared database. */
export async function runReplay(
  cfg: Readonly<Config>,
  selection: ReplaySelection,
  opts: { dryRun: boolean; quiet?: boolean },
): Promise<ReplayReport> {
  const { store, spool } = open(cfg);
  // Events a replay records get their webhook deliveries, in the same transaction;
  // the running server's dispatcher sends them.
  const outbox = new OutboxWriter(store.outbox, cfg.webhook);
  const progress = opts.quiet ? null : progressReporter(opts.dryRun ? 'replay (dry run)' : 'replay');
  try {
    return await replay({
      store,
      spool,
      ...workersOf(cfg),
      selection,
      outbox,
      dryRun: opts.dryRun,
      onProgress: progress?.update,
    });
  } finally {
    progress?.end();
    store.close();
    await spool.journal.releaseReaders();
  }
}

/**
 * Builds a fresh database from the spool alone into `output`; with `replace`,
 * swaps it in (the previous one is kept as `*.before-rebuild-<time>`), which
 * requires the server to be stopped.
 */
export async function runRebuild(
  cfg: Readonly<Config>,
  opts: { output?: string; replace: boolean; quiet?: boolean },
): Promise<{ output: string; report: ReplayReport; recovered: number; replaced: string | null }> {
  const live = databaseFile(cfg);
  if (opts.replace) {
    const holder = readLock(cfg.dataDir);
    if (holder)
      throw new Error(`the server (pid ${holder}) is running on ${cfg.dataDir}: stop it before rebuild --replace`);
  }
  const output = path.resolve(opts.output ?? path.join(cfg.dataDir, 'ota-inbound.rebuilt.db'));
  for (const f of [output, `${output}-wal`, `${output}-shm`]) fs.rmSync(f, { force: true });
  const { store, spool } = open(cfg, output);
  const progress = opts.quiet ? null : progressReporter('rebuild');
  let report: ReplayReport;
  let recovered: number;
  try {
    recovered = await takeSpooled(store, spool.journal, { from: { segment: 0, offset: 0 } });
    report = await replay({ store, spool, ...workersOf(cfg), selection: { all: true }, onProgress: progress?.update });
  } finally {
    progress?.end();
    store.close();
    await spool.journal.releaseReaders();
  }
  let replaced: string | null = null;
  if (opts.replace) {
    replaced = `${live}.before-rebuild-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    if (fs.existsSync(live)) fs.renameSync(live, replaced);
    for (const suffix of ['-wal', '-shm']) fs.rmSync(`${live}${suffix}`, { force: true });
    fs.renameSync(output, live);
  }
  return { output: opts.replace ? live : output, report, recovered, replaced };
}

export async function runPurge(cfg: Readonly<Config>, opts: { dryRun: boolean }): Promise<PurgeReport> {
  const { store, spool } = open(cfg);
  try {
    // Never open the journal for writing here: the server may be appending to it.
    await spool.journal.attach();
    return await purge(store, spool, cfg.retention, { dryRun: opts.dryRun });
  } finally {
    store.close();
    await spool.close();
  }
}

/**
 * One reconciliation pass (see pipeline/reconcile.ts). Safe beside a running
 * server: it reads the journal and the database and, with `repair`, only
 * inserts rows that are missing (idempotent) and dead-letters waiting rows whose
 * raw bytes are gone.
 */
export async function runVerify(cfg: Readonly<Config>, opts: { repair: boolean }): Promise<ReconcileReport> {
  const { store, spool } = open(cfg);
  try {
    await spool.journal.attach();
    return await reconcile(store, spool.journal, { repair: opts.repair });
  } finally {
    store.close();
    await spool.journal.releaseReaders();
  }
}
