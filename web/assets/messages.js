// Messages: the recent mail with its outcome (filterable), and one message in
// detail — envelope, sender authentication, extracted fields beside the
// decoded text, events and deliveries — with the actions.
import {
  fill,
  KINDS,
  MESSAGE_STATES,
  SOURCES,
  SOURCE_NAMES,
  api,
  badge,
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
} from './lib.js';

const PAGE = 50;

function filtersForm(params) {
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter messages' },
    selectField('f-state', 'State', 'state', MESSAGE_STATES, params.get('state') ?? ''),
    selectField('f-kind', 'Kind', 'kind', KINDS, params.get('kind') ?? ''),
    selectField(
      'f-source',
      'Source',
      'source',
      SOURCES.map((s) => [s, SOURCE_NAMES[s]]),
      params.get('source') ?? '',
    ),
    inputField('f-store', 'Store', 'store', params.get('store'), {
      type: 'search',
      autocomplete: 'off',
      spellcheck: 'false',
    }),
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('a', { href: '#/messages', class: 'button' }, 'Clear'),
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

const COLUMNS = [
  {
    label: 'Received',
    cell: (m) => h('a', { href: `#/messages/${encodeURIComponent(m.id)}`, class: 'row-link' }, fmtTime(m.receivedAt)),
  },
  {
    label: 'Outcome',
    cell: (m) => [
      badge(m.state),
      m.handledAt ? h('span', { class: 'badge tone-muted' }, 'handled') : null,
      m.errorCode ? h('span', { class: 'mono small' }, ` ${m.errorCode}`) : null,
    ],
  },
  { label: 'Kind', cell: (m) => [m.kind ?? '—', m.event ? h('span', { class: 'muted' }, ` · ${m.event}`) : null] },
  { label: 'Source', cell: (m) => sourceLabel(m.source) },
  { label: 'Store', cell: (m) => m.store ?? h('span', { class: 'muted' }, '—') },
  { label: 'Subject', class: 'subject', cell: (m) => m.subject ?? h('span', { class: 'muted' }, '(none)') },
  { label: 'Reservation', class: 'mono', cell: (m) => m.reservationId ?? h('span', { class: 'muted' }, '—') },
];

export async function renderMessages(el, params) {
  const query = { limit: PAGE };
  for (const k of ['state', 'kind', 'source', 'store']) if (params.get(k)) query[k] = params.get(k);
  const page = await api('/api/messages', { query });
  const items = [...page.items];
  const holder = h(
    'div',
    {},
    table('Recent messages', COLUMNS, messageRows(items), {
      empty: 'No message matches these filters.',
      className: 'messages',
    }),
  );
  let cursor = page.nextCursor;
  const more = h('button', { type: 'button', hidden: !cursor }, 'Load more');
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const next = await api('/api/messages', { query: { ...query, cursor } });
      items.push(...next.items);
      cursor = next.nextCursor;
      holder.replaceChildren(table('Recent messages', COLUMNS, messageRows(items), { className: 'messages' }));
      more.hidden = !cursor;
    } catch (err) {
      fill(holder, errorBox(err));
    } finally {
      more.disabled = false;
    }
  });
  fill(
    el,
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, 'Messages'),
      h('p', { class: 'muted' }, 'Newest first. Times in JST.'),
    ),
    filtersForm(params),
    holder,
    h('p', { class: 'more' }, more),
  );
}

const FIELDS = [
  ['reservationId', 'Reservation id'],
  ['event', 'Event'],
  ['visitDate', 'Visit date'],
  ['visitTime', 'Visit time'],
  ['partySize', 'Party size'],
  ['guestName', 'Guest name'],
  ['guestNameKana', 'Kana'],
  ['phone', 'Phone'],
  ['course', 'Course'],
  ['seats', 'Seats'],
  ['notes', 'Notes'],
  ['storeName', 'Store name'],
];

function extractionPanel(x) {
  if (!x) return h('p', { class: 'muted' }, 'Not extracted yet.');
  const changes = Object.entries(x.changes ?? {});
  return h(
    'div',
    {},
    h(
      'table',
      { class: 'fields' },
      h('caption', { class: 'visually-hidden' }, 'Extracted fields'),
      h(
        'tbody',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, 'Kind'),
          h('td', {}, x.kind, x.source ? [' · ', sourceLabel(x.source)] : ''),
        ),
        FIELDS.map(([k, label]) =>
          h(
            'tr',
            { class: x[k] === null || x[k] === undefined ? 'missing' : '' },
            h('th', { scope: 'row' }, label),
            h(
              'td',
              { 'data-field': k },
              x[k] === null || x[k] === undefined ? h('span', { class: 'muted' }, '—') : String(x[k]),
            ),
          ),
        ),
        changes.length
          ? h(
              'tr',
              {},
              h('th', { scope: 'row' }, 'Changes'),
              h(
                'td',
                {},
                h(
                  'ul',
                  { class: 'plain' },
                  changes.map(([f, c]) => h('li', {}, h('strong', {}, f), `: ${c.from ?? '—'} → ${c.to ?? '—'}`)),
                ),
              ),
            )
          : null,
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, 'Needs review'),
          h('td', {}, x.needsReview ? [badge('yes', 'warn'), ' ', (x.reviewReasons ?? []).join(', ')] : 'no'),
        ),
      ),
    ),
  );
}

function authPanel(auth) {
  if (!auth) return h('p', { class: 'muted' }, 'No sender authentication recorded.');
  if (!auth.checked)
    return h('p', { class: 'muted' }, 'Sender authentication is off on this node (auth.resolver = none).');
  const tone = (r) => (r === 'pass' ? 'ok' : r === 'none' || r === 'neutral' ? 'muted' : 'bad');
  return defList([
    ['SPF', [badge(auth.spf?.result, tone(auth.spf?.result)), ' ', auth.spf?.domain ?? '']],
    [
      'DKIM',
      (auth.dkim ?? []).length
        ? h(
            'ul',
            { class: 'plain' },
            auth.dkim.map((d) => h('li', {}, badge(d.result, tone(d.result)), ' ', d.domain ?? d.signingDomain ?? '')),
          )
        : 'no signature',
    ],
    [
      'DMARC',
      [
        badge(auth.dmarc?.result, tone(auth.dmarc?.result)),
        ' ',
        auth.dmarc?.domain ?? '',
        auth.dmarc?.policy ? ` (p=${auth.dmarc.policy})` : '',
      ],
    ],
    auth.arc && auth.arc.result !== 'none'
      ? ['ARC', [badge(auth.arc.result, tone(auth.arc.result)), ' ', (auth.arc.sealers ?? []).join(', ')]]
      : null,
    auth.site
      ? [
          'Site verdict',
          [
            badge(auth.site.trusted ? 'trusted' : 'not trusted', auth.site.trusted ? 'ok' : 'bad'),
            ' ',
            auth.site.source,
            auth.site.via ? ` via ${auth.site.via}` : '',
          ],
        ]
      : null,
    auth.error ? ['Error', auth.error] : null,
  ]);
}

function envelopePanel(m) {
  const e = m.envelope ?? {};
  return defList([
    ['MAIL FROM', h('span', { class: 'mono' }, e.mailFrom ?? '<>')],
    ['RCPT TO', h('span', { class: 'mono' }, (e.rcptTo ?? []).join(', '))],
    ['Client', h('span', { class: 'mono' }, `${e.clientIp ?? '?'}${e.helo ? ` (HELO ${e.helo})` : ''}`)],
    [
      'TLS',
      e.tls
        ? `${e.tls.protocol ?? ''} ${e.tls.cipher ?? ''}`.trim() || 'yes'
        : h('span', { class: 'badge tone-warn' }, 'plaintext'),
    ],
    ['From header', m.from],
    ['Message-ID', h('span', { class: 'mono' }, m.messageId ?? '—')],
    ['Sent (Date)', timeEl(m.sentAt)],
    ['Received', timeEl(m.receivedAt)],
    ['Processed', timeEl(m.processedAt)],
    ['Size', `${m.size.toLocaleString()} bytes`],
    ['Store', m.store],
    ['Spool id', h('span', { class: 'mono' }, m.id)],
  ]);
}

/** Verification code and link, large, for the person confirming the forwarding. */
export function verificationBox(v) {
  if (!v || (!v.code && !v.url)) return null;
  const safeUrl = v.url && /^https?:\/\//i.test(v.url) ? v.url : null;
  return h(
    'div',
    { class: 'verification', role: 'note' },
    h('p', { class: 'verification-title' }, 'Forwarding verification — confirm it in the mailbox settings'),
    v.code ? h('p', {}, h('span', { class: 'muted' }, 'Code '), h('output', { class: 'code' }, v.code)) : null,
    v.url
      ? h(
          'p',
          { class: 'verification-url' },
          h('span', { class: 'muted' }, 'Link '),
          safeUrl
            ? h('a', { href: safeUrl, target: '_blank', rel: 'noopener noreferrer' }, v.url)
            : h('span', { class: 'mono' }, v.url),
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
        say(`${err.code ?? 'Error'}: ${err.message}`, 'bad');
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
        'Replay',
        async () => {
          await api(`/api/messages/${encodeURIComponent(m.id)}/replay`, { method: 'POST' });
          say('Queued for processing again…', 'info');
          after?.('replay');
        },
        { primary: m.state === 'dead' || m.state === 'failed', title: 'Process this message again from its raw bytes' },
      ),
    );
  }
  if (m.state !== 'pending' && m.state !== 'failed' && !m.handledAt) {
    buttons.push(
      act(
        'Mark handled',
        async () => {
          await api(`/api/messages/${encodeURIComponent(m.id)}/handled`, { method: 'POST' });
          say('Marked handled.');
          after?.('handled');
        },
        { primary: m.state === 'review', title: 'A person dealt with it: remove it from the review queue' },
      ),
    );
  }
  if (!compact && m.rawAvailable !== false)
    buttons.push(act('Download .eml', () => download(`/api/messages/${encodeURIComponent(m.id)}/raw`, `${m.id}.eml`)));
  return h('div', { class: 'actions' }, buttons);
}

function eventsPanel(m) {
  if (!m.events?.length) return h('p', { class: 'muted' }, 'This message changed no reservation.');
  return table(
    'Reservation events from this message',
    [
      {
        label: 'Event',
        cell: (e) => [
          badge(e.event, 'info'),
          e.applied ? '' : h('span', { class: 'muted' }, ' (older than current state: not applied)'),
        ],
      },
      { label: 'Reservation', cell: (e) => h('a', { href: `#/reservations/${e.reservation}` }, `#${e.reservation}`) },
      { label: 'Recorded', cell: (e) => timeEl(e.createdAt) },
      { label: 'Reason', cell: (e) => e.reason ?? '' },
      {
        label: 'Deliveries',
        cell: (e) =>
          e.deliveries.length
            ? e.deliveries.map((d) =>
                h(
                  'span',
                  { class: 'delivery', title: d.lastError ?? '' },
                  badge(d.state),
                  ` ${d.endpoint} (${d.attempts})`,
                ),
              )
            : h('span', { class: 'muted' }, 'no webhook'),
      },
    ],
    m.events,
  );
}

async function textPanel(id) {
  const box = h('div', { class: 'decoded' });
  try {
    const t = await api(`/api/messages/${encodeURIComponent(id)}/text`);
    fill(
      box,
      t.warnings.length || t.truncated || t.htmlDerived
        ? h(
            'p',
            { class: 'muted small' },
            [
              t.htmlDerived ? 'From the HTML part. ' : '',
              t.truncated ? 'Cut to the first 64 KB. ' : '',
              t.warnings.length ? `Parser notes: ${t.warnings.join(', ')}` : '',
            ].join(''),
          )
        : null,
      h('pre', { class: 'mail-text', tabindex: '0', 'aria-label': 'Decoded message text' }, t.text || '(empty body)'),
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
    h('p', { class: 'crumbs' }, h('a', { href: '#/messages' }, '← Messages')),
    h(
      'div',
      { class: 'view-head' },
      h('h1', { class: 'subject' }, m.subject ?? '(no subject)'),
      h(
        'p',
        { class: 'tags' },
        badge(m.state),
        m.handledAt ? badge('handled', 'muted') : null,
        ' ',
        m.kind ?? '',
        m.source ? [' · ', sourceLabel(m.source)] : null,
        m.event ? ` · ${m.event}` : '',
        ' · received ',
        timeEl(m.receivedAt),
      ),
    ),
    messageActions(m, { status, after }),
    status,
    m.errorCode
      ? h(
          'div',
          { class: 'callout tone-bad' },
          h('strong', {}, m.errorCode),
          ` after ${m.attempts} attempt(s): `,
          m.error ?? '',
          h('br'),
          h(
            'span',
            { class: 'small' },
            m.state === 'dead' ? 'Fix the cause, then Replay.' : 'Retrying automatically; Replay retries now.',
          ),
        )
      : null,
    verificationBox(m.meta?.verification),
    x?.needsReview
      ? h(
          'div',
          { class: 'callout tone-warn' },
          h('strong', {}, 'Needs review: '),
          (x.reviewReasons ?? []).join(', ') || 'see the fields',
          '. Check the fields against the text, fix the booking in the reservation system if needed, then Mark handled.',
        )
      : null,
    h(
      'div',
      { class: 'split' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'x-title' },
        h('h2', { id: 'x-title' }, 'Extracted'),
        extractionPanel(x),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 't-title' },
        h('h2', { id: 't-title' }, 'Decoded text'),
        m.rawAvailable ? await textPanel(m.id) : h('p', { class: 'muted' }, 'The raw message was purged (retention).'),
      ),
    ),
    h(
      'div',
      { class: 'split' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'e-title' },
        h('h2', { id: 'e-title' }, 'Envelope'),
        envelopePanel(m),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'a-title' },
        h('h2', { id: 'a-title' }, 'Sender authentication'),
        authPanel(m.auth),
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'ev-title' },
      h('h2', { id: 'ev-title' }, 'Events and deliveries'),
      eventsPanel(m),
    ),
  );
}
