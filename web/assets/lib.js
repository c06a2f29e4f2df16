// Shared helpers: the API client (bearer token from sessionStorage), DOM
// building without innerHTML (mail content is untrusted: it only ever becomes
// text nodes and attribute values), and formatting in Japan time.
import { has, t } from './i18n.js';

const TOKEN_KEY = 'ota-inbound.token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An API error: `status` and the API's stable `code`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Listeners told when the API refuses us (401/403), to show the sign-in form. */
const authListeners = new Set();
export function onAuthError(fn) {
  authListeners.add(fn);
}

function headers(extra = {}) {
  const tok = token.get();
  return tok ? { ...extra, authorization: `Bearer ${tok}` } : extra;
}

/** GET/POST/PATCH a JSON API path (`body`: the JSON to send); throws ApiError on non-2xx. */
export async function api(path, { method = 'GET', query, body: payload } = {}) {
  let url = path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
    const s = qs.toString();
    if (s) url += `?${s}`;
  }
  const sends = method !== 'GET';
  const res = await fetch(url, {
    method,
    headers: headers(sends ? { 'content-type': 'application/json' } : {}),
    body: sends ? JSON.stringify(payload ?? {}) : undefined,
    cache: 'no-store',
  });
  let body = null;
  if ((res.headers.get('content-type') ?? '').includes('json')) body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new ApiError(
      res.status,
      body?.error?.code ?? `HTTP_${res.status}`,
      body?.error?.message ?? res.statusText,
    );
    if (res.status === 401 || res.status === 403) for (const fn of authListeners) fn(err);
    throw err;
  }
  return body;
}

/** Downloads an API resource as a file (the bearer token cannot ride on a plain link). */
export async function download(path, filename) {
  const res = await fetch(path, { headers: headers(), cache: 'no-store' });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child, [more]) —
 * children are nodes or strings (strings become text nodes, never HTML).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** Appends children to `el`, skipping null/undefined/false (native `append` would print "null"). */
export function fill(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Japan time (where the restaurants are) whatever the browser's zone; the
// layout of a date comes from the catalogue (2026年12月4日(金) 19:00 / 2026-12-04 (Fri) 19:00 JST).
const JST_PARTS = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Asia/Tokyo',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

function dateParams(y, m, d) {
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return {
    y: String(y),
    m: String(m),
    d: String(d),
    mm: String(m).padStart(2, '0'),
    dd: String(d).padStart(2, '0'),
    w: t('date.weekdays').split(',')[weekday],
  };
}

function jstParts(iso) {
  const p = Object.fromEntries(JST_PARTS.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return { ...dateParams(Number(p.year), Number(p.month), Number(p.day)), time: `${p.hour}:${p.minute}` };
}

/** A JST date and time ("2026年12月4日(金) 19:00"; short: without the year), or "—". */
export function fmtTime(iso, { short = false } = {}) {
  if (!iso) return '—';
  return t(short ? 'date.short' : 'date.full', jstParts(iso));
}

/** "19:00" in JST. */
export function fmtHour(iso) {
  return jstParts(iso).time;
}

/** A local date in Japan, "YYYY-MM-DD" as the API gives it, as "2026年12月20日(日)"; other text unchanged. */
export function fmtDate(ymd) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd ?? '');
  if (!m) return ymd ?? '—';
  return t('date.day', dateParams(Number(m[1]), Number(m[2]), Number(m[3])));
}

/** "5 min ago" relative to `nowMs` (the server's clock, so the page agrees with the alerts). */
export function fmtAge(iso, nowMs) {
  if (!iso) return t('age.never');
  const s = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  if (s < 60) return t('age.seconds', { n: s });
  const m = Math.round(s / 60);
  if (m < 90) return t('age.minutes', { n: m });
  const hrs = Math.round(m / 60);
  if (hrs < 48) return t('age.hours', { n: hrs });
  return t('age.days', { n: Math.round(hrs / 24) });
}

/** A <time> element showing the JST time, with the ISO instant for machines. */
export function timeEl(iso, opts) {
  return iso ? h('time', { datetime: iso, title: iso }, fmtTime(iso, opts)) : h('span', { class: 'muted' }, '—');
}

const STATE_TONE = {
  processed: 'ok',
  duplicate: 'muted',
  ignored: 'muted',
  review: 'warn',
  quarantined: 'warn',
  pending: 'info',
  failed: 'warn',
  dead: 'bad',
  booked: 'ok',
  requested: 'info',
  cancelled: 'muted',
  delivered: 'ok',
};

/** A small coloured label; the colour never carries meaning alone (the text says it). */
export function badge(text, tone = 'muted') {
  return text ? h('span', { class: `badge tone-${tone}` }, text) : h('span', { class: 'muted' }, '—');
}

/**
 * A translated badge for a value of the API: `group` is state (message),
 * status (reservation), event, delivery or severity. The API's word stays in
 * `data-value` (and the tooltip) for support staff and tests.
 */
export function valueBadge(group, value, tone = STATE_TONE[value] ?? 'muted') {
  if (!value) return h('span', { class: 'muted' }, '—');
  const b = badge(valueLabel(group, value), tone);
  b.dataset.value = value;
  b.title = value;
  return b;
}

/** The translated word for an API value (`state.processed` …); the value itself when unknown. */
export function valueLabel(group, value) {
  return has(`${group}.${value}`) ? t(`${group}.${value}`) : value;
}

export const SOURCES = [
  'tabelog',
  'hotpepper',
  'gurunavi',
  'ikyu',
  'retty',
  'hitosara',
  'ozmall',
  'jalan',
  'opentable',
];

/** The site's name as an operator knows it (食べログ, ホットペッパーグルメ …); the id when unknown. */
export function sourceName(source) {
  return has(`site.${source}`) ? t(`site.${source}`) : source;
}

export const MESSAGE_STATES = [
  'pending',
  'processed',
  'duplicate',
  'ignored',
  'review',
  'quarantined',
  'failed',
  'dead',
];
export const KINDS = ['reservation', 'digest', 'verification', 'unknown'];

export function sourceLabel(source) {
  if (!source) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'source', title: source }, sourceName(source));
}

/** A labelled <select>; `value` preselected, '' = any. */
export function selectField(id, label, name, options, value, { any = t('common.any') } = {}) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h(
      'select',
      { id, name },
      h('option', { value: '' }, any),
      options
        .map((o) => (typeof o === 'string' ? [o, o] : o))
        .map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
    ),
  );
}

export function inputField(id, label, name, value, attrs = {}) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name, value: value ?? '', ...attrs }),
  );
}

/**
 * A semantic table that turns into labelled cards on a phone: each cell gets
 * `data-label` from its column, which the narrow-screen CSS shows.
 */
export function table(caption, columns, rows, { empty = t('common.nothing'), className = '' } = {}) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: `data ${className}` },
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((r) =>
          h(
            'tr',
            { class: r.rowClass },
            columns.map((c) =>
              h('td', { 'data-label': c.label, class: c.class }, h('div', { class: 'cell' }, c.cell(r))),
            ),
          ),
        ),
      ),
    ),
  );
}

/** A <dl> of [term, value] pairs (values are nodes or strings; empty ones show "—"). */
export function defList(pairs, className = 'props') {
  return h(
    'dl',
    { class: className },
    pairs
      .filter(Boolean)
      .map(([k, v]) => [
        h('dt', {}, k),
        h('dd', {}, v === null || v === undefined || v === '' ? h('span', { class: 'muted' }, '—') : v),
      ]),
  );
}

/** Parses "#/view/arg?x=1" into {view, arg, params}. */
export function parseHash(hash) {
  const [path, qs = ''] = hash.replace(/^#\/?/, '').split('?');
  const [view = 'overview', ...rest] = path.split('/').map(decodeURIComponent);
  return { view: view || 'overview', arg: rest.join('/') || null, params: new URLSearchParams(qs) };
}

/** An inline status line that screen readers announce. */
export function statusLine() {
  return h('p', { class: 'status-line', role: 'status', 'aria-live': 'polite' });
}

export function errorBox(err) {
  return h(
    'div',
    { class: 'callout tone-bad', role: 'alert' },
    h('strong', { translate: 'no' }, err.code ?? t('common.error')),
    ' ',
    err.message ?? String(err),
  );
}
