/** `ota-inbound status [--json]`: messages per state, backlog, last processed, failures by reason. */
import type { Command } from 'commander';
import { config } from '../common.ts';

/** Registers the `status` command on the program. */
export function register(program: Command): void {
  program
    .command('status')
    .description('the pipeline at a glance: messages per state, backlog, last processed, failures by reason')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const cfg = config();
      const { printStatus } = await import('../status.ts');
      printStatus(cfg, { json: opts.json ?? false });
    });
}
