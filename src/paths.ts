/**
 * Where the package's own files are, whether running from `src/` (tsx, tests)
 * or from `dist/src/` (built): walk up to the directory holding package.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`package.json not found above ${start}`);
}

export const PACKAGE_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
/** Site definitions shipped with the release (operators add theirs via `sitesDirs`). */
export const SHIPPED_SITES_DIR = path.join(PACKAGE_ROOT, 'config', 'sites');
export const PACKAGE_VERSION: string = (
  JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
/** The dashboard's static files (HTML, CSS, ES modules), served at `/` as they are: no build step. */
export const WEB_DIR = path.join(PACKAGE_ROOT, 'web');
