// Reservations: search by store, visit date, name / reservation id / phone;
// one reservation with its event history (and the deliveries of each event).
import {
  fill,
  SOURCES,
  api,
  fmtDate,
  defList,
  errorBox,
  h,
  inputField,
  selectField,
  sourceLabel,
  table,
  timeEl,
  valueBadge,
  valueLabel,
  sourceName,
} from './lib.js';
import { t } from './i18n.js';
import { reasonChips, reasonHelpNotes } from './reasons.js';

const PAGE = 50;

function searchForm(params) {
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': t('reservations.search') },
    inputField('r-q', t('reservations.query'), 'q', params.get('q'), { type: 'search', autocomplete: 'off' }),
    inputField('r-store', t('common.store'), 'store', params.get('store'), {
      type: 'search',
      autocomplete: 'off',
      spellcheck: 'false',
    }),
    inputField('r-from', t('reservations.visitFrom'), 'visitFrom', params.get('visitFrom'), { type: 'date' }),
    inputField('r-to', t('reservations.visitTo'), 'visitTo', params.get('visitTo'), { type: 'date' }),
    selectField(
      'r-source',
      t('common.site'),
      'source',
      SOURCES.map((s) => [s, sourceName(s)]),
      params.get('source') ?? '',
    ),
    selectField(
      'r-status',
      t('reservations.status'),
      'status',
      ['booked', 'requested', 'cancelled'].map((v) => [v, valueLabel('status', v)]),
      params.get('status') ?? '',
    ),
    h(
      'div',
      { class: 'field check' },
      h('input', {
        type: 'checkbox',
        id: 'r-review',
        name: 'needsReview',
        value: 'true',
        checked: params.get('needsReview') === 'true',
      }),
      h('label', { for: 'r-review' }, t('reservations.reviewOnly')),
    ),
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'submit', class: 'primary' }, t('common.search')),
      h('a', { href: '#/reservations', class: 'button' }, t('common.clear')),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const qs = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) qs.set(k, String(v).trim());
    location.hash = `#/reservations${qs.size ? `?${qs}` : ''}`;
  });
  return form;
}

/** "2026年12月20日(日) 19:00" for a visit; "日付不明" when the mail had no date. */
function visit(r) {
  return `${r.visitDate ? fmtDate(r.visitDate) : t('reservations.noDate')} ${r.visitTime ?? ''}`.trim();
}

const people = (n) => (n === null || n === undefined ? '—' : t('common.people', { n }));
const raw = (v) => (v === null || v === undefined || v === '' ? null : h('span', { translate: 'no' }, String(v)));

const columns = () => [
  {
    label: t('reservations.visit'),
    cell: (r) => h('a', { href: `#/reservations/${r.id}`, class: 'row-link' }, visit(r)),
  },
  {
    label: t('reservations.guest'),
    cell: (r) => [
      raw(r.guestName) ?? h('span', { class: 'muted' }, '—'),
      r.guestNameKana ? h('span', { class: 'sub', translate: 'no' }, r.guestNameKana) : null,
    ],
  },
  { label: t('reservations.party'), class: 'num', cell: (r) => people(r.partySize) },
  {
    label: t('reservations.status'),
    cell: (r) => [valueBadge('status', r.status), r.needsReview ? valueBadge('state', 'review', 'warn') : null],
  },
  { label: t('common.site'), cell: (r) => sourceLabel(r.source) },
  { label: t('field.reservationId'), class: 'mono', cell: (r) => raw(r.reservationId) },
  { label: t('common.store'), cell: (r) => raw(r.store) ?? '—' },
  { label: t('reservations.updated'), cell: (r) => timeEl(r.updatedAt, { short: true }) },
];

export async function renderReservations(el, params) {
  const query = { limit: PAGE };
  for (const k of ['q', 'store', 'visitFrom', 'visitTo', 'source', 'status', 'needsReview'])
    if (params.get(k)) query[k] = params.get(k);
  const page = await api('/api/reservations', { query });
  const items = [...page.items];
  const holder = h(
    'div',
    {},
    table(t('nav.reservations'), columns(), items, { empty: t('reservations.noMatch'), className: 'reservations' }),
  );
  let cursor = page.nextCursor;
  const more = h('button', { type: 'button', hidden: !cursor }, t('common.loadMore'));
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const next = await api('/api/reservations', { query: { ...query, cursor } });
      items.push(...next.items);
      cursor = next.nextCursor;
      holder.replaceChildren(table(t('nav.reservations'), columns(), items, { className: 'reservations' }));
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
      h('h1', {}, t('nav.reservations')),
      h('p', { class: 'muted' }, t('reservations.lead')),
    ),
    searchForm(params),
    holder,
    h('p', { class: 'more' }, more),
  );
}

function changesList(changes) {
  const entries = Object.entries(changes ?? {});
  if (!entries.length) return h('span', { class: 'muted' }, '—');
  return h(
    'ul',
    { class: 'plain' },
    entries.map(([f, c]) =>
      h(
        'li',
        {},
        h('strong', {}, valueLabel('field', f)),
        ': ',
        h('span', { translate: 'no' }, `${c?.from ?? '—'} → ${c?.to ?? '—'}`),
      ),
    ),
  );
}

export async function renderReservation(el, id) {
  const r = await api(`/api/reservations/${encodeURIComponent(id)}`);
  fill(
    el,
    h('p', { class: 'crumbs' }, h('a', { href: '#/reservations' }, `← ${t('nav.reservations')}`)),
    h(
      'div',
      { class: 'view-head' },
      h(
        'h1',
        {},
        raw(r.guestName) ?? t('reservations.noName'),
        r.guestNameKana ? h('span', { class: 'sub', translate: 'no' }, ` ${r.guestNameKana}`) : null,
      ),
      h(
        'p',
        { class: 'tags' },
        valueBadge('status', r.status),
        r.needsReview ? valueBadge('state', 'review', 'warn') : null,
        ' ',
        sourceLabel(r.source),
        ' · ',
        raw(r.reservationId),
      ),
    ),
    r.needsReview
      ? h(
          'div',
          { class: 'callout tone-warn' },
          h('strong', {}, t('message.needsReviewLead')),
          r.reviewReasons.length ? reasonChips(r.reviewReasons) : '—',
          reasonHelpNotes(r.reviewReasons),
          h('a', { href: `#/messages/${encodeURIComponent(r.lastMessage)}` }, t('reservations.openMessage')),
        )
      : null,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'rd-title' },
      h('h2', { id: 'rd-title' }, t('reservations.current')),
      defList([
        [t('reservations.visit'), visit(r)],
        [t('field.partySize'), r.partySize === null ? null : people(r.partySize)],
        [t('field.guestName'), raw(r.guestName)],
        [t('field.guestNameKana'), raw(r.guestNameKana)],
        [t('field.phone'), r.phone ? h('span', { class: 'mono', translate: 'no' }, r.phone) : null],
        [t('field.course'), raw(r.course)],
        [t('field.seats'), raw(r.seats)],
        [t('field.notes'), raw(r.notes)],
        [t('common.store'), raw(r.store)],
        [t('field.storeName'), raw(r.storeName)],
        [t('reservations.created'), timeEl(r.createdAt)],
        [t('reservations.updated'), timeEl(r.updatedAt)],
        [
          t('reservations.lastMessage'),
          h(
            'a',
            { href: `#/messages/${encodeURIComponent(r.lastMessage)}`, class: 'mono', translate: 'no' },
            r.lastMessage,
          ),
        ],
      ]),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'rh-title' },
      h('h2', { id: 'rh-title' }, t('reservations.history')),
      table(
        t('reservations.historyCaption'),
        [
          { label: t('message.recorded'), cell: (e) => timeEl(e.createdAt) },
          {
            label: t('field.event'),
            cell: (e) => [
              valueBadge('event', e.event, 'info'),
              e.applied ? '' : h('span', { class: 'muted small' }, t('reservations.notApplied')),
            ],
          },
          { label: t('reservations.mailSent'), cell: (e) => timeEl(e.sentAt, { short: true }) },
          { label: t('message.changes'), cell: (e) => changesList(e.changes) },
          { label: t('message.reason'), cell: (e) => raw(e.reason) ?? '' },
          {
            label: t('reservations.message'),
            cell: (e) =>
              h(
                'a',
                { href: `#/messages/${encodeURIComponent(e.message)}`, class: 'mono small', translate: 'no' },
                e.message,
              ),
          },
          {
            label: t('reservations.webhooks'),
            cell: (e) =>
              e.deliveries.length
                ? e.deliveries.map((d) =>
                    h(
                      'span',
                      { class: 'delivery', title: d.lastError ?? '' },
                      valueBadge('delivery', d.state),
                      ` ${d.attempts}×`,
                    ),
                  )
                : h('span', { class: 'muted' }, t('common.none')),
          },
        ],
        r.events,
        { empty: t('reservations.noEvents') },
      ),
    ),
  );
}
