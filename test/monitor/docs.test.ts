import fs from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/monitor/metrics.ts';
import { ALERT_NAMES } from '../../src/monitor/index.ts';

const ROOT = path.join(import.meta.dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

async function declared(): Promise<{ ours: string[]; all: Set<string> }> {
  const withDefaults = await createMetrics(new Registry()).registry.getMetricsAsJSON();
  const ours = (await createMetrics(new Registry(), { defaultMetrics: false }).registry.getMetricsAsJSON()).map(
    (m) => m.name,
  );
  const all = new Set<string>();
  for (const m of withDefaults) {
    all.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) all.add(m.name + s);
  }
  return { ours, all };
}

describe('monitoring documentation and configuration', () => {
  it('docs/alerts.md lists every metric declared in metrics.ts and every built-in alert', async () => {
    const doc = read('docs/alerts.md');
    for (const name of (await declared()).ours)
      expect(doc, `docs/alerts.md is missing ${name}`).toContain(`\`${name}\``);
    for (const alert of ALERT_NAMES) expect(doc, `docs/alerts.md is missing ${alert}`).toContain(`\`${alert}\``);
  });

  it('README.md lists every metric and every built-in alert (run `npm run docs` after adding a metric)', async () => {
    const readme = read('README.md');
    for (const name of (await declared()).ours) expect(readme, `README.md is missing ${name}`).toContain(`\`${name}\``);
    for (const alert of ALERT_NAMES) expect(readme, `README.md is missing ${alert}`).toContain(`\`${alert}\``);
  });

  it('the Prometheus rules have an equivalent for every built-in alert except the per-store one', () => {
    const rules = read('config/prometheus/alerts.yml');
    for (const alert of ALERT_NAMES.filter((a) => a !== 'StoreSilent')) expect(rules).toContain(`alert: ${alert}\n`);
  });

  it('the rules and the Grafana dashboard only use metrics that exist', async () => {
    const { all } = await declared();
    const rules = read('config/prometheus/alerts.yml');
    const recorded = new Set([...rules.matchAll(/record: (\S+)/g)].map((m) => m[1]!));
    const dashboard = read('config/grafana/dashboard.json');
    JSON.parse(dashboard);
    for (const text of [rules, dashboard]) {
      for (const [name] of text.matchAll(/ota_inbound(?::[a-z0-9_]+:[a-z0-9_]+|_[a-z0-9_]+)/g)) {
        if (name.startsWith('ota_inbound:')) expect(recorded, name).toContain(name);
        else expect(all, name).toContain(name);
      }
    }
  });
});
