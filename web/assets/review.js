// Review queue: the mail a person has to act on, each with the action to take.
import { fill, api, fmtDate, h, sourceLabel, statusLine, table, timeEl, valueBadge } from './lib.js';
import { t, tn } from './i18n.js';
import { reasonChips, reasonHelpNotes } from './reasons.js';
import { messageActions, verificationBox } from './messages.js';

const refresh = () => window.dispatchEvent(new Event('ota:refresh'));

function openLink(m) {
  return m.subject
    ? h('a', { href: `#/messages/${encodeURIComponent(m.id)}`, translate: 'no' }, m.subject)
    : h('a', { href: `#/messages/${encodeURIComponent(m.id)}` }, t('common.noSubject'));
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
              m.store ? h('strong', { translate: 'no' }, m.store) : h('strong', {}, t('common.noStore')),
              m.source ? [' · ', sourceLabel(m.source)] : null,
              ' · ',
              timeEl(m.receivedAt, { short: true }),
            ),
            h(
              'p',
              { class: 'small' },
              openLink(m),
              ' ',
              h('span', { class: 'muted' }, tn('review.from', { from: h('span', { translate: 'no' }, m.from ?? '?') })),
            ),
            verificationBox(m.verification) ?? h('p', { class: 'muted' }, t('review.noCode')),
            actions(m),
          ),
        ),
      )
    : h('p', { class: 'empty' }, t('review.noVerification'));

  const review = table(
    t('review.needsReviewCaption'),
    [
      { label: t('common.received'), cell: (m) => timeEl(m.receivedAt, { short: true }) },
      {
        label: t('common.store'),
        cell: (m) => [h('span', { translate: 'no' }, m.store ?? '—'), ' · ', sourceLabel(m.source)],
      },
      {
        label: t('review.colMail'),
        class: 'subject',
        cell: (m) => [
          openLink(m),
          m.guestName || m.visitDate
            ? h(
                'span',
                { class: 'sub', translate: 'no' },
                [
                  m.guestName,
                  fmtDate(m.visitDate),
                  m.visitTime,
                  m.partySize ? t('common.people', { n: m.partySize }) : null,
                ]
                  .filter(Boolean)
                  .join(' · '),
              )
            : null,
        ],
      },
      {
        label: t('review.colWhy'),
        cell: (m) =>
          m.reviewReasons.length
            ? [reasonChips(m.reviewReasons), reasonHelpNotes(m.reviewReasons)]
            : m.kind === 'unknown'
              ? t('review.notRecognised')
              : '—',
      },
      { label: t('review.colAction'), cell: (m) => actions(m) },
    ],
    q.needsReview,
    { empty: t('review.nothingToReview') },
  );

  const failed = table(
    t('review.failedCaption'),
    [
      { label: t('common.received'), cell: (m) => timeEl(m.receivedAt, { short: true }) },
      {
        label: t('review.colState'),
        cell: (m) => [
          valueBadge('state', m.state),
          h('span', { class: 'sub' }, t('common.attempts', { n: m.attempts })),
        ],
      },
      {
        label: t('review.colMail'),
        class: 'subject',
        cell: (m) => [
          openLink(m),
          h('span', { class: 'sub', translate: 'no' }, [m.store, m.source].filter(Boolean).join(' · ') || m.from || ''),
        ],
      },
      {
        label: t('review.colError'),
        cell: (m) => [
          h('strong', { class: 'mono small', translate: 'no' }, m.errorCode ?? '?'),
          h('span', { class: 'sub', lang: 'en', translate: 'no' }, m.error ?? ''),
        ],
      },
      {
        label: t('review.colAction'),
        cell: (m) => [
          actions(m),
          m.state === 'failed'
            ? h('span', { class: 'sub' }, tn('review.retriesNext', { time: timeEl(m.nextAttemptAt, { short: true }) }))
            : null,
        ],
      },
    ],
    q.failed,
    { empty: t('review.noFailed') },
  );

  fill(
    el,
    h('div', { class: 'view-head' }, h('h1', {}, t('nav.review')), h('p', { class: 'muted' }, t('review.lead'))),
    status,
    section('verify', t('review.verify'), t('review.verifyHint'), q.verification.length, verification),
    section('needs-review', t('review.needsReview'), t('review.needsReviewHint'), q.needsReview.length, review),
    section('failed', t('review.failed'), t('review.failedHint'), q.failed.length, failed),
  );
}
