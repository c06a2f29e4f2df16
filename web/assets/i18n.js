// Languages of the dashboard: every user-visible string comes from a message
// catalogue (i18n-ja.js, i18n-en.js; same keys, checked by a test). The
// language is the one remembered in localStorage (the 日本語 / English switch),
// else the first of the browser's `navigator.languages` that we have
// (Japanese for a Japanese browser), else English.
import en from './i18n-en.js';
import ja from './i18n-ja.js';

export const CATALOGUES = { ja, en };
export const LANGUAGES = ['ja', 'en'];
const LANG_KEY = 'ota-inbound.lang';

/** The language for a stored choice and the browser's preference list. */
export function chooseLanguage(stored, preferred) {
  if (LANGUAGES.includes(stored)) return stored;
  for (const tag of preferred ?? []) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return 'en';
}

function stored() {
  try {
    return localStorage.getItem(LANG_KEY);
  } catch {
    return null; // storage disabled: follow the browser
  }
}

let current = chooseLanguage(stored(), navigator.languages?.length ? navigator.languages : [navigator.language]);

/** The language in use: 'ja' or 'en'. */
export function lang() {
  return current;
}

/** Switches the language and remembers it for this browser. */
export function setLang(l) {
  if (!LANGUAGES.includes(l)) return;
  current = l;
  try {
    localStorage.setItem(LANG_KEY, l);
  } catch {
    // not remembered, still switched
  }
}

function lookup(key, params) {
  const entry = CATALOGUES[current][key] ?? CATALOGUES.en[key];
  if (entry === undefined) return key;
  if (typeof entry === 'string') return entry;
  // { one, other }: plural forms, chosen by params.n.
  const form = new Intl.PluralRules(current).select(Number(params?.n ?? 0));
  return entry[form] ?? entry.other;
}

/** The translated text of `key`, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  return lookup(key, params).replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/**
 * Like `t`, but placeholders may be DOM nodes (a <time>, a link): returns the
 * parts, strings and nodes, ready to append.
 */
export function tn(key, params = {}) {
  const parts = [];
  const text = lookup(key, params);
  let last = 0;
  for (const m of text.matchAll(/\{(\w+)\}/g)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(m[1] in params ? params[m[1]] : m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** True when the catalogue has `key` (for values from the API we may not know, e.g. a new state). */
export function has(key) {
  return CATALOGUES[current][key] !== undefined;
}
