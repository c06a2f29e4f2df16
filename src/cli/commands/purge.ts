/** `ota-inbound purge [--dry-run]`: apply the retention policy now. */
import type { Command } from 'commander';
import { config } from '../common.ts';

/** Registers the `purge` command on the program. */
export function register(program: Command): void {
  program
    .command('purge')
    .description(
      'apply the retention policy now: raw mail past retention.rawDays, personal data past retention.personalDays',
    )
    .option('--dry-run', 'count what would go, delete nothing')
    .action(async (opts: { dryRun?: boolean }) => {
      const cfg = config();
      const { runPurge } = await import('../maintenance.ts');
      const r = await runPurge(cfg, { dryRun: opts.dryRun ?? false });
      process.stdout.write(`${opts.dryRun ? 'dry run: ' : ''}${JSON.stringify(r)}\n`);
    });
}
