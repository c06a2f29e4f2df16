// Reservations: search by store, visit date, name / reservation id / phone;
// one reservation with its event history (and the deliveries of each event).
import {
  fill,
  SOURCES,
  SOURCE_NAMES,
  api,
  badge,
  defList,
  errorBox,
  h,
  inputField,
  selectField,
  sourceLabel,
  table,
  timeEl,
} from './lib.js';

const PAGE = 50;

function searchForm(params) {
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Search reservations' },
    inputField('r-q', 'Name, reservation id or phone', 'q', params.get('q'), { type: 'search', autocomplete: 'off' }),
    inputField('r-store', 'Store', 'store', params.get('store'), {
      type: 'search',
      autocomplete: 'off',
      spellcheck: 'false',
    }),
    inputField('r-from', 'Visit from', 'visitFrom', params.get('visitFrom'), { type: 'date' }),
    inputField('r-to', 'Visit to', 'visitTo', params.get('visitTo'), { type: 'date' }),
    selectField(
      'r-source',
      'Source',
      'source',
      SOURCES.map((s) => [s, SOURCE_NAMES[s]]),
      params.get('source') ?? '',
    ),
    selectField('r-status', 'Status', 'status', ['booked', 'requested', 'cancelled'], params.get('status') ?? ''),
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
      h('label', { for: 'r-review' }, 'Needs review only'),
    ),
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Search'),
      h('a', { href: '#/reservations', class: 'button' }, 'Clear'),
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

const COLUMNS = [
  {
    label: 'Visit',
    cell: (r) =>
      h(
        'a',
        { href: `#/reservations/${r.id}`, class: 'row-link' },
        `${r.visitDate ?? '????-??-??'} ${r.visitTime ?? ''}`.trim(),
      ),
  },
  {
    label: 'Guest',
    cell: (r) => [
      r.guestName ?? h('span', { class: 'muted' }, '—'),
      r.guestNameKana ? h('span', { class: 'sub' }, r.guestNameKana) : null,
    ],
  },
  { label: 'Party', class: 'num', cell: (r) => (r.partySize === null ? '—' : `${r.partySize}名`) },
  { label: 'Status', cell: (r) => [badge(r.status), r.needsReview ? badge('review', 'warn') : null] },
  { label: 'Source', cell: (r) => sourceLabel(r.source) },
  { label: 'Reservation id', class: 'mono', cell: (r) => r.reservationId },
  { label: 'Store', cell: (r) => r.store ?? '—' },
  { label: 'Updated', cell: (r) => timeEl(r.updatedAt, { short: true }) },
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
    table('Reservations', COLUMNS, items, { empty: 'No reservation matches.', className: 'reservations' }),
  );
  let cursor = page.nextCursor;
  const more = h('button', { type: 'button', hidden: !cursor }, 'Load more');
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const next = await api('/api/reservations', { query: { ...query, cursor } });
      items.push(...next.items);
      cursor = next.nextCursor;
      holder.replaceChildren(table('Reservations', COLUMNS, items, { className: 'reservations' }));
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
      h('h1', {}, 'Reservations'),
      h('p', { class: 'muted' }, 'Newest first. Visit dates are local dates in Japan.'),
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
    entries.map(([f, c]) => h('li', {}, h('strong', {}, f), `: ${c?.from ?? '—'} → ${c?.to ?? '—'}`)),
  );
}

export async function renderReservation(el, id) {
  const r = await api(`/api/reservations/${encodeURIComponent(id)}`);
  fill(
    el,
    h('p', { class: 'crumbs' }, h('a', { href: '#/reservations' }, '← Reservations')),
    h(
      'div',
      { class: 'view-head' },
      h(
        'h1',
        {},
        r.guestName ?? '(no name)',
        r.guestNameKana ? h('span', { class: 'sub' }, ` ${r.guestNameKana}`) : null,
      ),
      h(
        'p',
        { class: 'tags' },
        badge(r.status),
        r.needsReview ? badge('needs review', 'warn') : null,
        ' ',
        sourceLabel(r.source),
        ` · ${r.reservationId}`,
      ),
    ),
    r.needsReview
      ? h(
          'div',
          { class: 'callout tone-warn' },
          h('strong', {}, 'Needs review: '),
          r.reviewReasons.join(', ') || '—',
          '. ',
          h('a', { href: `#/messages/${encodeURIComponent(r.lastMessage)}` }, 'Open the message'),
        )
      : null,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'rd-title' },
      h('h2', { id: 'rd-title' }, 'Current state'),
      defList([
        ['Visit', `${r.visitDate ?? '—'} ${r.visitTime ?? ''}`],
        ['Party size', r.partySize === null ? null : `${r.partySize}名`],
        ['Guest', r.guestName],
        ['Kana', r.guestNameKana],
        ['Phone', r.phone ? h('span', { class: 'mono' }, r.phone) : null],
        ['Course', r.course],
        ['Seats', r.seats],
        ['Notes', r.notes],
        ['Store', r.store],
        ['Store name', r.storeName],
        ['Created', timeEl(r.createdAt)],
        ['Updated', timeEl(r.updatedAt)],
        [
          'Last message',
          h('a', { href: `#/messages/${encodeURIComponent(r.lastMessage)}`, class: 'mono' }, r.lastMessage),
        ],
      ]),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'rh-title' },
      h('h2', { id: 'rh-title' }, 'Event history'),
      table(
        'Events of this reservation, oldest first',
        [
          { label: 'Recorded', cell: (e) => timeEl(e.createdAt) },
          {
            label: 'Event',
            cell: (e) => [
              badge(e.event, 'info'),
              e.applied ? '' : h('span', { class: 'muted small' }, ' not applied (older)'),
            ],
          },
          { label: 'Mail sent', cell: (e) => timeEl(e.sentAt, { short: true }) },
          { label: 'Changes', cell: (e) => changesList(e.changes) },
          { label: 'Reason', cell: (e) => e.reason ?? '' },
          {
            label: 'Message',
            cell: (e) =>
              h('a', { href: `#/messages/${encodeURIComponent(e.message)}`, class: 'mono small' }, e.message),
          },
          {
            label: 'Webhooks',
            cell: (e) =>
              e.deliveries.length
                ? e.deliveries.map((d) =>
                    h('span', { class: 'delivery', title: d.lastError ?? '' }, badge(d.state), ` ${d.attempts}×`),
                  )
                : h('span', { class: 'muted' }, 'none'),
          },
        ],
        r.events,
        { empty: 'No events.' },
      ),
    ),
  );
}
