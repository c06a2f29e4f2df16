// Overview: is mail arriving, per store and source (staleness colours), what
// is firing, how many mails wait, when the certificate expires.
import { api, fill, fmtAge, fmtHour, fmtTime, h, sourceLabel, svg, table, timeEl, valueBadge } from './lib.js';
import { has, lang, t, tn } from './i18n.js';

/** 'ok' | 'warn' | 'bad' for an age against the thresholds. */
function staleness(iso, nowMs, th, alerting) {
  if (alerting || !iso) return 'bad';
  const minutes = (nowMs - Date.parse(iso)) / 60_000;
  if (minutes < th.amberAfterMinutes) return 'ok';
  if (minutes < th.redAfterMinutes) return 'warn';
  return 'bad';
}

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
    'aria-label': t('overview.sparkLabel', { label, total, max }),
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

/**
 * One firing alert. The server writes its summary and check in English with
 * the figures (store, site, ages); the catalogue has a title and a check for
 * every built-in alert, so a Japanese page says what it is and what to do in
 * Japanese and keeps the server's sentence, marked as English, as the detail.
 */
function alertItem(a) {
  const known = has(`alert.${a.name}.title`);
  const localised = known && lang() !== 'en';
  return h(
    'li',
    { class: `alert tone-${a.severity === 'critical' ? 'bad' : 'warn'}`, dataset: { alert: a.name } },
    h(
      'p',
      { class: 'alert-head' },
      valueBadge('severity', a.severity, a.severity === 'critical' ? 'bad' : 'warn'),
      ' ',
      localised ? [h('strong', {}, t(`alert.${a.name}.title`)), ' '] : null,
      h('strong', { class: localised ? 'mono small' : '', translate: 'no' }, a.name),
      ' ',
      h('span', { class: 'muted' }, tn('overview.alertSince', { time: timeEl(a.since, { short: true }) })),
    ),
    h('p', { class: `alert-summary${localised ? ' muted small' : ''}`, lang: 'en', translate: 'no' }, a.summary),
    h(
      'p',
      { class: 'alert-check' },
      h('span', { class: 'muted' }, t('overview.alertCheck')),
      localised ? t(`alert.${a.name}.check`) : h('span', { lang: 'en', translate: 'no' }, a.check),
    ),
  );
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
  const th = o.thresholds;
  const received = o.hourly.reduce((s, x) => s + x.received, 0);
  const imported = o.hourly.reduce((s, x) => s + x.imported, 0);
  const attention = o.open.review + o.open.verification + o.open.dead;

  let certCard;
  if (o.certificate) {
    const d = o.certificate.daysLeft;
    const tone = d <= th.certCriticalDays ? 'bad' : d <= th.certWarnDays ? 'warn' : 'ok';
    certCard = card(t('overview.cert'), d < 0 ? t('overview.certExpired') : t('overview.certDaysLeft', { n: d }), {
      tone,
      id: 'cert-card',
      sub: tn(
        tone === 'ok' ? 'overview.certExpires' : tone === 'bad' ? 'overview.certRenewNow' : 'overview.certRenewSoon',
        { time: timeEl(o.certificate.notAfter) },
      ),
      extra: h('p', { class: 'card-sub mono', translate: 'no' }, o.certificate.subject),
    });
  } else certCard = card(t('overview.cert'), t('overview.certNone'), { tone: 'bad', id: 'cert-card' });

  const cards = h(
    'div',
    { class: 'cards' },
    card(t('overview.backlog'), String(o.backlog.total), {
      tone:
        o.backlog.total === 0
          ? 'ok'
          : o.backlog.oldestPendingAt && now - Date.parse(o.backlog.oldestPendingAt) > th.lagSeconds * 1000
            ? 'bad'
            : 'warn',
      sub:
        o.backlog.total === 0
          ? t('overview.backlogNone')
          : t('overview.backlogSub', {
              pending: o.backlog.pending,
              failed: o.backlog.failed,
              age: fmtAge(o.backlog.oldestPendingAt, now),
            }),
      id: 'backlog-card',
    }),
    card(t('overview.last24h'), t('overview.mails', { n: received }), {
      sub: t('overview.last24hSub', { imported, failed: o.hourly.reduce((s, x) => s + x.failed, 0) }),
      extra: h(
        'div',
        { class: 'sparks' },
        sparkline(o.hourly, 'received', t('overview.sparkReceived'), 'info'),
        sparkline(o.hourly, 'imported', t('overview.sparkImported'), 'ok'),
        h(
          'p',
          { class: 'spark-legend' },
          tn('overview.sparkLegend', {
            received: h('span', { class: 'key tone-info' }),
            imported: h('span', { class: 'key tone-ok' }),
          }),
        ),
      ),
      id: 'throughput-card',
    }),
    card(t('overview.attention'), String(attention), {
      tone: o.open.dead > 0 ? 'bad' : attention > 0 ? 'warn' : 'ok',
      sub: t('overview.attentionSub', { verification: o.open.verification, review: o.open.review, dead: o.open.dead }),
      href: '#/review',
      id: 'attention-card',
    }),
    certCard,
  );

  const alerts = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'alerts-title', id: 'alerts' },
    h('h2', { id: 'alerts-title' }, t('overview.alerts'), ' ', h('span', { class: 'count' }, String(o.alerts.length))),
    o.alerts.length === 0
      ? h('p', { class: 'callout tone-ok' }, t('overview.noAlerts'))
      : h('ul', { class: 'alerts' }, o.alerts.map(alertItem)),
  );

  const ages = (r) => ({ ...r, tone: staleness(r.lastReceivedAt, now, th, r.alerting) });
  const freshColumns = (first) => [
    first,
    {
      label: t('overview.colStatus'),
      cell: (r) =>
        h(
          'span',
          { class: `status tone-${r.tone}`, dataset: { tone: r.tone } },
          h('span', { class: 'dot', 'aria-hidden': 'true' }),
          t(`stale.${r.tone}`),
          r.alerting ? t('overview.alerting') : '',
        ),
    },
    { label: t('overview.colLastMail'), cell: (r) => ageCell(r.lastReceivedAt, now, r.tone) },
    {
      label: t('overview.colLastImported'),
      cell: (r) =>
        ageCell(r.lastImportedAt, now, r.lastImportedAt ? staleness(r.lastImportedAt, now, th, false) : 'muted'),
    },
    { label: t('overview.colMails24h'), class: 'num', cell: (r) => String(r.received24h) },
  ];
  const byStore = table(
    t('overview.byStoreCaption'),
    freshColumns({
      label: t('common.store'),
      cell: (r) =>
        r.store
          ? h(
              'a',
              { href: `#/messages?store=${encodeURIComponent(r.store)}`, class: 'strong', translate: 'no' },
              r.store,
            )
          : h('span', { class: 'muted' }, t('overview.unrouted')),
    }),
    o.stores.map(ages),
    { empty: t('overview.noMailYet'), className: 'freshness' },
  );
  const bySource = table(
    t('overview.bySourceCaption'),
    freshColumns({
      label: t('common.site'),
      cell: (r) =>
        h('a', { href: `#/messages?source=${encodeURIComponent(r.source)}`, class: 'strong' }, sourceLabel(r.source)),
    }),
    o.sources.map(ages),
    { empty: t('overview.noSiteMailYet'), className: 'freshness' },
  );

  fill(
    el,
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, t('nav.overview')),
      h('p', { class: 'muted' }, tn('overview.asOf', { time: timeEl(o.now) })),
    ),
    cards,
    alerts,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'fresh-title', id: 'freshness' },
      h('h2', { id: 'fresh-title' }, t('overview.byStore')),
      h('p', { class: 'muted legend' }, t('overview.legend', { amber: th.amberAfterMinutes, red: th.redAfterMinutes })),
      byStore,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'sources-title', id: 'sources' },
      h('h2', { id: 'sources-title' }, t('overview.bySource')),
      bySource,
    ),
  );
}
