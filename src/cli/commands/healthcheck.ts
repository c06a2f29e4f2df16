/** `ota-inbound healthcheck`: exit 0 when /readyz says ready (Docker HEALTHCHECK). */
import type { Command } from 'commander';
import { config, fail } from '../common.ts';

/** How long `healthcheck` waits for /readyz (Docker HEALTHCHECK has its own timeout too). */
const HEALTHCHECK_TIMEOUT_MS = 3_000;

/** Registers the `healthcheck` command on the program. */
export function register(program: Command): void {
  program
    .command('healthcheck')
    .description('exit 0 when /readyz says ready (for Docker HEALTHCHECK)')
    .action(async () => {
      const cfg = config();
      const host = cfg.http.host === '0.0.0.0' || cfg.http.host === '::' ? '127.0.0.1' : cfg.http.host;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${cfg.http.port}/readyz`;
      try {
        const res = await fetch(url, {
          signal: AbortSignal.timeout(HEALTHCHECK_TIMEOUT_MS),
        });
        const body = await res.text();
        process.stdout.write(`${body}\n`);
        process.exit(res.ok ? 0 : 1);
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        const why =
          e.name === 'TimeoutError' ? `no answer within ${HEALTHCHECK_TIMEOUT_MS} ms` : (e.cause?.message ?? e.message);
        fail(
          `not ready: cannot reach ${url}: ${why} (is the server running with this configuration's http.host/http.port?)`,
        );
      }
    });
}
