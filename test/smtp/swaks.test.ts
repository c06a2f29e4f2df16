import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitProcessed, type TestApp } from '../helpers/app.ts';

const run = promisify(execFile);

/** swaks is a real, independent SMTP client (Debian package `swaks`, installed by .ci/run). */
async function swaks(args: string[]): Promise<string> {
  const { stdout } = await run('swaks', ['--server', '127.0.0.1', '--hide-informational', ...args], {
    timeout: 30_000,
  });
  return stdout;
}

function queued(output: string): string {
  const m = /<[-~]\s+250 2\.0\.0 Ok: queued as (\S+)/.exec(output);
  if (!m) throw new Error(`no 250 in swaks output:\n${output}`);
  return m[1]!;
}

describe('swaks smoke test', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.cleanup());

  const base = () => [
    '--port',
    String(app.smtpPort),
    '--from',
    'info@tabelog.example',
    '--to',
    'sakura@intake.example',
    '--header',
    'Subject: swaks smoke',
  ];

  it('delivers in plain SMTP', async () => {
    const id = queued(await swaks(base()));
    expect((await waitProcessed(app, id)).store).toBe('sakura');
  });

  it('delivers over STARTTLS', async () => {
    const id = queued(await swaks([...base(), '--tls']));
    const row = await waitProcessed(app, id);
    expect((JSON.parse(row.tls!) as { protocol: string }).protocol).toMatch(/^TLSv1\.[23]$/);
  });

  it('delivers with PIPELINING', async () => {
    const id = queued(await swaks([...base(), '--pipeline']));
    expect((await waitProcessed(app, id)).store).toBe('sakura');
  });

  it('is refused as an open relay', async () => {
    const out = await swaks([
      '--port',
      String(app.smtpPort),
      '--from',
      'x@spam.example',
      '--to',
      'victim@elsewhere.example',
      '--quit-after',
      'RCPT',
    ]).catch((e: { stdout: string }) => e.stdout);
    expect(out).toMatch(/<\*\* 550 5\.7\.1 Relaying denied/);
  });
});
