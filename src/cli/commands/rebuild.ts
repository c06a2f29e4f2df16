/** `ota-inbound rebuild`: a fresh database from the spool alone. */
import type { Command } from 'commander';
import { config, fail } from '../common.ts';

/** Registers the `rebuild` command on the program. */
export function register(program: Command): void {
  program
    .command('rebuild')
    .description('build a fresh database from the spool alone (the spool is the source of truth)')
    .option('--output <file>', 'where to write it (default: <dataDir>/ota-inbound.rebuilt.db)')
    .option('--replace', 'swap it in for the live database (server must be stopped; the old one is kept)')
    .action(async (opts: { output?: string; replace?: boolean }) => {
      const cfg = config();
      const { runRebuild } = await import('../maintenance.ts');
      try {
        const r = await runRebuild(cfg, { output: opts.output, replace: opts.replace ?? false });
        process.stdout.write(
          `rebuilt ${r.output}: ${r.recovered} messages from the spool, ${r.report.changed} processed, ${r.report.failed} failed${r.replaced ? `; previous database kept as ${r.replaced}` : ''}\n`,
        );
      } catch (err) {
        fail((err as Error).message);
      }
    });
}
