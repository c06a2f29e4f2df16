/**
 * Regenerates the reference tables in README.md from the code, so they cannot
 * drift: the configuration (src/config/settings.ts) and the metrics
 * (src/monitor/metrics.ts), between their `…:start` / `…:end` markers. `npm run docs`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { settingsMarkdown } from '../src/config/table.ts';
import { metricCatalogue } from '../src/monitor/metrics.ts';

function metricsMarkdown(): string {
  const rows = metricCatalogue().map(
    (m) =>
      `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(', ') || '—'} | ${m.help.replace(/\|/g, '\\|')} |`,
  );
  return ['| Metric | Type | Labels | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

const readme = path.join(import.meta.dirname, '..', 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const fill = (s: string, marker: string, table: string) =>
  s.replace(new RegExp(`(<!-- ${marker}:start -->)[\\s\\S]*?(<!-- ${marker}:end -->)`), `$1\n${table}\n$2`);
const next = fill(fill(text, 'settings', settingsMarkdown()), 'metrics', metricsMarkdown());
if (next === text) console.log('README.md reference tables are up to date');
else {
  fs.writeFileSync(readme, next);
  console.log('README.md reference tables updated');
}
