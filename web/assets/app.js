// The dashboard shell: hash routing between the views, the sign-in form
// (token kept in sessionStorage, sent as a bearer token), the language switch
// (日本語 / English, remembered in localStorage), periodic refresh of the
// review-queue badge.
import { api, errorBox, h, onAuthError, parseHash, token } from './lib.js';
import { lang, setLang, t } from './i18n.js';
import { renderStores, renderStore } from './stores.js';
import { renderOverview } from './overview.js';
import { renderMessages, renderMessage } from './messages.js';
import { renderReservations, renderReservation } from './reservations.js';
import { renderReview } from './review.js';

const main = document.getElementById('main');
const login = document.getElementById('login');
const signout = document.getElementById('signout');
const reviewCount = document.getElementById('review-count');

/** Views refresh themselves on this interval while shown (overview, review). */
const REFRESH_MS = 30_000;
let refreshTimer = null;
/** Bumped on every navigation: a slow render for a view we left is dropped. */
let generation = 0;

const VIEWS = {
  overview: { title: 'nav.overview', render: renderOverview, refresh: true },
  messages: {
    title: 'nav.messages',
    render: (el, r) => (r.arg ? renderMessage(el, r.arg) : renderMessages(el, r.params)),
  },
  reservations: {
    title: 'nav.reservations',
    render: (el, r) => (r.arg ? renderReservation(el, r.arg) : renderReservations(el, r.params)),
  },
  review: { title: 'nav.review', render: renderReview, refresh: true },
  stores: { title: 'nav.stores', render: (el, r) => (r.arg ? renderStore(el, r.arg) : renderStores(el)) },
};

/** Fills the static page (header, sign-in form) from the catalogue and marks the language. */
function applyLanguage() {
  document.documentElement.lang = lang();
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-aria-label]'))
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  for (const b of document.querySelectorAll('.lang-switch [data-lang]'))
    b.setAttribute('aria-pressed', String(b.dataset.lang === lang()));
}

for (const b of document.querySelectorAll('.lang-switch [data-lang]'))
  b.addEventListener('click', () => {
    if (b.dataset.lang === lang()) return;
    setLang(b.dataset.lang);
    applyLanguage();
    if (!login.hidden) {
      // Signing in: translate the form's message, ask the API nothing.
      if (loginReason) document.getElementById('login-reason').textContent = t(loginReason);
      return;
    }
    void route({ quiet: true });
  });

/** The catalogue key of the sign-in form's current message, so a switch re-translates it. */
let loginReason = null;

function showLogin(reason, text = t(reason)) {
  loginReason = text === t(reason) ? reason : null;
  main.hidden = true;
  login.hidden = false;
  document.getElementById('login-reason').textContent = text;
  document.getElementById('token').focus();
}

onAuthError((err) => {
  if (err.status === 401) {
    const had = token.get();
    token.clear();
    signout.hidden = true;
    showLogin(had ? 'login.refused' : 'login.needed');
  } else {
    showLogin('login.forbidden', `${t('login.forbidden')} ${err.message}`);
  }
});

document.getElementById('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = document.getElementById('token');
  const t = input.value.trim();
  if (!t) return;
  token.set(t);
  input.value = '';
  login.hidden = true;
  main.hidden = false;
  signout.hidden = false;
  void route();
});

signout.addEventListener('click', () => {
  token.clear();
  signout.hidden = true;
  showLogin('login.signedOut');
});

async function updateBadge() {
  try {
    const o = await api('/api/overview');
    const n = o.open.review + o.open.verification + o.open.dead + o.backlog.failed;
    reviewCount.hidden = n === 0;
    reviewCount.textContent = String(n);
    reviewCount.setAttribute('aria-label', t('nav.waiting', { n }));
  } catch {
    // The view shows the error; the badge just stays as it was.
  }
}

async function route({ quiet = false } = {}) {
  const r = parseHash(location.hash);
  const view = VIEWS[r.view] ?? VIEWS.overview;
  const gen = ++generation;
  clearInterval(refreshTimer);
  for (const a of document.querySelectorAll('nav a[data-view]')) {
    if (a.dataset.view === r.view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${t(view.title)} · ota-inbound`;
  // Render off-screen, swap in one go: no flash of an empty page on refresh.
  const next = h('div', { class: 'view' });
  try {
    await view.render(next, r);
  } catch (err) {
    if (err.status === 401 || err.status === 403) return;
    next.replaceChildren(errorBox(err));
  }
  if (gen !== generation) return;
  main.replaceChildren(next);
  main.hidden = false;
  login.hidden = true;
  signout.hidden = !token.get();
  if (!quiet) main.focus({ preventScroll: true });
  if (view.refresh) refreshTimer = setInterval(() => void route({ quiet: true }), REFRESH_MS);
  void updateBadge();
}

window.addEventListener('hashchange', () => {
  // In-page anchors (not "#/…") are not routes.
  if (location.hash === '' || location.hash.startsWith('#/')) void route();
});
/** Views ask for a re-render after an action (replay, mark handled). */
window.addEventListener('ota:refresh', () => void route({ quiet: true }));
applyLanguage();
void route();
