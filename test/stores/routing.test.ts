/**
 * Routing follows the configuration: unset routes derive from the accepted
 * domains, and a start-up warning (and a /readyz detail, still 200) names
 * every accepted domain no route covers and every route for a domain that is
 * not accepted.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { describeCoverage, routeCoverage, routeRecipient } from '../../src/smtp/routing.ts';
import { startTestApp } from '../helpers/app.ts';
import { captureLog } from '../helpers/log.ts';
import { deliver, queuedId } from '../helpers/smtp.ts';
import { tabelogMail } from '../deliver/mail.ts';

const REPO = path.join(import.meta.dirname, '../..');

describe('routes derived from the accepted domains', () => {
  it('unset routes become {store}@<domain> for every accepted domain', () => {
    // `file: null`: no file, not even the repository's sample (which sets routes to []).
    const cfg = loadConfig({ env: { OTA_INBOUND_DOMAINS: 'resto.example,mail.resto.example' }, file: null });
    expect(cfg.routesDerived).toBe(true);
    expect(cfg.routes.map((r) => r.rule)).toEqual(['{store}@resto.example', '{store}@mail.resto.example']);
    expect(routeRecipient('sakura@mail.resto.example', cfg)).toEqual({ kind: 'store', store: 'sakura' });
    expect(routeCoverage(cfg)).toEqual({ uncoveredDomains: [], foreignRoutes: [] });
    expect(cfg.registry.domain).toBe('resto.example');
  });

  it('the sample configuration with OTA_INBOUND_DOMAINS changed has nothing to warn about', () => {
    const cfg = loadConfig({ env: { OTA_INBOUND_DOMAINS: 'resto.example' }, cwd: REPO });
    expect(cfg.configFile).toBe(path.join(REPO, 'config/ota-inbound.json'));
    expect(cfg.routes).toEqual([]);
    expect(cfg.registry.domain).toBe('resto.example');
    expect(describeCoverage(routeCoverage(cfg))).toEqual([]);
  });

  it('refuses a registry.domain that is not accepted, naming the setting', () => {
    expect(() =>
      loadConfig({ env: {}, file: null, overrides: { domains: ['a.example'], 'registry.domain': 'b.example' } }),
    ).toThrow(/registry\.domain \(OTA_INBOUND_REGISTRY_DOMAIN\).*b\.example.*not one of the accepted domains/);
  });

  it('names uncovered domains and routes for foreign domains; * and exact addresses count', () => {
    const cfg = loadConfig({
      env: {},
      file: null,
      overrides: {
        domains: ['resto.example', 'second.example', 'third.example'],
        routes: ['{store}@intake.example', 'yoyaku@third.example=honten', 'ops@elsewhere.example=honten'],
      },
    });
    expect(routeCoverage(cfg)).toEqual({
      uncoveredDomains: ['second.example'],
      foreignRoutes: ['{store}@intake.example', 'ops@elsewhere.example=honten'],
    });
    const wildcard = loadConfig({
      env: {},
      file: null,
      overrides: { domains: ['resto.example', 'second.example'], routes: ['{store}@*'] },
    });
    expect(routeCoverage(wildcard).uncoveredDomains).toEqual([]);
  });
});

describe('start-up warning and /readyz detail', () => {
  it('warns at start-up and reports it in /readyz while staying ready (200)', async () => {
    const { lines, log } = captureLog();
    // The situation of the issue: the domain changed, the routes still name the demo domain.
    const app = await startTestApp(
      { domains: ['resto.example', 'second.example'], routes: ['{store}@intake.example'] },
      { log },
    );
    try {
      const warnings = lines
        .map((l) => JSON.parse(l) as { level: string; msg: string })
        .filter((r) => r.level === 'warn')
        .map((r) => r.msg);
      expect(warnings).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^accepted domain second\.example has no route/),
          expect.stringMatching(/^route \{store\}@intake\.example names a domain that is not accepted/),
        ]),
      );
      // resto.example is the registry domain: covered.
      expect(warnings.some((w) => w.includes('resto.example has no route'))).toBe(false);
      const res = await fetch(`http://127.0.0.1:${app.httpPort}/readyz`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
      expect(body.status).toBe('ready');
      expect(body.checks.routing!.ok).toBe(true);
      expect(body.checks.routing!.detail).toContain('accepted domain second.example has no route');
      expect(body.checks.routing!.detail).toContain('route {store}@intake.example names a domain');
      // And what it warns about is true: sakura@resto.example is quarantined, not routed.
      const { final } = await deliver(app.smtpPort, {
        to: ['sakura@resto.example'],
        message: tabelogMail({ bookingId: '70000001' }),
      });
      expect(final.code).toBe(250);
      expect(app.store.message(queuedId(final))).toMatchObject({
        quarantined: 1,
        quarantine_reason: 'unknown-recipient',
      });
    } finally {
      await app.cleanup();
    }
  });

  it('has no routing detail when every domain is covered', async () => {
    // No routes given: they derive from the accepted domains.
    const app = await startTestApp({ domains: ['resto.example'], routes: undefined });
    try {
      const body = (await (await fetch(`http://127.0.0.1:${app.httpPort}/readyz`)).json()) as {
        checks: Record<string, { ok: boolean; detail?: string }>;
      };
      expect(body.checks.routing).toEqual({ ok: true });
    } finally {
      await app.cleanup();
    }
  });
});
