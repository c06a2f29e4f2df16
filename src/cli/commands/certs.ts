/** `ota-inbound certs [show|generate]`: the TLS certificate in use, or a new self-signed one. */
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { config, fail } from '../common.ts';
import { DAY_MS } from '../../shared/index.ts';

/** Registers the `certs` command on the program. */
export function register(program: Command): void {
  const certs = program.command('certs').description('TLS certificates: show expiry, generate a self-signed one');
  certs
    .command('show', { isDefault: true })
    .description('print the certificate in use and the days left')
    .action(async () => {
      const cfg = config();
      const { certificateFiles, readCertificate } = await import('../../tls/index.ts');
      const files = certificateFiles({ ...cfg.tls, certsDir: cfg.certsDir, hostname: cfg.smtp.hostname });
      try {
        const c = await readCertificate(files);
        const days = Math.floor((c.notAfter.getTime() - Date.now()) / DAY_MS);
        process.stdout.write(
          `${JSON.stringify({ certFile: files.certFile, subject: c.subject, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(), daysLeft: days, fingerprint256: c.fingerprint256 }, null, 2)}\n`,
        );
      } catch (err) {
        fail((err as Error).message);
      }
    });
  certs
    .command('generate')
    .description('generate a self-signed certificate (SHA-256, 365 days) in the certificates directory')
    .addOption(new Option('--force', 'replace an existing certificate'))
    .addOption(new Option('--days <n>', 'validity in days').argParser(Number).default(365))
    .action(async (opts: { force?: boolean; days: number }) => {
      const cfg = config();
      const { certificateFiles, generateCertificate } = await import('../../tls/index.ts');
      const files = certificateFiles({ ...cfg.tls, certsDir: cfg.certsDir, hostname: cfg.smtp.hostname });
      if (fs.existsSync(files.certFile) && !opts.force) fail(`${files.certFile} exists (use --force to replace it)`);
      await generateCertificate(files, cfg.smtp.hostname, { days: opts.days });
      process.stdout.write(
        `wrote ${files.keyFile} and ${files.certFile} for ${cfg.smtp.hostname}, valid ${opts.days} days\n`,
      );
    });
}
