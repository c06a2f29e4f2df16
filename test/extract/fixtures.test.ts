/**
 * The fixture corpus: every test/fixtures/**.eml is analysed with the shipped
 * site definitions and its Extraction must equal the hand-written .json beside it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze, loadSiteDefinitions } from '../../src/extract/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures');
const sites = loadSiteDefinitions([join(ROOT, 'config/sites')]);

function emlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return emlFiles(path);
    return entry.name.endsWith('.eml') ? [path] : [];
  });
}

const files = emlFiles(FIXTURES).sort();

describe('fixture corpus', () => {
  it('covers every shipped site with new, change-or-request and cancel', () => {
    for (const site of sites) {
      const names = files.filter((f) => f.includes(`/${site.source}/`)).map((f) => f.split('/').pop());
      expect(names, site.source).toContain('new.eml');
      expect(names, site.source).toContain('cancel.eml');
      expect(names.includes('change.eml') || names.includes('request.eml'), site.source).toBe(true);
    }
  });

  it('records the provenance of every fixture in test/fixtures/README.md', () => {
    const readme = readFileSync(join(FIXTURES, 'README.md'), 'utf8');
    for (const file of files) expect(readme, relative(FIXTURES, file)).toContain(`| \`${relative(FIXTURES, file)}\` |`);
  });

  it('has at least three unconfigured sites through the generic path, and non-bookings from known senders', () => {
    const generic = files.filter((f) => f.includes('/unconfigured/'));
    const domains = new Set(
      generic.map(
        (f) =>
          (JSON.parse(readFileSync(f.replace(/\.eml$/, '.json'), 'utf8')) as { senderDomain: string }).senderDomain,
      ),
    );
    expect(domains.size).toBeGreaterThanOrEqual(3);
    expect(files.filter((f) => f.split('/').pop()!.startsWith('not-')).length).toBeGreaterThanOrEqual(5);
  });

  it('has at least three wordings of every event a site sends', () => {
    const count = new Map<string, number>();
    for (const file of files) {
      const x = JSON.parse(readFileSync(file.replace(/\.eml$/, '.json'), 'utf8')) as {
        source: string | null;
        event: string | null;
      };
      if (x.source !== null && x.event !== null)
        count.set(`${x.source} ${x.event}`, (count.get(`${x.source} ${x.event}`) ?? 0) + 1);
    }
    for (const [key, n] of count) expect(n, key).toBeGreaterThanOrEqual(3);
  });

  it.each(files.map((f) => [relative(FIXTURES, f), f]))('%s', async (_name, file) => {
    const expected: unknown = JSON.parse(readFileSync(file.replace(/\.eml$/, '.json'), 'utf8'));
    const analysis = await analyze(readFileSync(file), sites);
    expect(analysis.extraction).toEqual(expected);
    // The Analysis crosses a worker boundary and is stored as JSON.
    expect(JSON.parse(JSON.stringify(analysis))).toEqual(analysis);
    expect(structuredClone(analysis)).toEqual(analysis);
  });
});
