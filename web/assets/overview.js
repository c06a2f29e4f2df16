// Overview: is mail arriving, per store and source (staleness colours), what
// is firing, how many mails wait, when the certificate expires.
import { api, badge, fill, fmtAge, fmtHour, fmtTime, h, sourceLabel, svg, table, timeEl } from './lib.js';

/** 'ok' | 'warn' | 'bad' for an age against the thresholds. */
function staleness(iso, nowMs, t, alerting) {
  if (alerting || !iso) return 'bad';
  const minutes = (nowMs - Date.parse(iso)) / 60_000;
  if (minutes < t.amberAfterMinutes) return 'ok';
  if (minutes < t.redAfterMinutes) return 'warn';
  return 'bad';
}
const STALE_TEXT = { ok: 'Fresh', warn: 'Late', bad: 'Stale' };

function ageCell(iso, nowMs, tone) {
  return h(
    'span',
    { class: `age tone-${tone}` },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    h('span', {}, fmtAge(iso, nowMs)),
    iso ? h('time', { class: 'sub', datetime: iso }, fmtTime(iso, { short: true })) : null,
  );
}

/** Bars for one hourly series; the accessible name says the totals. */
function sparkline(hours, key, label, tone) {
  const max = Math.max(1, ...hours.map((x) => x[key]));
  const w = 4;
  const gap = 1;
  const height = 32;
  const total = hours.reduce((s, x) => s + x[key], 0);
  const chart = svg('svg', {
    viewBox: `0 0 ${hours.length * (w + gap)} ${height}`,
    preserveAspectRatio: 'none',
    class: `spark tone-${tone}`,
    role: 'img',
    'aria-label': `${label}: ${total} in 24 h, at most ${max} per hour`,
  });
  hours.forEach((x, i) => {
    const bh = x[key] === 0 ? 0.6 : Math.max(2, (x[key] / max) * (height - 2));
    chart.append(
      svg(
        'rect',
        { x: i * (w + gap), y: height - bh, width: w, height: bh, rx: 0.6 },
        svg('title', {}, `${fmtHour(x.hour)} — ${x[key]}`),
      ),
    );
  });
  return chart;
}

function card(title, value, { tone = 'neutral', sub, extra, href, id } = {}) {
  const body = [
    h('h2', { class: 'card-title' }, title),
    h('p', { class: 'card-value' }, value),
    sub ? h('p', { class: 'card-sub' }, sub) : null,
    extra,
  ];
  return h('section', { class: `card tone-${tone}`, id }, href ? h('a', { href, class: 'card-link' }, body) : body);
}

export async function renderOverview(el) {
  const o = await api('/api/overview');
  const now = Date.parse(o.now);
  const t = o.thresholds;
  const received = o.hourly.reduce((s, x) => s + x.received, 0);
  const imported = o.hourly.reduce((s, x) => s + x.imported, 0);
  const attention = o.open.review + o.open.verification + o.open.dead;

  let certCard;
  if (o.certificate) {
    const d = o.certificate.daysLeft;
    const tone = d <= t.certCriticalDays ? 'bad' : d <= t.certWarnDays ? 'warn' : 'ok';
    certCard = card('TLS certificate', d < 0 ? 'Expired' : `${d} days left`, {
      tone,
      id: 'cert-card',
      sub: [
        tone === 'ok' ? '' : tone === 'bad' ? 'Renew now · ' : 'Renew soon · ',
        'expires ',
        timeEl(o.certificate.notAfter),
      ],
      extra: h('p', { class: 'card-sub mono' }, o.certificate.subject),
    });
  } else certCard = card('TLS certificate', 'none', { tone: 'bad', id: 'cert-card' });

  const cards = h(
    'div',
    { class: 'cards' },
    card('Backlog', String(o.backlog.total), {
      tone:
        o.backlog.total === 0
          ? 'ok'
          : o.backlog.oldestPendingAt && now - Date.parse(o.backlog.oldestPendingAt) > t.lagSeconds * 1000
            ? 'bad'
            : 'warn',
      sub:
        o.backlog.total === 0
          ? 'pending + failed: none waiting'
          : [
              `${o.backlog.pending} pending, ${o.backlog.failed} failed · oldest `,
              fmtAge(o.backlog.oldestPendingAt, now),
            ],
      id: 'backlog-card',
    }),
    card('Last 24 hours', `${received} mails`, {
      sub: `${imported} reservations imported · ${o.hourly.reduce((s, x) => s + x.failed, 0)} failed`,
      extra: h(
        'div',
        { class: 'sparks' },
        sparkline(o.hourly, 'received', 'Mails received per hour', 'info'),
        sparkline(o.hourly, 'imported', 'Reservations imported per hour', 'ok'),
        h(
          'p',
          { class: 'spark-legend' },
          h('span', { class: 'key tone-info' }),
          'received ',
          h('span', { class: 'key tone-ok' }),
          'imported, per hour',
        ),
      ),
      id: 'throughput-card',
    }),
    card('Needs a person', String(attention), {
      tone: o.open.dead > 0 ? 'bad' : attention > 0 ? 'warn' : 'ok',
      sub: `${o.open.verification} verification · ${o.open.review} review · ${o.open.dead} dead`,
      href: '#/review',
      id: 'attention-card',
    }),
    certCard,
  );

  const alerts = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'alerts-title', id: 'alerts' },
    h('h2', { id: 'alerts-title' }, 'Active alerts ', h('span', { class: 'count' }, String(o.alerts.length))),
    o.alerts.length === 0
      ? h('p', { class: 'callout tone-ok' }, 'No alert is firing.')
      : h(
          'ul',
          { class: 'alerts' },
          o.alerts.map((a) =>
            h(
              'li',
              { class: `alert tone-${a.severity === 'critical' ? 'bad' : 'warn'}` },
              h(
                'p',
                { class: 'alert-head' },
                badge(a.severity, a.severity === 'critical' ? 'bad' : 'warn'),
                ' ',
                h('strong', {}, a.name),
                ' ',
                h('span', { class: 'muted' }, 'since ', timeEl(a.since, { short: true })),
              ),
              h('p', { class: 'alert-summary' }, a.summary),
              h('p', { class: 'alert-check' }, h('span', { class: 'muted' }, 'Check: '), a.check),
            ),
          ),
        ),
  );

  const ages = (r) => ({ ...r, tone: staleness(r.lastReceivedAt, now, t, r.alerting) });
  const freshColumns = (first) => [
    first,
    {
      label: 'Status',
      cell: (r) =>
        h(
          'span',
          { class: `status tone-${r.tone}` },
          h('span', { class: 'dot', 'aria-hidden': 'true' }),
          STALE_TEXT[r.tone],
          r.alerting ? ' (alert)' : '',
        ),
    },
    { label: 'Last mail received', cell: (r) => ageCell(r.lastReceivedAt, now, r.tone) },
    {
      label: 'Last reservation imported',
      cell: (r) =>
        ageCell(r.lastImportedAt, now, r.lastImportedAt ? staleness(r.lastImportedAt, now, t, false) : 'muted'),
    },
    { label: 'Mails (24 h)', class: 'num', cell: (r) => String(r.received24h) },
  ];
  const byStore = table(
    'Last mail received and last reservation imported, by store',
    freshColumns({
      label: 'Store',
      cell: (r) =>
        r.store
          ? h('a', { href: `#/messages?store=${encodeURIComponent(r.store)}`, class: 'strong' }, r.store)
          : h('span', { class: 'muted' }, 'no store (unrouted)'),
    }),
    o.stores.map(ages),
    { empty: 'No mail received yet.', className: 'freshness' },
  );
  const bySource = table(
    'Last mail received and last reservation imported, by booking site',
    freshColumns({
      label: 'Site',
      cell: (r) =>
        h('a', { href: `#/messages?source=${encodeURIComponent(r.source)}`, class: 'strong' }, sourceLabel(r.source)),
    }),
    o.sources.map(ages),
    { empty: 'No mail from a known booking site yet.', className: 'freshness' },
  );

  fill(
    el,
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, 'Overview'),
      h('p', { class: 'muted' }, 'As of ', timeEl(o.now), ' (JST) · refreshes every 30 s'),
    ),
    cards,
    alerts,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'fresh-title', id: 'freshness' },
      h('h2', { id: 'fresh-title' }, 'Mail by store'),
      h(
        'p',
        { class: 'muted legend' },
        `Fresh: under ${t.amberAfterMinutes} min · Late: under ${t.redAfterMinutes} min · Stale: older, none, or a silence alert is firing for it`,
      ),
      byStore,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'sources-title', id: 'sources' },
      h('h2', { id: 'sources-title' }, 'Mail by booking site'),
      bySource,
    ),
  );
}
