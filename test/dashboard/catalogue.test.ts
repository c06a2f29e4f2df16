/**
 * The dashboard's message catalogues (web/assets/i18n-*.js): Japanese and English
 * have the same keys and the same placeholders, every key the scripts and the
 * page use exists, and every value the API can send (message states, delivery
 * states, shipped sites) has a word in both languages.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSiteDefinitions } from '../../src/extract/index.ts';
import { SHIPPED_SITES_DIR } from '../../src/paths.ts';
import { MESSAGE_STATES } from '../../src/store/states.ts';
import { DELIVERY_STATES } from '../../src/store/rows.ts';
type Entry = string | Record<string, string>;
const WEB = path.join(import.meta.dirname, '..', '..', 'web');

/** A catalogue module of the page (plain browser JS, so imported by path). */
async function catalogue(lang: string): Promise<Record<string, Entry>> {
  const file = path.join(WEB, 'assets', `i18n-${lang}.js`);
  return ((await import(file)) as { default: Record<string, Entry> }).default;
}
const catalogues = { en: await catalogue('en'), ja: await catalogue('ja') };
const ja = catalogues.ja;
/** Date layouts differ by language on purpose (年月日 / ISO-like) and may use any of these. */
const DATE_PARAMS = ['d', 'dd', 'm', 'mm', 'time', 'w', 'y'];

function placeholders(entry: Entry): string[] {
  const texts = typeof entry === 'string' ? [entry] : Object.values(entry);
  return [...new Set(texts.flatMap((s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)))].sort();
}

/** Keys named literally in the scripts (t('x'), tn('x'), has('x')) and the page (data-i18n="x"). */
function usedKeys(): string[] {
  const keys = new Set<string>();
  for (const f of fs.readdirSync(path.join(WEB, 'assets')).filter((n) => n.endsWith('.js'))) {
    const src = fs.readFileSync(path.join(WEB, 'assets', f), 'utf8');
    for (const m of src.matchAll(/\b(?:t|tn|has)\(\s*'([^']+)'/g)) keys.add(m[1]!);
    // Keys chosen by a ternary: t(cond ? 'a.b' : 'c.d').
    for (const m of src.matchAll(/\b(?:t|tn)\(\s*[^'`()]+\?\s*'([^']+)'\s*:\s*'([^']+)'/g)) {
      keys.add(m[1]!);
      keys.add(m[2]!);
    }
  }
  const html = fs.readFileSync(path.join(WEB, 'index.html'), 'utf8');
  for (const m of html.matchAll(/data-i18n(?:-aria-label)?="([^"]+)"/g)) if (m[1] !== 'key') keys.add(m[1]!);
  return [...keys].sort();
}

describe('dashboard message catalogues', () => {
  it('has the same keys in Japanese and English', () => {
    expect(Object.keys(catalogues.ja).sort()).toEqual(Object.keys(catalogues.en).sort());
  });

  it('uses the same placeholders in both languages, and no value is empty', () => {
    for (const [key, value] of Object.entries(catalogues.en)) {
      const other = catalogues.ja[key]!;
      if (key.startsWith('date.')) {
        for (const v of [value, other]) expect(DATE_PARAMS, key).toEqual(expect.arrayContaining(placeholders(v)));
      } else expect(placeholders(other), key).toEqual(placeholders(value));
      for (const v of [value, other]) {
        const texts = typeof v === 'string' ? [v] : Object.values(v);
        for (const text of texts) expect(text.trim(), key).not.toBe('');
      }
    }
  });

  it('has every key the scripts and the page name', () => {
    const used = usedKeys();
    expect(used.length).toBeGreaterThan(200);
    expect(used.filter((k) => !(k in catalogues.en))).toEqual([]);
  });

  it('has a word for every message state, delivery state and shipped booking site, in both languages', () => {
    const sites = loadSiteDefinitions([SHIPPED_SITES_DIR]).map((s) => s.source);
    expect(sites.length).toBeGreaterThanOrEqual(9);
    const keys = [
      ...MESSAGE_STATES.map((s) => `state.${s}`),
      ...DELIVERY_STATES.map((s) => `delivery.${s}`),
      ...sites.map((s) => `site.${s}`),
      ...['booked', 'requested', 'cancelled'].map((s) => `status.${s}`),
      ...['new', 'change', 'cancel', 'request'].map((s) => `event.${s}`),
      ...['unconfigured', 'configured', 'receiving'].map((s) => `siteState.${s}`),
    ];
    for (const lang of ['en', 'ja'] as const)
      expect(
        keys.filter((k) => !(k in catalogues[lang])),
        lang,
      ).toEqual([]);
  });

  it('says the store registry states in the words operators use (未設定 / 設定済 / メール受信済) and the site names in Japanese', () => {
    expect([ja['siteState.unconfigured'], ja['siteState.configured'], ja['siteState.receiving']]).toEqual([
      '未設定',
      '設定済',
      'メール受信済',
    ]);
    expect([ja['site.tabelog'], ja['site.hotpepper'], ja['site.gurunavi'], ja['site.jalan']]).toEqual([
      '食べログ',
      'ホットペッパーグルメ',
      'ぐるなび',
      'じゃらん',
    ]);
  });
});
