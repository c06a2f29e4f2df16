/** `ota-inbound parse FILES...`: the extraction JSON of .eml files, without a server or database. */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { config, fail } from '../common.ts';

/** Registers the `parse` command on the program. */
export function register(program: Command): void {
  program
    .command('parse')
    .description(
      'print the extraction JSON of .eml files (a directory: every .eml in it, one JSON per line); notes for a person (e.g. why the server will mark a mail unauthenticated:<site>) on stderr',
    )
    .argument('<files...>', '.eml files or directories')
    .action(async (files: string[]) => {
      const cfg = config();
      const { analyzeFile } = await import('../parse.ts');
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
        let out: Awaited<ReturnType<typeof analyzeFile>>;
        try {
          out = await analyzeFile(f, cfg);
        } catch (err) {
          fail(`cannot parse ${f}: ${(err as Error).message}`, 65);
        }
        process.stdout.write(
          single
            ? `${JSON.stringify(out.extraction, null, 2)}\n`
            : `${JSON.stringify({ file: f, ...out.extraction })}\n`,
        );
        // Sentences for a person go to stderr: stdout stays the JSON that scripts read.
        for (const note of out.notes) process.stderr.write(`note: ${single ? '' : `${f}: `}${note}\n`);
      }
    });
}
