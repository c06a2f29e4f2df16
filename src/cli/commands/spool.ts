/** `ota-inbound spool show ID`: a message's raw bytes (or envelope) from the journal. */
import type { Command } from 'commander';
import { config, fail } from '../common.ts';

/** Registers the `spool` command on the program. */
export function register(program: Command): void {
  const spool = program.command('spool').description('the raw message spool');
  spool
    .command('show')
    .description('write the raw message (.eml) with this spool id to stdout')
    .argument('<id>', 'spool id (from the 250 reply, logs or the API)')
    .option('--envelope', 'print the envelope as JSON instead')
    .option('--trace', 'prepend the Received: trace header recorded at acceptance (to hand the mail on)')
    .action(async (id: string, opts: { envelope?: boolean; trace?: boolean }) => {
      const cfg = config();
      const { showSpooled } = await import('../spool.ts');
      try {
        await showSpooled(cfg, id, opts.envelope ?? false, opts.trace ?? false);
      } catch (err) {
        fail((err as Error).message);
      }
    });
}
