#!/usr/bin/env node
/**
 * The `ota-inbound` command. Each subcommand lives in `commands/<name>.ts` as a
 * thin shell over the library (config → logger → the part it needs); this file
 * only registers them.
 */
import { Command } from 'commander';
import { PACKAGE_VERSION } from '../paths.ts';
import * as certs from './commands/certs.ts';
import * as config from './commands/config.ts';
import * as healthcheck from './commands/healthcheck.ts';
import * as parse from './commands/parse.ts';
import * as purge from './commands/purge.ts';
import * as rebuild from './commands/rebuild.ts';
import * as replay from './commands/replay.ts';
import * as serve from './commands/serve.ts';
import * as spool from './commands/spool.ts';
import * as status from './commands/status.ts';
import * as stores from './commands/stores.ts';
import * as verify from './commands/verify.ts';

const program = new Command()
  .name('ota-inbound')
  .description('SMTP intake for restaurant reservation mail: spool, parse, store, deliver, alert.')
  .version(PACKAGE_VERSION);

// Registration order is the order `--help` lists them.
for (const command of [serve, parse, certs, config, healthcheck, status, stores, replay, rebuild, verify, purge, spool])
  command.register(program);

await program.parseAsync(process.argv);
