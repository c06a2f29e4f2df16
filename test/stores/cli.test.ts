/**
 * `ota-inbound stores …` as an operator runs it (the built CLI, configured by
 * environment), against the data directory of a server that is running: the
 * server picks registry changes up at the next RCPT TO.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, pollUntil, startChild, type Child } from '../helpers/child.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { tempDir } from '../helpers/app.ts';
import { tabelogMail } from '../deliver/mail.ts';

const exec = promisify(execFile);

interface StoreJson {
  id: string;
  name: string;
  status: string;
  address: string;
  previousAddresses: { address: string; validUntil: string | null }[];
  sites: { site: string; state: string }[];
}

describe('ota-inbound stores', () => {
  const dir = tempDir();
  const env = {
    OTA_INBOUND_DATA_DIR: path.join(dir, 'data'),
    OTA_INBOUND_CERTS_DIR: path.join(dir, 'certs'),
    OTA_INBOUND_CONFIG: path.join(import.meta.dirname, '../../config/ota-inbound.json'),
    OTA_INBOUND_DOMAINS: 'resto.example',
    OTA_INBOUND_AUTH_RESOLVER: 'none',
    OTA_INBOUND_PIPELINE_WORKERS: '1',
    // As in the sample configuration: registry addresses only.
    OTA_INBOUND_ROUTES: '',
  };
  let child: Child;

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await exec(process.execPath, [CLI, 'stores', ...args], {
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await cli(...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  async function stateOf(id: string): Promise<{ state: string; store: string | null; quarantine_reason?: string }> {
    return pollUntil(`message ${id} processed`, async () => {
      const res = await fetch(`http://127.0.0.1:${child.httpPort}/api/messages/${id}`);
      const m = (await res.json()) as { state: string; store: string | null; quarantineReason: string | null };
      return m.state !== 'pending' && m.state !== 'failed'
        ? { ...m, quarantine_reason: m.quarantineReason ?? '' }
        : null;
    });
  }

  beforeAll(async () => {
    child = await startChild(env);
  });
  afterAll(async () => {
    child.proc.kill('SIGTERM');
    await child.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says there are no stores yet', async () => {
    const r = await cli('list');
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('no stores registered');
  });

  it('creates a store and prints its address; the running server routes mail to it', async () => {
    const r = await cli('create', 'さくら食堂 銀座店', '--id', 'sakura-ginza');
    expect(r.code, r.stderr).toBe(0);
    const [line] = r.stdout.split('\n');
    expect(line).toMatch(/^sakura-ginza\tactive\tr-[a-z2-7]{20}@resto\.example\tさくら食堂 銀座店$/);
    const address = line!.split('\t')[2]!;
    const { final } = await deliver(child.smtpPort, { to: [address], message: tabelogMail({ bookingId: '80000001' }) });
    expect(final.code).toBe(250);
    expect(await stateOf(queuedId(final))).toMatchObject({ state: 'processed', store: 'sakura-ginza' });
    const shown = await cli('show', 'sakura-ginza');
    expect(shown.stdout).toMatch(/^ {2}tabelog +receiving, last mail \d{4}-/m);
    expect(shown.stdout).toMatch(/^ {2}hotpepper +not set up$/m);
  });

  it('lists as JSON in the API shape, renames, rotates and revokes', async () => {
    const list = await json<{ stores: StoreJson[] }>('list');
    expect(list.stores.map((s) => s.id)).toEqual(['sakura-ginza']);
    const before = list.stores[0]!;
    expect((await json<StoreJson>('rename', 'sakura-ginza', 'さくら 銀座本店')).name).toBe('さくら 銀座本店');
    const rotated = await json<StoreJson>('rotate', 'sakura-ginza');
    expect(rotated.address).not.toBe(before.address);
    expect(rotated.previousAddresses.map((p) => p.address)).toEqual([before.address]);
    // The old address still delivers during the grace period.
    const old = await deliver(child.smtpPort, {
      to: [before.address],
      message: tabelogMail({ bookingId: '80000002' }),
    });
    expect(await stateOf(queuedId(old.final))).toMatchObject({ store: 'sakura-ginza' });
    expect((await json<StoreJson>('revoke', 'sakura-ginza')).status).toBe('revoked');
    const after = await deliver(child.smtpPort, {
      to: [rotated.address],
      message: tabelogMail({ bookingId: '80000003' }),
    });
    expect(await stateOf(queuedId(after.final))).toMatchObject({
      state: 'quarantined',
      quarantine_reason: 'revoked-store',
    });
  });

  it('fails with the reason and exit 1 for an unknown store or a revoked one', async () => {
    const missing = await cli('rotate', 'no-such-store');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no store "no-such-store" (STORE_NOT_FOUND)');
    const revoked = await cli('rotate', 'sakura-ginza');
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toContain('STORE_REVOKED');
  });
});
