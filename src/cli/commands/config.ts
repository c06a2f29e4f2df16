/** `ota-inbound config [--table]`: the effective configuration (secrets masked) or the settings reference. */
import type { Command } from 'commander';
import { config } from '../common.ts';

/** Registers the `config` command on the program. */
export function register(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration (secrets masked), or the reference table')
    .option('--table', 'print every setting as a Markdown table (as in README.md)')
    .action(async (opts: { table?: boolean }) => {
      if (opts.table) {
        const { settingsMarkdown } = await import('../../config/table.ts');
        process.stdout.write(`${settingsMarkdown()}\n`);
        return;
      }
      const cfg = config();
      const masked: unknown = JSON.parse(
        JSON.stringify(cfg, (key, value: unknown) => (/token|secret/i.test(key) && value ? '[set]' : value)),
      );
      process.stdout.write(`${JSON.stringify(masked, null, 2)}\n`);
    });
}
