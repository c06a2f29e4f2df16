/** `ota-inbound replay [IDS...] [selection]`: process selected messages again from the spool. */
import type { Command } from 'commander';
import { config, fail } from '../common.ts';

/** An ISO 8601 time for --since/--until, in ms since the epoch. */
function parseTime(v: string): number {
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new Error(`not a date/time: ${v} (use ISO 8601, e.g. 2026-11-24T09:00+09:00)`);
  return t;
}

/** Registers the `replay` command on the program. */
export function register(program: Command): void {
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
        const { runReplay } = await import('../maintenance.ts');
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
}
