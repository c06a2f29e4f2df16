// Messages: the recent mail with its outcome (filterable), and one message in
// detail — envelope, sender authentication, extracted fields beside the
// decoded text, events and deliveries — with the actions.
import {
  fill,
  KINDS,
  MESSAGE_STATES,
  SOURCES,
  api,
  badge,
  fmtDate,
  defList,
  download,
  errorBox,
  fmtTime,
  h,
  inputField,
  selectField,
  sourceLabel,
  statusLine,
  table,
  timeEl,
  valueBadge,
  valueLabel,
  sourceName,
} from './lib.js';
import { t, tn } from './i18n.js';
import { reasonChips, reasonHelpNotes } from './reasons.js';

const PAGE = 50;

function filtersForm(params) {
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': t('messages.filter') },
    selectField(
      'f-state',
      t('messages.state'),
      'state',
      MESSAGE_STATES.map((v) => [v, valueLabel('state', v)]),
      params.get('state') ?? '',
    ),
    selectField(
      'f-kind',
      t('messages.kind'),
      'kind',
      KINDS.map((v) => [v, valueLabel('kind', v)]),
      params.get('kind') ?? '',
    ),
    selectField(
      'f-source',
      t('common.site'),
      'source',
      SOURCES.map((s) => [s, sourceName(s)]),
      params.get('source') ?? '',
    ),
    inputField('f-store', t('common.store'), 'store', params.get('store'), {
      type: 'search',
      autocomplete: 'off',
      spellcheck: 'false',
    }),
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'submit', class: 'primary' }, t('common.apply')),
      h('a', { href: '#/messages', class: 'button' }, t('common.clear')),
    ),
  );
  const apply = () => {
    const qs = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) qs.set(k, String(v).trim());
    location.hash = `#/messages${qs.size ? `?${qs}` : ''}`;
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    apply();
  });
  for (const s of form.querySelectorAll('select')) s.addEventListener('change', apply);
  return form;
}

function messageRows(items) {
  return items.map((m) => ({ ...m, rowClass: `state-${m.state}` }));
}

const columns = () => [
  {
    label: t('common.received'),
    cell: (m) => h('a', { href: `#/messages/${encodeURIComponent(m.id)}`, class: 'row-link' }, fmtTime(m.receivedAt)),
  },
  {
    label: t('messages.outcome'),
    cell: (m) => [
      valueBadge('state', m.state),
      m.handledAt ? h('span', { class: 'badge tone-muted' }, t('messages.handled')) : null,
      m.errorCode ? h('span', { class: 'mono small', translate: 'no' }, ` ${m.errorCode}`) : null,
    ],
  },
  {
    label: t('messages.kind'),
    cell: (m) => [
      m.kind ? valueLabel('kind', m.kind) : '—',
      m.event ? h('span', { class: 'muted' }, ` · ${valueLabel('event', m.event)}`) : null,
    ],
  },
  { label: t('common.site'), cell: (m) => sourceLabel(m.source) },
  {
    label: t('common.store'),
    cell: (m) => (m.store ? h('span', { translate: 'no' }, m.store) : h('span', { class: 'muted' }, '—')),
  },
  {
    label: t('messages.subject'),
    class: 'subject',
    cell: (m) =>
      m.subject ? h('span', { translate: 'no' }, m.subject) : h('span', { class: 'muted' }, t('common.none')),
  },
  {
    label: t('messages.reservation'),
    class: 'mono',
    cell: (m) =>
      m.reservationId ? h('span', { translate: 'no' }, m.reservationId) : h('span', { class: 'muted' }, '—'),
  },
];

export async function renderMessages(el, params) {
  const query = { limit: PAGE };
  for (const k of ['state', 'kind', 'source', 'store']) if (params.get(k)) query[k] = params.get(k);
  const page = await api('/api/messages', { query });
  const items = [...page.items];
  const holder = h(
    'div',
    {},
    table(t('messages.caption'), columns(), messageRows(items), {
      empty: t('messages.noMatch'),
      className: 'messages',
    }),
  );
  let cursor = page.nextCursor;
  const more = h('button', { type: 'button', hidden: !cursor }, t('common.loadMore'));
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const next = await api('/api/messages', { query: { ...query, cursor } });
      items.push(...next.items);
      cursor = next.nextCursor;
      holder.replaceChildren(table(t('messages.caption'), columns(), messageRows(items), { className: 'messages' }));
      more.hidden = !cursor;
    } catch (err) {
      fill(holder, errorBox(err));
    } finally {
      more.disabled = false;
    }
  });
  fill(
    el,
    h('div', { class: 'view-head' }, h('h1', {}, t('nav.messages')), h('p', { class: 'muted' }, t('messages.lead'))),
    filtersForm(params),
    holder,
    h('p', { class: 'more' }, more),
  );
}

/** Extraction fields in display order; labels are `field.<name>` in the catalogues. */
const FIELDS = [
  'reservationId',
  'event',
  'visitDate',
  'visitTime',
  'partySize',
  'guestName',
  'guestNameKana',
  'phone',
  'course',
  'seats',
  'notes',
  'storeName',
];

/** A field's value as shown: the API's value, with the event and the visit date in words. */
function fieldValue(k, v) {
  if (k === 'event') return h('span', { dataset: { value: v } }, valueLabel('event', v));
  if (k === 'visitDate') return h('time', { datetime: v }, fmtDate(v));
  return h('span', { translate: 'no' }, String(v));
}

function extractionPanel(x) {
  if (!x) return h('p', { class: 'muted' }, t('message.notExtracted'));
  const changes = Object.entries(x.changes ?? {});
  return h(
    'div',
    {},
    h(
      'table',
      { class: 'fields' },
      h('caption', { class: 'visually-hidden' }, t('message.extractedFields')),
      h(
        'tbody',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, t('messages.kind')),
          h('td', {}, valueLabel('kind', x.kind), x.source ? [' · ', sourceLabel(x.source)] : ''),
        ),
        FIELDS.map((k) =>
          h(
            'tr',
            { class: x[k] === null || x[k] === undefined ? 'missing' : '' },
            h('th', { scope: 'row' }, t(`field.${k}`)),
            h(
              'td',
              { 'data-field': k },
              x[k] === null || x[k] === undefined ? h('span', { class: 'muted' }, '—') : fieldValue(k, x[k]),
            ),
          ),
        ),
        changes.length
          ? h(
              'tr',
              {},
              h('th', { scope: 'row' }, t('message.changes')),
              h(
                'td',
                {},
                h(
                  'ul',
                  { class: 'plain' },
                  changes.map(([f, c]) =>
                    h(
                      'li',
                      {},
                      h('strong', {}, fieldLabel(f)),
                      ': ',
                      h('span', { translate: 'no' }, `${c.from ?? '—'} → ${c.to ?? '—'}`),
                    ),
                  ),
                ),
              ),
            )
          : null,
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, t('message.needsReview')),
          h(
            'td',
            {},
            x.needsReview ? [badge(t('common.yes'), 'warn'), ' ', reasonChips(x.reviewReasons ?? [])] : t('common.no'),
          ),
        ),
      ),
    ),
  );
}

const mono = (text) => h('span', { class: 'mono', translate: 'no' }, text);
const domain = (d) => (d ? h('span', { translate: 'no' }, d) : '');
/** pass / fail / none … are the RFC's result words: kept, with the tooltip in words. */
const authBadge = (result, tone) => {
  const b = badge(result, tone);
  b.setAttribute('translate', 'no');
  return b;
};
const fieldLabel = (f) => valueLabel('field', f);

function authPanel(auth) {
  if (!auth) return h('p', { class: 'muted' }, t('auth.none'));
  if (!auth.checked) return h('p', { class: 'muted' }, t('auth.off'));
  const tone = (r) => (r === 'pass' ? 'ok' : r === 'none' || r === 'neutral' ? 'muted' : 'bad');
  return defList([
    ['SPF', [authBadge(auth.spf?.result, tone(auth.spf?.result)), ' ', domain(auth.spf?.domain)]],
    [
      'DKIM',
      (auth.dkim ?? []).length
        ? h(
            'ul',
            { class: 'plain' },
            auth.dkim.map((d) =>
              h('li', {}, authBadge(d.result, tone(d.result)), ' ', domain(d.domain ?? d.signingDomain)),
            ),
          )
        : t('auth.noSignature'),
    ],
    [
      'DMARC',
      [
        authBadge(auth.dmarc?.result, tone(auth.dmarc?.result)),
        ' ',
        domain(auth.dmarc?.domain),
        auth.dmarc?.policy ? h('span', { translate: 'no' }, ` (p=${auth.dmarc.policy})`) : '',
      ],
    ],
    auth.arc && auth.arc.result !== 'none'
      ? ['ARC', [authBadge(auth.arc.result, tone(auth.arc.result)), ' ', domain((auth.arc.sealers ?? []).join(', '))]]
      : null,
    auth.site
      ? [
          t('auth.siteVerdict'),
          [
            badge(auth.site.trusted ? t('auth.trusted') : t('auth.notTrusted'), auth.site.trusted ? 'ok' : 'bad'),
            ' ',
            sourceLabel(auth.site.source),
            auth.site.via ? h('span', { translate: 'no' }, ` (${auth.site.via})`) : '',
            auth.site.trusted ? null : reasonHelpNotes([`unauthenticated:${auth.site.source}`]),
          ],
        ]
      : null,
    auth.error ? [t('common.error'), h('span', { lang: 'en', translate: 'no' }, auth.error)] : null,
  ]);
}

function envelopePanel(m) {
  const e = m.envelope ?? {};
  return defList([
    ['MAIL FROM', mono(e.mailFrom ?? '<>')],
    ['RCPT TO', mono((e.rcptTo ?? []).join(', '))],
    [t('message.client'), mono(`${e.clientIp ?? '?'}${e.helo ? ` (HELO ${e.helo})` : ''}`)],
    [
      'TLS',
      e.tls
        ? mono(`${e.tls.protocol ?? ''} ${e.tls.cipher ?? ''}`.trim()) || t('common.yes')
        : h('span', { class: 'badge tone-warn' }, t('message.plaintext')),
    ],
    [t('message.fromHeader'), m.from ? h('span', { translate: 'no' }, m.from) : null],
    ['Message-ID', mono(m.messageId ?? '—')],
    [t('message.sentAt'), timeEl(m.sentAt)],
    [t('common.received'), timeEl(m.receivedAt)],
    [t('message.processedAt'), timeEl(m.processedAt)],
    [t('message.size'), t('message.bytes', { n: m.size.toLocaleString() })],
    [t('common.store'), m.store ? h('span', { translate: 'no' }, m.store) : null],
    [t('message.spoolId'), mono(m.id)],
  ]);
}

/** Verification code and link, large, for the person confirming the forwarding. */
export function verificationBox(v) {
  if (!v || (!v.code && !v.url)) return null;
  const safeUrl = v.url && /^https?:\/\//i.test(v.url) ? v.url : null;
  return h(
    'div',
    { class: 'verification', role: 'note' },
    h('p', { class: 'verification-title' }, t('verification.title')),
    v.code
      ? h('p', {}, h('span', { class: 'muted' }, t('verification.code')), ' ', h('output', { class: 'code' }, v.code))
      : null,
    v.url
      ? h(
          'p',
          { class: 'verification-url' },
          h('span', { class: 'muted' }, t('verification.link')),
          ' ',
          safeUrl
            ? h('a', { href: safeUrl, target: '_blank', rel: 'noopener noreferrer', translate: 'no' }, v.url)
            : mono(v.url),
        )
      : null,
  );
}

/** Replay / mark handled / download buttons for one message; `after` runs once an action succeeded. */
export function messageActions(m, { status, after, compact = false } = {}) {
  const say = (text, tone = 'ok') => {
    if (!status) return;
    status.textContent = text;
    status.className = `status-line tone-${tone}`;
  };
  const act = (label, fn, { primary = false, title } = {}) => {
    const b = h('button', { type: 'button', class: primary ? 'primary' : '', title }, label);
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        await fn();
      } catch (err) {
        say(`${err.code ?? t('common.error')}: ${err.message}`, 'bad');
      } finally {
        b.disabled = false;
      }
    });
    return b;
  };
  const buttons = [];
  if (m.state !== 'pending') {
    buttons.push(
      act(
        t('action.replay'),
        async () => {
          await api(`/api/messages/${encodeURIComponent(m.id)}/replay`, { method: 'POST' });
          say(t('action.replayQueued'), 'info');
          after?.('replay');
        },
        { primary: m.state === 'dead' || m.state === 'failed', title: t('action.replayTitle') },
      ),
    );
  }
  if (m.state !== 'pending' && m.state !== 'failed' && !m.handledAt) {
    buttons.push(
      act(
        t('action.handled'),
        async () => {
          await api(`/api/messages/${encodeURIComponent(m.id)}/handled`, { method: 'POST' });
          say(t('action.handledDone'));
          after?.('handled');
        },
        { primary: m.state === 'review', title: t('action.handledTitle') },
      ),
    );
  }
  if (!compact && m.rawAvailable !== false)
    buttons.push(
      act(t('action.download'), () => download(`/api/messages/${encodeURIComponent(m.id)}/raw`, `${m.id}.eml`)),
    );
  return h('div', { class: 'actions' }, buttons);
}

function eventsPanel(m) {
  if (!m.events?.length) return h('p', { class: 'muted' }, t('message.noEvents'));
  return table(
    t('message.eventsCaption'),
    [
      {
        label: t('field.event'),
        cell: (e) => [
          valueBadge('event', e.event, 'info'),
          e.applied ? '' : h('span', { class: 'muted' }, t('message.notApplied')),
        ],
      },
      {
        label: t('messages.reservation'),
        cell: (e) => h('a', { href: `#/reservations/${e.reservation}` }, `#${e.reservation}`),
      },
      { label: t('message.recorded'), cell: (e) => timeEl(e.createdAt) },
      { label: t('message.reason'), cell: (e) => (e.reason ? h('span', { translate: 'no' }, e.reason) : '') },
      {
        label: t('message.deliveries'),
        cell: (e) =>
          e.deliveries.length
            ? e.deliveries.map((d) =>
                h(
                  'span',
                  { class: 'delivery', title: d.lastError ?? '' },
                  valueBadge('delivery', d.state),
                  h('span', { translate: 'no' }, ` ${d.endpoint}`),
                  ` (${d.attempts})`,
                ),
              )
            : h('span', { class: 'muted' }, t('message.noWebhook')),
      },
    ],
    m.events,
  );
}

async function textPanel(id) {
  const box = h('div', { class: 'decoded' });
  try {
    const x = await api(`/api/messages/${encodeURIComponent(id)}/text`);
    fill(
      box,
      x.warnings.length || x.truncated || x.htmlDerived
        ? h(
            'p',
            { class: 'muted small' },
            [
              x.htmlDerived ? t('message.htmlDerived') : '',
              x.truncated ? t('message.truncated') : '',
              x.warnings.length ? t('message.parserNotes', { notes: x.warnings.join(', ') }) : '',
            ].join(''),
          )
        : null,
      h(
        'pre',
        { class: 'mail-text', tabindex: '0', 'aria-label': t('message.decodedText'), translate: 'no' },
        x.text || t('message.emptyBody'),
      ),
    );
  } catch (err) {
    if (err.status === 401 || err.status === 403) throw err;
    fill(box, errorBox(err));
  }
  return box;
}

export async function renderMessage(el, id) {
  const m = await api(`/api/messages/${encodeURIComponent(id)}`);
  const status = statusLine();
  const settled = (s) => s !== 'pending' && s !== 'failed';
  const after = async (what) => {
    if (what === 'replay') {
      // Follow the replay until the pipeline settles it, then show the result.
      for (let i = 0; i < 120; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const now = await api(`/api/messages/${encodeURIComponent(id)}`).catch(() => null);
        if (now && settled(now.state)) break;
      }
    }
    window.dispatchEvent(new Event('ota:refresh'));
  };
  const x = m.extraction;
  fill(
    el,
    h('p', { class: 'crumbs' }, h('a', { href: '#/messages' }, `← ${t('nav.messages')}`)),
    h(
      'div',
      { class: 'view-head' },
      m.subject
        ? h('h1', { class: 'subject', translate: 'no' }, m.subject)
        : h('h1', { class: 'subject' }, t('common.noSubject')),
      h(
        'p',
        { class: 'tags' },
        valueBadge('state', m.state),
        m.handledAt ? badge(t('messages.handled'), 'muted') : null,
        ' ',
        m.kind ? valueLabel('kind', m.kind) : '',
        m.source ? [' · ', sourceLabel(m.source)] : null,
        m.event ? ` · ${valueLabel('event', m.event)}` : '',
        ' · ',
        tn('message.receivedAt', { time: timeEl(m.receivedAt) }),
      ),
    ),
    messageActions(m, { status, after }),
    status,
    m.errorCode
      ? h(
          'div',
          { class: 'callout tone-bad' },
          h('strong', { translate: 'no' }, m.errorCode),
          ' ',
          t('message.afterAttempts', { n: m.attempts }),
          ' ',
          h('span', { lang: 'en', translate: 'no' }, m.error ?? ''),
          h('br'),
          h('span', { class: 'small' }, m.state === 'dead' ? t('message.deadHint') : t('message.failedHint')),
        )
      : null,
    verificationBox(m.meta?.verification),
    x?.needsReview
      ? h(
          'div',
          { class: 'callout tone-warn' },
          h('strong', {}, t('message.needsReviewLead')),
          (x.reviewReasons ?? []).length ? reasonChips(x.reviewReasons) : t('message.seeFields'),
          h('p', {}, t('message.needsReviewHint')),
          reasonHelpNotes(x.reviewReasons ?? []),
        )
      : null,
    h(
      'div',
      { class: 'split' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'x-title' },
        h('h2', { id: 'x-title' }, t('message.extracted')),
        extractionPanel(x),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 't-title' },
        h('h2', { id: 't-title' }, t('message.decodedText')),
        m.rawAvailable ? await textPanel(m.id) : h('p', { class: 'muted' }, t('message.purged')),
      ),
    ),
    h(
      'div',
      { class: 'split' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'e-title' },
        h('h2', { id: 'e-title' }, t('message.envelope')),
        envelopePanel(m),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'a-title' },
        h('h2', { id: 'a-title' }, t('message.senderAuth')),
        authPanel(m.auth),
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'ev-title' },
      h('h2', { id: 'ev-title' }, t('message.eventsTitle')),
      eventsPanel(m),
    ),
  );
}
