/** `ota-inbound verify [--repair] [--json]`: prove that the spool journal and the database agree. */
import type { Command } from 'commander';
import { config } from '../common.ts';

/** Exit code when the pass found anything out of step (so a cron job or a script notices). */
const EXIT_FOUND = 1;

/** Registers the `verify` command on the program. */
export function register(program: Command): void {
  program
    .command('verify')
    .description(
      'prove that every journal record has a message row and every row its raw bytes; exits 1 when anything is out of step',
    )
    .option('--repair', 're-record journal records that have no row; dead-letter waiting rows whose raw bytes are gone')
    .option('--json', 'machine-readable output')
    .action(async (opts: { repair?: boolean; json?: boolean }) => {
      const cfg = config();
      const { runVerify } = await import('../maintenance.ts');
      const { unreconciled } = await import('../../pipeline/index.ts');
      const r = await runVerify(cfg, { repair: opts.repair ?? false });
      const found = unreconciled(r) + r.damaged.length;
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        const list = (ids: string[]) =>
          `${ids.length}${ids.length ? ` (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''})` : ''}`;
        const lines = [
          `checked ${r.records} journal records in ${r.segments} segments against ${r.rows} rows in ${r.durationMs} ms`,
          `records without a row: ${list(r.missingRows)}`,
          `rows without raw bytes: ${list(r.missingBytes)}`,
          `damaged journal spans: ${list(r.damaged)}`,
          `rows whose record is damaged: ${list(r.damagedRows)}`,
        ];
        if (opts.repair)
          lines.push(`repaired: ${r.repaired.recorded} re-recorded, ${r.repaired.deadLettered} dead-lettered`);
        else if (found > 0) lines.push('run "ota-inbound verify --repair" to re-record what is missing');
        lines.push(found === 0 ? 'journal and database agree' : 'journal and database disagree');
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (found > 0) process.exitCode = EXIT_FOUND;
    });
}
