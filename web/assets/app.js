// The dashboard shell: hash routing between the four views, the sign-in
// form (token kept in sessionStorage, sent as a bearer token), periodic
// refresh of the review-queue badge.
import { api, errorBox, h, onAuthError, parseHash, token } from './lib.js';
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
  overview: { title: 'Overview', render: renderOverview, refresh: true },
  messages: { title: 'Messages', render: (el, r) => (r.arg ? renderMessage(el, r.arg) : renderMessages(el, r.params)) },
  reservations: {
    title: 'Reservations',
    render: (el, r) => (r.arg ? renderReservation(el, r.arg) : renderReservations(el, r.params)),
  },
  review: { title: 'Review queue', render: renderReview, refresh: true },
};

function showLogin(reason) {
  main.hidden = true;
  login.hidden = false;
  document.getElementById('login-reason').textContent = reason;
  document.getElementById('token').focus();
}

onAuthError((err) => {
  if (err.status === 401) {
    const had = token.get();
    token.clear();
    signout.hidden = true;
    showLogin(had ? 'That token was refused. Enter the API token again.' : 'This node needs its API token.');
  } else {
    showLogin(`${err.message}`);
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
  showLogin('Signed out.');
});

async function updateBadge() {
  try {
    const o = await api('/api/overview');
    const n = o.open.review + o.open.verification + o.open.dead + o.backlog.failed;
    reviewCount.hidden = n === 0;
    reviewCount.textContent = String(n);
    reviewCount.setAttribute('aria-label', `${n} waiting`);
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
  document.title = `${view.title} · ota-inbound`;
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
void route();
