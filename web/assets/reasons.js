// Review reasons (docs/sites.md, "Review reasons") in words an operator reads,
// and for the ones that need it a sentence on what it means and what to do.
// The stable reason string stays available as the tooltip and `data-reason`.
import { h } from './lib.js';
import { has, t } from './i18n.js';
import { sourceName } from './lib.js';

function fieldName(field) {
  return has(`field.${field}`) ? t(`field.${field}`) : field;
}

/** The reason in words: "電話番号が読み取れません", "送信元未確認（食べログ）" … */
export function reasonLabel(reason) {
  const i = reason.indexOf(':');
  const kind = i < 0 ? reason : reason.slice(0, i);
  const arg = i < 0 ? '' : reason.slice(i + 1);
  switch (kind) {
    case 'missing':
    case 'invalid':
    case 'masked':
      return t(`reason.${kind}`, { field: fieldName(arg) });
    case 'ambiguous':
    case 'unknown':
      return has(`reason.${kind}.${arg}`) ? t(`reason.${kind}.${arg}`) : reason;
    case 'unauthenticated':
      return t('reason.unauthenticated', { site: sourceName(arg) });
    case 'missing-reservation':
      return t('reason.missingReservation', { booking: arg });
    case 'digest':
      return arg === 'missing-reservations' ? t('reason.digestMissing') : reason;
    case 'unconfigured-site':
      return t('reason.unconfiguredSite');
    default:
      return reason;
  }
}

/** What a reason means and what to do, when the label alone does not say it; else null. */
export function reasonHelp(reason) {
  if (reason.startsWith('unauthenticated:'))
    return t('reason.unauthenticated.help', { site: sourceName(reason.slice('unauthenticated:'.length)) });
  if (reason === 'unconfigured-site') return t('reason.unconfiguredSite.help');
  return null;
}

/** Reasons as chips (`ul.chips`), each with its stable code as tooltip. */
export function reasonChips(reasons) {
  return h(
    'ul',
    { class: 'chips' },
    reasons.map((r) => h('li', { title: r, dataset: { reason: r } }, reasonLabel(r))),
  );
}

/** The help sentences of these reasons (one paragraph each), or null. */
export function reasonHelpNotes(reasons) {
  const notes = [...new Set(reasons.map(reasonHelp).filter(Boolean))];
  return notes.length ? notes.map((n) => h('p', { class: 'reason-help' }, n)) : null;
}
