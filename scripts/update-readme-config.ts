/**
 * Regenerates the configuration table in README.md from src/config/settings.ts
 * (between the `settings:start` / `settings:end` markers). `npm run docs`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { settingsMarkdown } from '../src/config/table.ts';

const readme = path.join(import.meta.dirname, '..', 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const next = text.replace(/(<!-- settings:start -->)[\s\S]*?(<!-- settings:end -->)/, `$1\n${settingsMarkdown()}\n$2`);
if (next === text) console.log('README.md configuration table is up to date');
else {
  fs.writeFileSync(readme, next);
  console.log('README.md configuration table updated');
}
