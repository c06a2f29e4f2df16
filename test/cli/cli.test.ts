import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, pollUntil, startChild, type Child } from '../helpers/child.ts';
import { RawSmtp, deliver, queuedId } from '../helpers/smtp.ts';
import { tempDir } from '../helpers/app.ts';

const exec = promisify(execFile);
const FIXTURES = path.join(import.meta.dirname, '../fixtures');

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      cwd: path.join(import.meta.dirname, '../..'),
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ota-inbound parse', () => {
  it('prints the extraction JSON of a file and exits 0', async () => {
    const r = await cli(['parse', path.join(FIXTURES, 'jalan/new.eml')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(fs.readFileSync(path.join(FIXTURES, 'jalan/new.json'), 'utf8')));
  });

  it('explains on stderr, not in the JSON, when a site mail will be unauthenticated:<site> on the server, and what to do', async () => {
    const signed = path.join(FIXTURES, 'jalan/new.eml');
    const r = await cli(['parse', signed]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(fs.readFileSync(path.join(FIXTURES, 'jalan/new.json'), 'utf8')));
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^note: unauthenticated:jalan unless its DKIM signature by jalan\.net verifies: /),
    ]);
    expect(r.stderr).toContain('OTA_INBOUND_AUTH_RESOLVER=none (demo only');

    // The same mail without its signature: it will be flagged, whatever DNS says.
    const unsigned = path.join(tempDir(), 'unsigned.eml');
    fs.writeFileSync(
      unsigned,
      fs.readFileSync(signed, 'latin1').replace(/^DKIM-Signature:.*\r?\n(?:[ \t].*\r?\n)*/m, ''),
      'latin1',
    );
    const u = await cli(['parse', unsigned]);
    expect(JSON.parse(u.stdout)).toMatchObject({ source: 'jalan', kind: 'reservation' });
    expect(u.stderr).toMatch(
      /^note: unauthenticated:jalan: this mail claims to be from jalan but carries no DKIM signature by jalan\.net or recruit\.co\.jp; /,
    );
    expect(u.stderr).toContain('auth.arcTrustedSealers');

    // With sender authentication off there is nothing to explain.
    expect((await cli(['parse', unsigned], { OTA_INBOUND_AUTH_RESOLVER: 'none' })).stderr).toBe('');
  });

  it('exits 0 for mail it does not recognise (kind unknown)', async () => {
    const r = await cli(['parse', path.join(FIXTURES, 'generic/spam.eml')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'unknown', source: null });
  });

  it('prints one JSON object per line for a directory', async () => {
    const r = await cli(['parse', path.join(FIXTURES, 'tabelog')]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; source: string });
    expect(lines.map((l) => path.basename(l.file))).toEqual(
      fs
        .readdirSync(path.join(FIXTURES, 'tabelog'))
        .filter((f) => f.endsWith('.eml'))
        .sort(),
    );
    expect(lines.every((l) => l.source === 'tabelog')).toBe(true);
  });

  it('exits non-zero with a clear message for a file it cannot read', async () => {
    const r = await cli(['parse', '/nonexistent/mail.eml']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('cannot read /nonexistent/mail.eml: no such file');
  });
});

describe('configuration errors', () => {
  it('stops start-up with a message naming the setting', async () => {
    const r = await cli(['serve'], { OTA_INBOUND_SMTP_PORT: '99999', OTA_INBOUND_DATA_DIR: tempDir() });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('invalid configuration: OTA_INBOUND_SMTP_PORT: must be between 0 and 65535, got 99999');
  });
});

describe('a running server from the command line', () => {
  const dir = tempDir();
  // Sender authentication has its own tests (test/security); here the fixture's fake signature should not matter.
  const env = {
    OTA_INBOUND_DATA_DIR: path.join(dir, 'data'),
    OTA_INBOUND_CERTS_DIR: path.join(dir, 'certs'),
    OTA_INBOUND_DOMAINS: 'intake.example',
    OTA_INBOUND_AUTH_RESOLVER: 'none',
  };
  let child: Child;
  afterAll(() => child?.proc.kill('SIGKILL'));

  it('answers healthcheck, shows a spooled message as .eml, reports status, and stops gracefully on SIGTERM', async () => {
    child = await startChild(env);
    const cliEnv = { ...env, OTA_INBOUND_HTTP_PORT: String(child.httpPort) };
    const health = await cli(['healthcheck'], cliEnv);
    expect(health.code).toBe(0);
    expect(JSON.parse(health.stdout)).toMatchObject({ status: 'ready' });

    const raw = fs.readFileSync(path.join(FIXTURES, 'tabelog/new.eml'));
    const { final } = await deliver(child.smtpPort, { to: ['sakura-ginza@intake.example'], message: raw });
    const id = queuedId(final);
    const shown = await cli(['spool', 'show', id], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toBe(raw.toString('latin1').replace(/\r?\n/g, '\r\n'));
    // --trace: the Received header recorded at acceptance, then the same bytes.
    const traced = (await cli(['spool', 'show', id, '--trace'], env)).stdout;
    expect(traced).toMatch(
      new RegExp(`^Received: from sender\\.example \\(\\[127\\.0\\.0\\.1\\]\\)\r\n\tby .+\r\n\tid ${id}\r\n`),
    );
    expect(traced.endsWith(shown.stdout)).toBe(true);
    const envelope: unknown = JSON.parse((await cli(['spool', 'show', id, '--envelope'], env)).stdout);
    expect(envelope).toMatchObject({ id, rcptTo: ['sakura-ginza@intake.example'], store: 'sakura-ginza' });

    const status = await pollUntil('the message to be processed', async () => {
      const s = JSON.parse((await cli(['status', '--json'], env)).stdout) as {
        messages: Record<string, number>;
        backlog: number;
      };
      return s.backlog === 0 && s.messages.processed === 1 ? s : null;
    });
    expect(status.messages).toEqual({ processed: 1 });

    // A session in the middle of a transaction when SIGTERM arrives still gets its 250.
    const { client } = await RawSmtp.connect(child.smtpPort);
    await client.cmd('EHLO late.example');
    await client.cmd('MAIL FROM:<noreply-rsv@tabelog.com>');
    await client.cmd('RCPT TO:<sakura-ginza@intake.example>');
    expect((await client.cmd('DATA')).code).toBe(354);
    child.proc.kill('SIGTERM');
    client.write(Buffer.from('Subject: in flight\r\n\r\nbody\r\n.\r\n'));
    const reply = await client.read();
    expect(reply.code).toBe(250);
    client.destroy();
    expect(await child.exited).toBe(0);
    const after = JSON.parse((await cli(['spool', 'show', queuedId(reply), '--envelope'], env)).stdout) as {
      id: string;
    };
    expect(after.id).toBe(queuedId(reply));

    const down = await cli(['healthcheck'], cliEnv);
    expect(down.code).not.toBe(0);
    // It names what it could not reach, so a failing Docker HEALTHCHECK explains itself.
    expect(down.stderr).toContain(`cannot reach http://127.0.0.1:${child.httpPort}/readyz: `);
  });
});
