// Stores: the registry of restaurants and their intake addresses (the API of
// /api/stores). A list with "register a store"; one store with its address
// (copy button, previous addresses still accepted until their date), rename,
// rotate and revoke (each confirmed), and per booking site whether forwarding
// is set up, the last mail and reservation, and a verification mail waiting.
// A node without the registry (an older version: /api/stores answers 404)
// gets a note instead of an error.
import {
  api,
  errorBox,
  fill,
  fmtAge,
  h,
  sourceLabel,
  sourceName,
  statusLine,
  table,
  timeEl,
  valueBadge,
  valueLabel,
} from './lib.js';
import { t, tn } from './i18n.js';
import { verificationBox } from './messages.js';

const refresh = () => window.dispatchEvent(new Event('ota:refresh'));

const SITE_TONE = { unconfigured: 'muted', configured: 'info', receiving: 'ok' };
const STORE_TONE = { active: 'ok', revoked: 'bad' };

/** The store list, or null when this node has no store registry (404). */
async function loadStores() {
  try {
    return (await api('/api/stores')).stores;
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

function unavailable() {
  return h(
    'div',
    { class: 'callout tone-info', id: 'stores-unavailable', role: 'note' },
    h('strong', {}, t('stores.unavailable')),
    h('p', {}, t('stores.unavailableHint')),
  );
}

function say(status, text, tone = 'ok') {
  status.textContent = text;
  status.className = `status-line tone-${tone}`;
}

/** Copies `text` to the clipboard; falls back to selecting it where the Clipboard API is unavailable (plain http). */
async function copyText(text, source) {
  if (navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text);
    return true;
  }
  const range = document.createRange();
  range.selectNodeContents(source);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  return document.execCommand('copy');
}

/** The intake address, large, with a copy button. */
function addressBox(address, status) {
  const code = h('code', { class: 'address', translate: 'no' }, address);
  const button = h('button', { type: 'button', class: 'copy' }, t('stores.copy'));
  button.addEventListener('click', async () => {
    try {
      const ok = await copyText(address, code);
      say(status, ok ? t('stores.copied', { address }) : t('stores.copyManually'), ok ? 'ok' : 'warn');
    } catch {
      say(status, t('stores.copyManually'), 'warn');
    }
  });
  return h('p', { class: 'address-box' }, code, ' ', button);
}

/**
 * A modal confirmation (<dialog>): resolves true when the person confirms.
 * Destructive actions (rotate, revoke) always go through it.
 */
function confirmAction({ title, body, confirm, tone = 'bad' }) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: `primary tone-${tone}`, value: 'ok' }, confirm);
    const cancel = h('button', { type: 'button', value: 'cancel' }, t('common.cancel'));
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h('h2', { id: 'confirm-title' }, title),
      body.map((p) => h('p', {}, p)),
      h('div', { class: 'actions' }, cancel, ok),
    );
    const done = (v) => {
      dialog.close();
      dialog.remove();
      resolve(v);
    };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

function siteSummary(s) {
  const n = { receiving: 0, configured: 0, unconfigured: 0 };
  for (const x of s.sites ?? []) if (x.state in n) n[x.state] += 1;
  return h(
    'span',
    { class: 'site-summary' },
    ['receiving', 'configured', 'unconfigured'].map((k) =>
      h(
        'span',
        { class: `status tone-${SITE_TONE[k]}` },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        t(`siteState.${k}`),
        ` ${n[k]}`,
      ),
    ),
  );
}

function createForm(status) {
  const input = h('input', { id: 'store-name', name: 'name', required: true, autocomplete: 'off', maxlength: '200' });
  const form = h(
    'form',
    { class: 'filters', id: 'store-create' },
    h('div', { class: 'field grow' }, h('label', { for: 'store-name' }, t('stores.name')), input),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', class: 'primary' }, t('stores.create'))),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    try {
      const s = await api('/api/stores', { method: 'POST', body: { name } });
      location.hash = `#/stores/${encodeURIComponent(s.id)}`;
    } catch (err) {
      say(status, `${err.code}: ${err.message}`, 'bad');
    }
  });
  return form;
}

export async function renderStores(el) {
  const stores = await loadStores();
  const head = h(
    'div',
    { class: 'view-head' },
    h('h1', {}, t('nav.stores')),
    h('p', { class: 'muted' }, t('stores.lead')),
  );
  if (stores === null) {
    fill(el, head, unavailable());
    return;
  }
  const status = statusLine();
  fill(
    el,
    head,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'create-title' },
      h('h2', { id: 'create-title' }, t('stores.createTitle')),
      createForm(status),
    ),
    status,
    table(
      t('nav.stores'),
      [
        {
          label: t('stores.name'),
          cell: (s) => [
            h('a', { href: `#/stores/${encodeURIComponent(s.id)}`, class: 'strong', translate: 'no' }, s.name),
            h('span', { class: 'sub mono', translate: 'no' }, s.id),
          ],
        },
        { label: t('stores.status'), cell: (s) => valueBadge('storeStatus', s.status, STORE_TONE[s.status]) },
        {
          label: t('stores.address'),
          cell: (s) =>
            s.status === 'revoked'
              ? h('span', { class: 'muted' }, '—')
              : h('code', { class: 'mono small', translate: 'no' }, s.address),
        },
        { label: t('stores.sites'), cell: siteSummary },
        { label: t('stores.created'), cell: (s) => timeEl(s.createdAt, { short: true }) },
      ],
      stores,
      { empty: t('stores.none'), className: 'stores' },
    ),
  );
}

function renameForm(s, status) {
  const input = h('input', {
    id: 'rename',
    name: 'name',
    value: s.name,
    required: true,
    autocomplete: 'off',
    maxlength: '200',
  });
  const form = h(
    'form',
    { class: 'filters', id: 'store-rename' },
    h('div', { class: 'field grow' }, h('label', { for: 'rename' }, t('stores.name')), input),
    h('div', { class: 'field actions' }, h('button', { type: 'submit' }, t('stores.rename'))),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name || name === s.name) return;
    try {
      await api(`/api/stores/${encodeURIComponent(s.id)}`, { method: 'PATCH', body: { name } });
      refresh();
    } catch (err) {
      say(status, `${err.code}: ${err.message}`, 'bad');
    }
  });
  return form;
}

function lifecycleButtons(s, status) {
  if (s.status === 'revoked') return null;
  const run = async (button, path) => {
    button.disabled = true;
    try {
      await api(`/api/stores/${encodeURIComponent(s.id)}/${path}`, { method: 'POST' });
      refresh();
    } catch (err) {
      say(status, `${err.code}: ${err.message}`, 'bad');
      button.disabled = false;
    }
  };
  const rotate = h('button', { type: 'button', id: 'rotate' }, t('stores.rotate'));
  rotate.addEventListener('click', async () => {
    const yes = await confirmAction({
      title: t('stores.rotateTitle'),
      body: [t('stores.rotateBody', { address: s.address }), t('stores.rotateBody2')],
      confirm: t('stores.rotateConfirm'),
      tone: 'warn',
    });
    if (yes) await run(rotate, 'rotate');
  });
  const revoke = h('button', { type: 'button', id: 'revoke', class: 'danger' }, t('stores.revoke'));
  revoke.addEventListener('click', async () => {
    const yes = await confirmAction({
      title: t('stores.revokeTitle', { name: s.name }),
      body: [t('stores.revokeBody', { address: s.address }), t('stores.revokeBody2')],
      confirm: t('stores.revokeConfirm'),
    });
    if (yes) await run(revoke, 'revoke');
  });
  return h('div', { class: 'actions' }, rotate, revoke);
}

function siteRows(s, nowMs) {
  return table(
    t('stores.sitesCaption'),
    [
      { label: t('common.site'), cell: (x) => sourceLabel(x.site) },
      {
        label: t('stores.siteState'),
        cell: (x) =>
          h(
            'span',
            { class: `status tone-${SITE_TONE[x.state] ?? 'muted'}`, dataset: { state: x.state } },
            h('span', { class: 'dot', 'aria-hidden': 'true' }),
            valueLabel('siteState', x.state),
          ),
      },
      { label: t('overview.colLastMail'), cell: (x) => when(x.lastMailAt, nowMs) },
      { label: t('overview.colLastImported'), cell: (x) => when(x.lastReservationAt, nowMs) },
      {
        label: t('stores.verification'),
        cell: (x) =>
          x.verification
            ? [
                verificationBox({ code: x.verification.code, url: x.verification.link }) ??
                  h('p', { class: 'muted' }, t('review.noCode')),
                h(
                  'p',
                  { class: 'small' },
                  h('a', { href: `#/messages/${encodeURIComponent(x.verification.messageId)}` }, t('stores.openMail')),
                  ' · ',
                  timeEl(x.verification.receivedAt, { short: true }),
                ),
              ]
            : h('span', { class: 'muted' }, t('stores.noVerification')),
      },
      {
        label: t('stores.howTo'),
        class: 'howto',
        cell: (x) =>
          h(
            'span',
            { class: 'small' },
            tn('stores.siteStep', { site: sourceName(x.site), address: h('code', { translate: 'no' }, s.address) }),
          ),
      },
    ],
    s.sites ?? [],
    { empty: t('stores.noSites'), className: 'store-sites' },
  );
}

function when(iso, nowMs) {
  if (!iso) return h('span', { class: 'muted' }, t('age.never'));
  return h('span', {}, timeEl(iso, { short: true }), h('span', { class: 'sub' }, fmtAge(iso, nowMs)));
}

export async function renderStore(el, id) {
  const stores = await loadStores();
  const crumbs = h('p', { class: 'crumbs' }, h('a', { href: '#/stores' }, `← ${t('nav.stores')}`));
  if (stores === null) {
    fill(el, crumbs, unavailable());
    return;
  }
  const s = stores.find((x) => x.id === id);
  if (!s) {
    fill(el, crumbs, errorBox({ code: 'NOT_FOUND', message: t('stores.notFound', { id }) }));
    return;
  }
  const status = statusLine();
  const now = Date.now();
  const previous = (s.previousAddresses ?? []).filter((p) => Date.parse(p.validUntil) > now);
  fill(
    el,
    crumbs,
    h(
      'div',
      { class: 'view-head' },
      h('h1', { translate: 'no' }, s.name),
      h(
        'p',
        { class: 'tags' },
        valueBadge('storeStatus', s.status, STORE_TONE[s.status]),
        ' ',
        h('span', { class: 'mono', translate: 'no' }, s.id),
        ' · ',
        tn('stores.createdAt', { time: timeEl(s.createdAt) }),
        s.revokedAt ? [' · ', tn('stores.revokedAt', { time: timeEl(s.revokedAt) })] : null,
      ),
    ),
    status,
    s.status === 'revoked'
      ? h('div', { class: 'callout tone-bad', role: 'note' }, t('stores.revokedNote'))
      : h(
          'section',
          { class: 'panel', id: 'intake', 'aria-labelledby': 'intake-title' },
          h('h2', { id: 'intake-title' }, t('stores.address')),
          h('p', { class: 'muted hint' }, t('stores.addressHint')),
          addressBox(s.address, status),
          previous.length
            ? h(
                'div',
                { class: 'previous' },
                h('p', { class: 'small' }, t('stores.previous')),
                h(
                  'ul',
                  { class: 'plain' },
                  previous.map((p) =>
                    h(
                      'li',
                      {},
                      h('code', { class: 'small', translate: 'no' }, p.address),
                      ' ',
                      h('span', { class: 'muted small' }, tn('stores.validUntil', { time: timeEl(p.validUntil) })),
                    ),
                  ),
                ),
              )
            : null,
          s.verification
            ? h(
                'div',
                { id: 'store-verification' },
                h('p', { class: 'small' }, t('stores.mailboxVerification')),
                verificationBox({ code: s.verification.code, url: s.verification.link }) ??
                  h('p', { class: 'muted' }, t('review.noCode')),
                h(
                  'p',
                  { class: 'small' },
                  h('a', { href: `#/messages/${encodeURIComponent(s.verification.messageId)}` }, t('stores.openMail')),
                  ' · ',
                  timeEl(s.verification.receivedAt, { short: true }),
                ),
              )
            : null,
          h(
            'details',
            { class: 'steps' },
            h('summary', {}, t('stores.stepsTitle')),
            h(
              'ol',
              {},
              ['stores.step1', 'stores.step2', 'stores.step3', 'stores.step4'].map((k) =>
                h('li', {}, tn(k, { address: h('code', { translate: 'no' }, s.address) })),
              ),
            ),
            h(
              'p',
              { class: 'small muted' },
              tn('stores.stepAlt', { address: h('code', { translate: 'no' }, s.address) }),
            ),
          ),
        ),
    h(
      'section',
      { class: 'panel', id: 'store-sites', 'aria-labelledby': 'sites-title' },
      h('h2', { id: 'sites-title' }, t('stores.sitesTitle')),
      h('p', { class: 'muted hint' }, t('stores.sitesHint')),
      siteRows(s, now),
    ),
    h(
      'section',
      { class: 'panel', id: 'store-manage', 'aria-labelledby': 'manage-title' },
      h('h2', { id: 'manage-title' }, t('stores.manage')),
      renameForm(s, status),
      s.status === 'revoked' ? null : h('p', { class: 'muted hint' }, t('stores.manageHint')),
      lifecycleButtons(s, status),
    ),
  );
}
