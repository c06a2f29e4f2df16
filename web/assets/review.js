// Review queue: the mail a person has to act on, each with the action to take.
import { fill, api, badge, h, sourceLabel, statusLine, table, timeEl } from './lib.js';
import { messageActions, verificationBox } from './messages.js';

const refresh = () => window.dispatchEvent(new Event('ota:refresh'));

function openLink(m) {
  return h('a', { href: `#/messages/${encodeURIComponent(m.id)}` }, m.subject ?? '(no subject)');
}

function section(id, title, hint, count, body) {
  return h(
    'section',
    { class: 'panel', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title, ' ', h('span', { class: 'count' }, String(count))),
    h('p', { class: 'muted hint' }, hint),
    body,
  );
}

export async function renderReview(el) {
  const q = await api('/api/review');
  const status = statusLine();
  const actions = (m) => messageActions(m, { status, after: refresh, compact: true });

  const verification = q.verification.length
    ? h(
        'ul',
        { class: 'verify-list' },
        q.verification.map((m) =>
          h(
            'li',
            { class: 'verify-item' },
            h(
              'p',
              {},
              h('strong', {}, m.store ?? 'no store'),
              m.source ? [' · ', sourceLabel(m.source)] : null,
              ' · ',
              timeEl(m.receivedAt, { short: true }),
            ),
            h('p', { class: 'small' }, openLink(m), h('span', { class: 'muted' }, ` from ${m.from ?? '?'}`)),
            verificationBox(m.verification) ??
              h('p', { class: 'muted' }, 'No code or link found: open the message and read it.'),
            actions(m),
          ),
        ),
      )
    : h('p', { class: 'empty' }, 'No verification mail waiting.');

  const review = table(
    'Mails that need review',
    [
      { label: 'Received', cell: (m) => timeEl(m.receivedAt, { short: true }) },
      { label: 'Store', cell: (m) => [m.store ?? '—', ' · ', sourceLabel(m.source)] },
      {
        label: 'Mail',
        class: 'subject',
        cell: (m) => [
          openLink(m),
          m.guestName || m.visitDate
            ? h(
                'span',
                { class: 'sub' },
                [m.guestName, m.visitDate, m.visitTime, m.partySize ? `${m.partySize}名` : null]
                  .filter(Boolean)
                  .join(' · '),
              )
            : null,
        ],
      },
      {
        label: 'Why',
        cell: (m) =>
          m.reviewReasons.length
            ? h(
                'ul',
                { class: 'chips' },
                m.reviewReasons.map((r) => h('li', {}, r)),
              )
            : m.kind === 'unknown'
              ? 'not recognised as a reservation'
              : '—',
      },
      { label: 'Action', cell: (m) => actions(m) },
    ],
    q.needsReview,
    { empty: 'Nothing needs review.' },
  );

  const failed = table(
    'Failed and dead mails',
    [
      { label: 'Received', cell: (m) => timeEl(m.receivedAt, { short: true }) },
      { label: 'State', cell: (m) => [badge(m.state), h('span', { class: 'sub' }, `${m.attempts} attempt(s)`)] },
      {
        label: 'Mail',
        class: 'subject',
        cell: (m) => [
          openLink(m),
          h('span', { class: 'sub' }, [m.store, m.source].filter(Boolean).join(' · ') || m.from || ''),
        ],
      },
      {
        label: 'Error',
        cell: (m) => [
          h('strong', { class: 'mono small' }, m.errorCode ?? '?'),
          h('span', { class: 'sub' }, m.error ?? ''),
        ],
      },
      {
        label: 'Action',
        cell: (m) => [
          actions(m),
          m.state === 'failed'
            ? h('span', { class: 'sub' }, 'retries by itself, next ', timeEl(m.nextAttemptAt, { short: true }))
            : null,
        ],
      },
    ],
    q.failed,
    { empty: 'No failed mail.' },
  );

  fill(
    el,
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, 'Review queue'),
      h('p', { class: 'muted' }, 'Mail a person has to act on. Refreshes every 30 s.'),
    ),
    status,
    section(
      'verify',
      'Forwarding verification',
      'A mailbox (Gmail, じゃらん …) asks to confirm forwarding to this node. Enter the code or open the link in that mailbox, then Mark handled.',
      q.verification.length,
      verification,
    ),
    section(
      'needs-review',
      'Needs review',
      'Imported, but some data is missing or doubtful. Compare with the mail text, correct the booking in the reservation system if needed, then Mark handled.',
      q.needsReview.length,
      review,
    ),
    section(
      'failed',
      'Failed and dead',
      'Could not be processed. Dead mail will not be retried: fix the cause (see the error), then Replay. Mark handled to dismiss mail you dealt with by hand.',
      q.failed.length,
      failed,
    ),
  );
}
