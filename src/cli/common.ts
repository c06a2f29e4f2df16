/** What every subcommand shares: loading the configuration and failing with an exit code. */
import { ConfigError, loadConfig, type Config } from '../config/index.ts';

/** The exit code for an invalid configuration (sysexits EX_CONFIG). */
const EX_CONFIG = 78;

/** The configuration; an invalid one ends the process with its message and EX_CONFIG. */
export function config(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ota-inbound: ${err.message}\n`);
      process.exit(EX_CONFIG);
    }
    throw err;
  }
}

/** Prints `ota-inbound: message` to stderr and exits with `code`. */
export function fail(message: string, code = 1): never {
  process.stderr.write(`ota-inbound: ${message}\n`);
  process.exit(code);
}
