/**
 * `log.format=auto` on a real terminal: `ota-inbound serve` started under
 * `script` (util-linux, a pseudo-terminal) writes pretty single lines, and the
 * same command on a pipe writes JSON (test/helpers/child.ts reads those).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/child.ts';
import { tempDir } from '../helpers/app.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { tabelogMail } from '../deliver/mail.ts';

describe('log.format=auto on a terminal', () => {
  const dir = tempDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes one readable line per event, not JSON', async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build"`);
    const env = [
      `OTA_INBOUND_DATA_DIR=${path.join(dir, 'data')}`,
      `OTA_INBOUND_CERTS_DIR=${path.join(dir, 'certs')}`,
      'OTA_INBOUND_SMTP_HOST=127.0.0.1',
      'OTA_INBOUND_SMTP_PORT=0',
      'OTA_INBOUND_HTTP_PORT=0',
      'OTA_INBOUND_ROUTES={store}@intake.example',
      'OTA_INBOUND_AUTH_RESOLVER=none',
      'OTA_INBOUND_PIPELINE_WORKERS=1',
    ];
    const command = `exec env ${env.join(' ')} ${process.execPath} ${CLI} serve`;
    const proc = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const waiters: { match: RegExp; resolve: (l: string) => void }[] = [];
    readline.createInterface({ input: proc.stdout }).on('line', (raw) => {
      const line = raw.replace(/\r$/, '');
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match.test(line)) w.resolve(line);
        else waiters.push(w);
      }
    });
    const lineMatching = (match: RegExp) =>
      new Promise<string>((resolve) => {
        const seen = lines.find((l) => match.test(l));
        if (seen) resolve(seen);
        else waiters.push({ match, resolve });
      });
    try {
      const ready = await lineMatching(/ota-inbound ready/);
      expect(ready).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}ota-inbound ready smtpPort=\d+ /);
      const smtpPort = Number(/smtpPort=(\d+)/.exec(ready)![1]);
      const { final } = await deliver(smtpPort, {
        to: ['sakura@intake.example'],
        message: tabelogMail({ bookingId: '90000001' }),
      });
      const id = queuedId(final);
      const outcome = await lineMatching(new RegExp(`${id}: processed`));
      expect(outcome).toMatch(
        new RegExp(
          `^\\S+ INFO {2}\\[pipeline\\] ${id}: processed site=tabelog kind=reservation event=new reservation=90000001 store=sakura$`,
        ),
      );
      expect(lines.find((l) => l.includes(`${id}: accepted`))).toMatch(
        / INFO {2}\[smtp\] .* store=sakura size=\d+ tls=none$/,
      );
      expect(lines.some((l) => l.startsWith('{'))).toBe(false);
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  });
});
