#!/usr/bin/env node
/**
 * The `ota-inbound` command. Each subcommand is a thin shell over the
 * library: config → logger → the part it needs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/index.ts';
import { createLogger } from '../log/index.ts';
import { PACKAGE_VERSION } from '../paths.ts';
import { DAY_MS } from '../shared/index.ts';

/** How long `healthcheck` waits for /readyz (Docker HEALTHCHECK has its own timeout too). */
const HEALTHCHECK_TIMEOUT_MS = 3_000;

function config(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ota-inbound: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}

function fail(message: string, code = 1): never {
  process.stderr.write(`ota-inbound: ${message}\n`);
  process.exit(code);
}

const program = new Command()
  .name('ota-inbound')
  .description('SMTP intake for restaurant reservation mail: spool, parse, store, deliver, alert.')
  .version(PACKAGE_VERSION);

program
  .command('serve')
  .description('run the SMTP and HTTP servers (configuration: README.md)')
  .action(async () => {
    const cfg = config();
    const log = createLogger({ level: cfg.log.level, pretty: cfg.log.pretty });
    const { startApp } = await import('../app.ts');
    let app: Awaited<ReturnType<typeof startApp>>;
    try {
      app = await startApp(cfg, { log });
    } catch (err) {
      log.fatal({ err }, 'cannot start');
      fail(`cannot start: ${(err as Error).message}`);
    }
    let signals = 0;
    const shutdown = (signal: string) => {
      signals += 1;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      log.info({ signal }, 'shutting down: refusing new mail, finishing in-flight messages');
      app.stop().then(
        () => process.exit(0),
        (err: Error) => {
          log.error({ err }, 'error during shutdown');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });

program
  .command('parse')
  .description('print the extraction JSON of .eml files (a directory: every .eml in it, one JSON per line)')
  .argument('<files...>', '.eml files or directories')
  .action(async (files: string[]) => {
    const cfg = config();
    const { analyzeFile } = await import('./parse.ts');
    const list: string[] = [];
    for (const f of files) {
      let st: fs.Stats;
      try {
        st = fs.statSync(f);
      } catch (err) {
        fail(
          `cannot read ${f}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
          66,
        );
      }
      if (st.isDirectory()) {
        for (const name of fs
          .readdirSync(f)
          .filter((n) => n.endsWith('.eml'))
          .sort())
          list.push(path.join(f, name));
      } else list.push(f);
    }
    const single = list.length === 1;
    for (const f of list) {
      let out: unknown;
      try {
        out = await analyzeFile(f, cfg);
      } catch (err) {
        fail(`cannot parse ${f}: ${(err as Error).message}`, 65);
      }
      process.stdout.write(
        single ? `${JSON.stringify(out, null, 2)}\n` : `${JSON.stringify({ file: f, ...(out as object) })}\n`,
      );
    }
  });

const certs = program.command('certs').description('TLS certificates: show expiry, generate a self-signed one');
certs
  .command('show', { isDefault: true })
  .description('print the certificate in use and the days left')
  .action(async () => {
    const cfg = config();
    const { certificateFiles, readCertificate } = await import('../tls/index.ts');
    const files = certificateFiles({ ...cfg.tls, certsDir: cfg.certsDir, hostname: cfg.smtp.hostname });
    try {
      const c = await readCertificate(files);
      const days = Math.floor((c.notAfter.getTime() - Date.now()) / DAY_MS);
      process.stdout.write(
        `${JSON.stringify({ certFile: files.certFile, subject: c.subject, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(), daysLeft: days, fingerprint256: c.fingerprint256 }, null, 2)}\n`,
      );
    } catch (err) {
      fail((err as Error).message);
    }
  });
certs
  .command('generate')
  .description('generate a self-signed certificate (SHA-256, 365 days) in the certificates directory')
  .addOption(new Option('--force', 'replace an existing certificate'))
  .addOption(new Option('--days <n>', 'validity in days').argParser(Number).default(365))
  .action(async (opts: { force?: boolean; days: number }) => {
    const cfg = config();
    const { certificateFiles, generateCertificate } = await import('../tls/index.ts');
    const files = certificateFiles({ ...cfg.tls, certsDir: cfg.certsDir, hostname: cfg.smtp.hostname });
    if (fs.existsSync(files.certFile) && !opts.force) fail(`${files.certFile} exists (use --force to replace it)`);
    await generateCertificate(files, cfg.smtp.hostname, { days: opts.days });
    process.stdout.write(
      `wrote ${files.keyFile} and ${files.certFile} for ${cfg.smtp.hostname}, valid ${opts.days} days\n`,
    );
  });

program
  .command('config')
  .description('print the effective configuration (secrets masked), or the reference table')
  .option('--table', 'print every setting as a Markdown table (as in README.md)')
  .action(async (opts: { table?: boolean }) => {
    if (opts.table) {
      const { settingsMarkdown } = await import('../config/table.ts');
      process.stdout.write(`${settingsMarkdown()}\n`);
      return;
    }
    const cfg = config();
    const masked: unknown = JSON.parse(
      JSON.stringify(cfg, (key, value: unknown) => (/token|secret/i.test(key) && value ? '[set]' : value)),
    );
    process.stdout.write(`${JSON.stringify(masked, null, 2)}\n`);
  });

program
  .command('healthcheck')
  .description('exit 0 when /readyz says ready (for Docker HEALTHCHECK)')
  .action(async () => {
    const cfg = config();
    const host = cfg.http.host === '0.0.0.0' || cfg.http.host === '::' ? '127.0.0.1' : cfg.http.host;
    try {
      const res = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${cfg.http.port}/readyz`, {
        signal: AbortSignal.timeout(HEALTHCHECK_TIMEOUT_MS),
      });
      const body = await res.text();
      process.stdout.write(`${body}\n`);
      process.exit(res.ok ? 0 : 1);
    } catch (err) {
      fail(`not ready: ${(err as Error).message}`);
    }
  });

program
  .command('status')
  .description('the pipeline at a glance: messages per state, backlog, last processed, failures by reason')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => {
    const cfg = config();
    const { printStatus } = await import('./status.ts');
    printStatus(cfg, { json: opts.json ?? false });
  });

function parseTime(v: string): number {
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new Error(`not a date/time: ${v} (use ISO 8601, e.g. 2026-11-24T09:00+09:00)`);
  return t;
}

program
  .command('replay')
  .description('process selected messages again from the spool (idempotent; safe while the server runs)')
  .argument('[ids...]', 'spool ids')
  .option('--state <states>', 'comma-separated states, e.g. failed,dead')
  .option('--since <time>', 'received at or after (ISO 8601)')
  .option('--until <time>', 'received before (ISO 8601)')
  .option('--source <source>', 'site, e.g. tabelog')
  .option('--store <store>', 'store id')
  .option('--all', 'every message')
  .option('--dry-run', 'show what would change, change nothing')
  .option('--json', 'print the report as JSON')
  .action(
    async (
      ids: string[],
      opts: {
        state?: string;
        since?: string;
        until?: string;
        source?: string;
        store?: string;
        all?: boolean;
        dryRun?: boolean;
        json?: boolean;
      },
    ) => {
      const cfg = config();
      const { runReplay } = await import('./maintenance.ts');
      let report;
      try {
        report = await runReplay(
          cfg,
          {
            ids,
            states: opts.state?.split(',').map((s) => s.trim()),
            since: opts.since ? parseTime(opts.since) : undefined,
            until: opts.until ? parseTime(opts.until) : undefined,
            source: opts.source,
            store: opts.store,
            all: opts.all,
          },
          { dryRun: opts.dryRun ?? false },
        );
      } catch (err) {
        fail((err as Error).message);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        for (const c of report.changes)
          process.stdout.write(
            `${c.id}  ${c.from.state} → ${c.to.state}  ${c.from.kind ?? '-'}/${c.from.source ?? '-'}/${c.from.event ?? '-'} → ${c.to.kind ?? '-'}/${c.to.source ?? '-'}/${c.to.event ?? '-'}${c.fields.length ? `  fields: ${c.fields.join(', ')}` : ''}\n`,
          );
        process.stdout.write(
          `${opts.dryRun ? 'dry run: ' : ''}${report.selected} selected, ${report.changed} ${opts.dryRun ? 'would change' : 'changed'}, ${report.unchanged} unchanged, ${report.failed} failed (${report.seconds.toFixed(1)} s)\n`,
        );
      }
    },
  );

program
  .command('rebuild')
  .description('build a fresh database from the spool alone (the spool is the source of truth)')
  .option('--output <file>', 'where to write it (default: <dataDir>/ota-inbound.rebuilt.db)')
  .option('--replace', 'swap it in for the live database (server must be stopped; the old one is kept)')
  .action(async (opts: { output?: string; replace?: boolean }) => {
    const cfg = config();
    const { runRebuild } = await import('./maintenance.ts');
    try {
      const r = await runRebuild(cfg, { output: opts.output, replace: opts.replace ?? false });
      process.stdout.write(
        `rebuilt ${r.output}: ${r.recovered} messages from the spool, ${r.report.changed} processed, ${r.report.failed} failed${r.replaced ? `; previous database kept as ${r.replaced}` : ''}\n`,
      );
    } catch (err) {
      fail((err as Error).message);
    }
  });

program
  .command('purge')
  .description(
    'apply the retention policy now: raw mail past retention.rawDays, personal data past retention.personalDays',
  )
  .option('--dry-run', 'count what would go, delete nothing')
  .action(async (opts: { dryRun?: boolean }) => {
    const cfg = config();
    const { runPurge } = await import('./maintenance.ts');
    const r = await runPurge(cfg, { dryRun: opts.dryRun ?? false });
    process.stdout.write(`${opts.dryRun ? 'dry run: ' : ''}${JSON.stringify(r)}\n`);
  });

const spool = program.command('spool').description('the raw message spool');
spool
  .command('show')
  .description('write the raw message (.eml) with this spool id to stdout')
  .argument('<id>', 'spool id (from the 250 reply, logs or the API)')
  .option('--envelope', 'print the envelope as JSON instead')
  .action(async (id: string, opts: { envelope?: boolean }) => {
    const cfg = config();
    const { showSpooled } = await import('./spool.ts');
    try {
      await showSpooled(cfg, id, opts.envelope ?? false);
    } catch (err) {
      fail((err as Error).message);
    }
  });

await program.parseAsync(process.argv);
