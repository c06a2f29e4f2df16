import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSiteDefinitions, SiteDefinitionError, SOURCES, validateSiteDefinition } from '../../src/extract/index.ts';

const SHIPPED = fileURLToPath(new URL('../../config/sites', import.meta.url));
const minimal = {
  source: 'newsite',
  name: 'New',
  senders: { domains: ['newsite.example'] },
  dkimDomains: ['newsite.example'],
};

function problemsOf(data: unknown): string[] {
  try {
    validateSiteDefinition(data, 'sites/x.json');
  } catch (err) {
    expect(err).toBeInstanceOf(SiteDefinitionError);
    return (err as SiteDefinitionError).problems;
  }
  return [];
}

function siteDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ota-sites-'));
  for (const [name, data] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof data === 'string' ? data : JSON.stringify(data));
  }
  return dir;
}

describe('site definitions', () => {
  it('ships one valid definition per source of the contract', () => {
    const sites = loadSiteDefinitions([SHIPPED]);
    expect(sites.map((s) => s.source).sort()).toEqual([...SOURCES].sort());
    for (const site of sites) expect(site.dkimDomains.length, site.source).toBeGreaterThan(0);
  });

  it('accepts a minimal definition', () => {
    expect(problemsOf(minimal)).toEqual([]);
  });

  it('names the file and every bad field', () => {
    const data = {
      ...minimal,
      source: 'Bad Id',
      lables: {},
      senders: { domains: ['Not A Domain'] },
      dkimDomains: 'x.example',
    };
    let message = '';
    try {
      validateSiteDefinition(data, 'config/sites/bad.json');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^config\/sites\/bad\.json: /);
    expect(message).toContain('source: must be a lower-case id');
    expect(message).toContain('lables: unknown field');
    expect(message).toContain('senders.domains[0]: must be a lower-case domain');
    expect(message).toContain('dkimDomains: must be an array of strings');
  });

  it('rejects unknown events, label fields and optional fields', () => {
    const problems = problemsOf({
      ...minimal,
      events: { booked: { subject: ['x'] } },
      labels: { partysize: ['人数'] },
      optionalFields: { request: ['telephone'] },
    });
    expect(problems).toContain('events.booked: unknown field (expected one of new, change, cancel, request)');
    expect(problems.some((p) => p.startsWith('labels.partysize: unknown field'))).toBe(true);
    expect(problems.some((p) => p.startsWith('optionalFields.request[0]: "telephone" is not one of'))).toBe(true);
  });

  it('rejects invalid regexes, regexes without the capture group and nested quantifiers', () => {
    const problems = problemsOf({ ...minimal, bookingIdPatterns: ['(', 'id=\\d+', '(a+)+x'] });
    expect(problems[0]).toMatch(/^bookingIdPatterns\[0\]: invalid regex/);
    expect(problems[1]).toBe('bookingIdPatterns[1]: needs a capture group (group 1 is the value)');
    expect(problems[2]).toBe(
      'bookingIdPatterns[2]: quantified group containing a quantifier (catastrophic backtracking risk)',
    );
  });

  it('checks that pattern fields point at capture groups', () => {
    const problems = problemsOf({
      ...minimal,
      patterns: [{ regex: 'for (\\d+)', fields: { partySize: 2, phone: 1 } }],
    });
    expect(problems).toContain('patterns[0].fields.partySize: must be a capture group number of the regex');
    expect(problems).toContain('patterns[0].fields.phone: not a field patterns can fill');
  });

  it('reports a file that is not JSON with its path', () => {
    const dir = siteDir({ 'broken.json': '{ "source": ' });
    expect(() => loadSiteDefinitions([dir])).toThrow(new RegExp(`${join(dir, 'broken.json')}: not valid JSON`));
  });

  it('reports a directory it cannot read', () => {
    expect(() => loadSiteDefinitions(['/nonexistent/sites'])).toThrow(
      '/nonexistent/sites: cannot read directory (ENOENT)',
    );
  });

  it('refuses the same source twice in one directory', () => {
    const dir = siteDir({ 'a.json': minimal, 'b.json': minimal });
    expect(() => loadSiteDefinitions([dir])).toThrow(/b\.json: source "newsite" is already defined by .*a\.json/);
  });

  it('lets a later directory add a site or replace a shipped one', () => {
    const dir = siteDir({ 'tabelog.json': { ...minimal, source: 'tabelog', name: 'Override' }, 'new.json': minimal });
    const sites = loadSiteDefinitions([SHIPPED, dir]);
    expect(sites.find((s) => s.source === 'tabelog')?.name).toBe('Override');
    expect(sites.find((s) => s.source === 'newsite')).toBeDefined();
    expect(sites).toHaveLength(SOURCES.length + 1);
  });

  it('ignores files that are not .json', () => {
    const dir = siteDir({ 'README.md': '# notes' });
    mkdirSync(join(dir, 'sub.json.d'));
    expect(loadSiteDefinitions([dir])).toEqual([]);
  });

  it('returns frozen definitions (the compiled form is cached by identity)', () => {
    const sites = loadSiteDefinitions([SHIPPED]);
    expect(Object.isFrozen(sites)).toBe(true);
    expect(Object.isFrozen(sites[0]?.senders)).toBe(true);
  });
});
