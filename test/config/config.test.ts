import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, SETTINGS } from '../../src/config/index.ts';
import { settingsMarkdown } from '../../src/config/table.ts';
import { tempDir } from '../helpers/app.ts';

describe('configuration', () => {
  it('starts from documented defaults when there is no file and no environment', () => {
    const cfg = loadConfig({ env: {}, file: null });
    expect(cfg.smtp.port).toBe(2525);
    expect(cfg.smtp.maxMessageBytes).toBe(25 * 1024 * 1024);
    expect(cfg.smtp.socketTimeoutMs).toBe(300_000);
    expect(cfg.smtp.minFreeBytes).toBe(2 * cfg.smtp.maxMessageBytes);
    expect(cfg.http.host).toBe('127.0.0.1');
    expect(Object.isFrozen(cfg) && Object.isFrozen(cfg.smtp)).toBe(true);
  });

  it('lets OTA_INBOUND_* variables override the file', () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ smtp: { port: 2600 }, domains: ['a.example'] }));
    const cfg = loadConfig({
      env: { OTA_INBOUND_SMTP_PORT: '2700', OTA_INBOUND_DOMAINS: 'b.example, c.example' },
      file,
      cwd: dir,
    });
    expect(cfg.smtp.port).toBe(2700);
    expect(cfg.domains).toEqual(['b.example', 'c.example']);
  });

  it('reads OTA_INBOUND_CONFIG for the file path', () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ smtp: { port: 2601 } }));
    expect(loadConfig({ env: { OTA_INBOUND_CONFIG: file } }).smtp.port).toBe(2601);
  });

  it.each([
    [{ OTA_INBOUND_SMTP_PORT: 'abc' }, 'OTA_INBOUND_SMTP_PORT'],
    [{ OTA_INBOUND_SMTP_PORT: '70000' }, 'OTA_INBOUND_SMTP_PORT'],
    [{ OTA_INBOUND_LOG_LEVEL: 'loud' }, 'OTA_INBOUND_LOG_LEVEL'],
    [{ OTA_INBOUND_DOMAINS: 'not a domain' }, 'OTA_INBOUND_DOMAINS'],
    [{ OTA_INBOUND_WEBHOOK_URL: 'ftp://x' }, 'OTA_INBOUND_WEBHOOK_URL'],
    [{ OTA_INBOUND_WEBHOOK_URL: 'https://hooks.example/x' }, 'OTA_INBOUND_WEBHOOK_SECRET'],
    [{ OTA_INBOUND_ROUTES: 'nonsense' }, 'OTA_INBOUND_ROUTES'],
    [{ OTA_INBOUND_TLS_CERT_FILE: '/x/cert.pem' }, 'OTA_INBOUND_TLS_KEY_FILE'],
  ])('refuses %o with a message naming %s', (env, name) => {
    let error: unknown;
    try {
      loadConfig({ env, file: null });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(name);
  });

  it('refuses a misspelt setting in the file, naming it', () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ smtp: { prot: 25 } }));
    expect(() => loadConfig({ env: {}, file })).toThrow(/smtp\.prot: unknown setting/);
  });

  it('names the file when it is not JSON', () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, '{ smtp: ');
    expect(() => loadConfig({ env: {}, file })).toThrow(/OTA_INBOUND_CONFIG: .*c\.json is not valid JSON/);
  });

  it('uses exactly the environment names of the public contract', () => {
    const names = new Set(SETTINGS.map((s) => s.env));
    for (const n of [
      'OTA_INBOUND_DATA_DIR',
      'OTA_INBOUND_CERTS_DIR',
      'OTA_INBOUND_SMTP_HOST',
      'OTA_INBOUND_SMTP_PORT',
      'OTA_INBOUND_HTTP_HOST',
      'OTA_INBOUND_HTTP_PORT',
      'OTA_INBOUND_DOMAINS',
      'OTA_INBOUND_TLS_CERT_FILE',
      'OTA_INBOUND_TLS_KEY_FILE',
      'OTA_INBOUND_LOG_LEVEL',
      'OTA_INBOUND_API_TOKEN',
      'OTA_INBOUND_WEBHOOK_URL',
      'OTA_INBOUND_WEBHOOK_SECRET',
      'OTA_INBOUND_ALERT_WEBHOOK_URL',
    ]) {
      expect(names).toContain(n);
    }
  });

  it('documents every setting and its variable in README.md (run `npm run docs` after adding one)', () => {
    const readme = fs.readFileSync(path.join(import.meta.dirname, '../../README.md'), 'utf8');
    expect(readme).toContain(settingsMarkdown());
    for (const s of SETTINGS) expect(readme).toContain(`\`${s.env}\``);
    expect(readme).toContain('OTA_INBOUND_CONFIG');
  });

  it('ships a sample config that loads', () => {
    const root = path.join(import.meta.dirname, '../..');
    const cfg = loadConfig({ env: {}, cwd: root });
    expect(cfg.configFile).toBe(path.join(root, 'config/ota-inbound.json'));
    expect(cfg.domains).toContain('intake.example');
  });
});
