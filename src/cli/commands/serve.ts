/** `ota-inbound serve`: run the SMTP and HTTP servers until SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { config, fail } from '../common.ts';
import { createLogger } from '../../log/index.ts';

/** Registers the `serve` command on the program. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('run the SMTP and HTTP servers (configuration: README.md)')
    .action(async () => {
      const cfg = config();
      const log = createLogger({ level: cfg.log.level, format: cfg.log.format, pretty: cfg.log.pretty });
      const { startApp } = await import('../../app.ts');
      let app: Awaited<ReturnType<typeof startApp>>;
      try {
        app = await startApp(cfg, { log });
      } catch (err) {
        log.fatal({ err }, 'cannot start');
        fail(`cannot start: ${(err as Error).message}`);
      }
      let signals = 0;
      const shutdown = (signal: string) => {
        signals += 1;
        if (signals > 1) {
          log.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        log.info({ signal }, 'shutting down: refusing new mail, finishing in-flight messages');
        app.stop().then(
          () => process.exit(0),
          (err: Error) => {
            log.error({ err }, 'error during shutdown');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
}
