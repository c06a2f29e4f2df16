import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';

const DIR = path.join(import.meta.dirname, '../../config/prometheus');

/** promtool comes from the Debian package `prometheus` (`.ci/run` installs it). */
function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is not installed (apt-get install -y prometheus): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('Prometheus rules (promtool)', () => {
  it('promtool is available', () => {
    expect(execFileSync('promtool', ['--version'], { encoding: 'utf8' })).toMatch(/promtool, version/);
  });

  it('alerts.yml passes promtool check rules', () => {
    const r = promtool('check', 'rules', 'alerts.yml');
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.status, r.output).toBe(0);
  });

  // Weeks of 5-minute samples: promtool needs ~15 s alone, more on a busy CI machine.
  it('alerts.yml passes its promtool unit tests (alerts.test.yml)', { timeout: 240_000 }, () => {
    const r = promtool('test', 'rules', 'alerts.test.yml');
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS/);
  });

  it('a live /metrics scrape passes promtool check metrics (no lint findings)', async () => {
    const app = await startTestApp();
    try {
      const text = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(r.error).toBeUndefined();
      expect(`${r.stdout}${r.stderr}`).toBe('');
      expect(r.status).toBe(0);
    } finally {
      await app.cleanup();
    }
  });
});
