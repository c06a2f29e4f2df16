/**
 * The operator dashboard: a static page (`web/`, plain HTML + CSS + ES
 * modules, no build step, no external origin) served at `/`, plus three
 * small read-only endpoints under `/api/` that the page needs and the
 * general API does not answer in one request:
 *
 * - `GET /api/overview`: per store and source the last mail received and the
 *   last reservation imported (with the staleness thresholds), counts per
 *   hour for the last 24 h, backlog, review counts, certificate expiry and
 *   the active alerts;
 * - `GET /api/review`: the review queue (verification mails, needs-review
 *   mails, failed and dead mails) with the reasons and verification codes;
 * - `GET /api/messages/:id/text`: the decoded body text of one message, to
 *   show beside what was extracted from it.
 *
 * The page itself is public (it holds no data); everything it shows comes
 * from `/api/`, which the API's auth hook guards (bearer token, or loopback
 * only when no token is set). The Content-Security-Policy allows scripts,
 * styles and requests from this origin only, and no inline script or style.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../config/index.ts';
import { alertJson, type AlertManager } from '../monitor/index.ts';
import type { DecodeResult, DecodedText } from '../pipeline/worker.ts';
import type { MessageRow, SeriesRow, Store } from '../store/index.ts';
import type { LoadedCertificate } from '../tls/index.ts';
import { errorCode } from '../errors.ts';
import { messageJson } from './api.ts';
import { errorSchema, type JsonSchema } from './api-schemas.ts';
import { iso, parseJson } from './json.ts';
import { DAY_MS, HOUR_MS } from '../shared/index.ts';

export interface DashboardDeps {
  /** Folder holding `index.html` and `assets/` (`WEB_DIR`). */
  webDir: string;
  store: Store;
  alerts: AlertManager;
  /** The certificate served now. */
  certificate: () => LoadedCertificate | null;
  config: Pick<Readonly<Config>, 'alerts' | 'stores'>;
  /** The raw bytes of a message (from the spool). */
  readRaw: (row: MessageRow) => Promise<Buffer>;
  /** Decodes a message's text in the parser workers (timeouts and heap limits apply). */
  decode: (id: string, raw: Buffer) => Promise<DecodeResult>;
  clock?: () => number;
}

/** The sparkline covers one day, hour by hour. */
const SPARK_HOURS = 24;
/**
 * Notifications are a few KB; a message larger than this is not decoded for
 * the page (download the raw .eml instead). Decoding runs in the parser
 * workers, with their timeout and heap limit.
 */
export const DECODE_MAX_RAW_BYTES = 1024 * 1024;
/** Characters of decoded text returned; the rest is cut (and flagged). */
export const DECODE_MAX_TEXT_CHARS = 64 * 1024;
/** The review queue shows at most this many mails per section (counts are exact). */
const REVIEW_LIMIT = 200;

/**
 * Scripts, styles, images and requests from this origin only; no inline
 * script or style, no framing, no plugins, no form posts elsewhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * Reads the page and its assets once, at start: the set of files is fixed
 * (a request can only name one of them, never a path), and each gets a
 * content ETag. File names carry no hash (no build step), so browsers must
 * revalidate (`no-cache`) — a 304 costs one round trip, and an upgrade is
 * never hidden behind a stale cached script.
 */
function loadStatic(webDir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const add = (urlPath: string, file: string) => {
    const type = CONTENT_TYPES[path.extname(file)];
    if (!type) return;
    const body = fs.readFileSync(file);
    files.set(urlPath, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  };
  add('/', path.join(webDir, 'index.html'));
  const assets = path.join(webDir, 'assets');
  for (const name of fs.readdirSync(assets)) {
    if (/^[a-z0-9][a-z0-9.-]*$/.test(name) && fs.statSync(path.join(assets, name)).isFile())
      add(`/assets/${name}`, path.join(assets, name));
  }
  return files;
}

function sendStatic(file: StaticFile, ifNoneMatch: string | undefined, reply: FastifyReply): FastifyReply {
  reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache').header('etag', file.etag);
  if (ifNoneMatch && ifNoneMatch.split(/\s*,\s*/).includes(file.etag)) return reply.code(304).send();
  return reply.header('content-type', file.type).send(file.body);
}

/** One row of the overview's freshness tables (a store, or a source across stores). */
interface Freshness {
  lastReceivedAt: number | null;
  lastImportedAt: number | null;
  received24h: number;
}

/** Folds the (store, source) rows into one row per key; `seed` keys appear even without mail. */
function freshnessBy(
  rows: SeriesRow[],
  key: (r: SeriesRow) => string | null,
  seed: readonly string[],
): Map<string | null, Freshness> {
  const out = new Map<string | null, Freshness>();
  for (const k of seed) out.set(k, { lastReceivedAt: null, lastImportedAt: null, received24h: 0 });
  for (const r of rows) {
    const k = key(r);
    let f = out.get(k);
    if (!f) out.set(k, (f = { lastReceivedAt: null, lastImportedAt: null, received24h: 0 }));
    f.lastReceivedAt = Math.max(f.lastReceivedAt ?? 0, r.last_received);
    if (r.last_imported !== null) f.lastImportedAt = Math.max(f.lastImportedAt ?? 0, r.last_imported);
    f.received24h += r.received_24h;
  }
  return out;
}

/** Whole days until expiry, counting a started day (4.2 days left → 5); negative once expired. */
const daysLeft = (ms: number) => (ms > 0 ? Math.ceil(ms / DAY_MS) : Math.floor(ms / DAY_MS));

const freshnessJson = (f: Freshness) => ({
  lastReceivedAt: iso(f.lastReceivedAt),
  lastImportedAt: iso(f.lastImportedAt),
  received24h: f.received24h,
});

/** What the review queue shows of one message: the list fields plus why it is there and what to do. */
function reviewItem(m: MessageRow) {
  const x = parseJson<{
    reviewReasons?: string[];
    guestName?: string | null;
    visitDate?: string | null;
    visitTime?: string | null;
    partySize?: number | null;
  }>(m.extraction);
  const meta = parseJson<{ verification?: { code: string | null; url: string | null } | null }>(m.meta);
  return {
    ...messageJson(m),
    reviewReasons: x?.reviewReasons ?? [],
    verification: meta?.verification ?? null,
    guestName: x?.guestName ?? null,
    visitDate: x?.visitDate ?? null,
    visitTime: x?.visitTime ?? null,
    partySize: x?.partySize ?? null,
    nextAttemptAt: m.state === 'failed' ? iso(m.next_attempt_at) : null,
  };
}

const idParam: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 100, description: 'Spool id' } },
};
const authErrors = { 401: errorSchema, 403: errorSchema };
/** Route schemas: documentation for the OpenAPI document (responses are serialised as they are). */
const schemas: Record<'overview' | 'review' | 'text', JsonSchema> = {
  overview: {
    summary: 'Dashboard overview: staleness per store and source, hourly counts, backlog, certificate, active alerts',
    tags: ['dashboard'],
    response: authErrors,
  },
  review: {
    summary:
      'Review queue: verification mails, needs-review mails, failed and dead mails (unhandled), with reasons and codes',
    tags: ['dashboard'],
    response: authErrors,
  },
  text: {
    summary: 'Decoded body text of a message (as extraction saw it), for reading beside the extracted fields',
    tags: ['dashboard'],
    params: idParam,
    response: {
      ...authErrors,
      404: errorSchema,
      410: errorSchema,
      413: errorSchema,
      422: errorSchema,
      500: errorSchema,
    },
  },
};

/**
 * Registers `/`, `/assets/*` and the dashboard's read endpoints. Call it
 * after `registerApi` (whose `onRequest` hook guards every `/api/` path and
 * whose collector lists these in the OpenAPI document).
 */
export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): void {
  const clock = deps.clock ?? Date.now;
  const files = loadStatic(deps.webDir);
  const oq = deps.store.dashboard;
  const queries = deps.store.queries;
  const a = deps.config.alerts;

  const index = files.get('/')!;
  app.get('/', (req, reply) => sendStatic(index, req.headers['if-none-match'], reply));
  app.get<{ Params: { file: string } }>('/assets/:file', (req, reply) => {
    const file = files.get(`/assets/${req.params.file}`);
    if (!file) return reply.headers(SECURITY_HEADERS).code(404).type('text/plain; charset=utf-8').send('not found');
    return sendStatic(file, req.headers['if-none-match'], reply);
  });
  // Browsers ask for it on their own; answer instead of logging 404s.
  app.get('/favicon.ico', (_req, reply) => reply.redirect('/assets/icon.svg', 301));

  app.get('/api/overview', { schema: schemas.overview }, async () => {
    const now = clock();
    // Series older than the alert history window drop off (configured stores stay, as "no mail").
    const since = now - a.historyWeeks * 7 * DAY_MS;
    const rows = oq.series(since, now - DAY_MS);
    const active = deps.alerts.active();
    const silentStores = new Set(active.filter((x) => x.name === 'StoreSilent').map((x) => x.labels.store));
    const silentSources = new Set(active.filter((x) => x.name === 'SourceSilent').map((x) => x.labels.source));

    const stores = [...freshnessBy(rows, (r) => r.store, deps.config.stores)].map(([store, f]) => ({
      store,
      ...freshnessJson(f),
      alerting: store !== null && silentStores.has(store),
    }));
    // Mail no site definition recognised has no source: it shows under its store only.
    const sources = [
      ...freshnessBy(
        rows.filter((r) => r.source !== null),
        (r) => r.source,
        [],
      ),
    ].map(([source, f]) => ({ source, ...freshnessJson(f), alerting: source !== null && silentSources.has(source) }));
    const byName = (x: string | null, y: string | null) => (x === null ? 1 : y === null ? -1 : x.localeCompare(y));
    stores.sort((x, y) => byName(x.store, y.store));
    sources.sort((x, y) => byName(x.source, y.source));

    const firstHour = Math.floor(now / HOUR_MS) - (SPARK_HOURS - 1);
    const hours = Array.from({ length: SPARK_HOURS }, (_, i) => ({
      hour: iso((firstHour + i) * HOUR_MS)!,
      received: 0,
      imported: 0,
      failed: 0,
    }));
    for (const h of oq.hourly(firstHour * HOUR_MS, now + 1)) {
      const slot = hours[h.hour - firstHour];
      if (slot) Object.assign(slot, { received: h.received, imported: h.imported, failed: h.failed });
    }

    const summary = deps.store.summary();
    const byState = summary.byState;
    const open = { review: 0, verification: 0, dead: 0 };
    for (const o of oq.open()) {
      if (o.state === 'dead') open.dead += o.n;
      else if (o.verification) open.verification += o.n;
      else open.review += o.n;
    }

    const cert = deps.certificate();
    const amber = a.staleAfterMinutes;
    return {
      now: iso(now),
      thresholds: {
        // Green below `alerts.staleAfterMinutes`, amber up to the fixed silence
        // threshold (`alerts.fallbackStaleMinutes`), red beyond it or while a
        // silence alert fires for the series.
        amberAfterMinutes: amber,
        redAfterMinutes: Math.max(amber, a.fallbackStaleMinutes),
        certWarnDays: a.certWarnDays,
        certCriticalDays: a.certCriticalDays,
        lagSeconds: a.lagSeconds,
      },
      stores,
      sources,
      hourly: hours,
      backlog: {
        pending: byState.pending ?? 0,
        failed: byState.failed ?? 0,
        total: (byState.pending ?? 0) + (byState.failed ?? 0),
        oldestPendingAt: iso(summary.oldestPendingAt),
      },
      open,
      certificate: cert
        ? {
            subject: cert.subject,
            notAfter: iso(cert.notAfter.getTime()),
            daysLeft: daysLeft(cert.notAfter.getTime() - now),
            fingerprint256: cert.fingerprint256,
          }
        : null,
      alerts: active.map(alertJson),
    };
  });

  app.get('/api/review', { schema: schemas.review }, async () => {
    const review = queries.messages({ state: 'review', handled: false }, REVIEW_LIMIT, null).rows;
    const dead = queries.messages({ state: 'dead', handled: false }, REVIEW_LIMIT, null).rows;
    const failed = queries.messages({ state: 'failed' }, REVIEW_LIMIT, null).rows;
    return {
      verification: review.filter((m) => m.kind === 'verification').map(reviewItem),
      needsReview: review.filter((m) => m.kind !== 'verification').map(reviewItem),
      failed: [...dead, ...failed].sort((x, y) => y.received_at - x.received_at).map(reviewItem),
      limit: REVIEW_LIMIT,
    };
  });

  app.get<{ Params: { id: string } }>('/api/messages/:id/text', { schema: schemas.text }, async (req, reply) => {
    const m = deps.store.message(req.params.id);
    const fail = (status: number, code: string, message: string) =>
      reply.code(status).send({ error: { code, message } });
    if (!m) return fail(404, 'NOT_FOUND', `no message ${req.params.id}`);
    if (m.raw_purged_at !== null)
      return fail(410, 'RAW_PURGED', `the raw message was purged at ${iso(m.raw_purged_at)} (retention.rawDays)`);
    if (m.size > DECODE_MAX_RAW_BYTES)
      return fail(
        413,
        'TOO_LARGE',
        `the message is ${m.size} bytes; the dashboard decodes up to ${DECODE_MAX_RAW_BYTES} (download the .eml instead)`,
      );
    let raw: Buffer;
    try {
      raw = await deps.readRaw(m);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'SPOOL_MISSING' || code === 'SPOOL_CORRUPT') return fail(410, code, (err as Error).message);
      req.log.error({ spoolId: m.id, code, err }, 'dashboard could not read a raw message');
      return fail(500, 'INTERNAL', 'internal error (logged)');
    }
    let parsed: DecodedText;
    try {
      const r = await deps.decode(m.id, raw);
      if (!r.ok) return fail(422, 'PARSE_FAILED', `the message could not be decoded: ${r.message}`);
      parsed = r.decoded;
    } catch (err) {
      return fail(422, errorCode(err), `the message could not be decoded: ${(err as Error).message}`);
    }
    const truncated = parsed.text.length > DECODE_MAX_TEXT_CHARS;
    return reply.header('cache-control', 'no-store').send({
      id: m.id,
      subject: parsed.subject,
      from: parsed.from,
      date: parsed.date,
      forwarded: parsed.forwarded,
      htmlDerived: parsed.htmlDerived,
      warnings: parsed.warnings,
      text: truncated ? parsed.text.slice(0, DECODE_MAX_TEXT_CHARS) : parsed.text,
      truncated,
    });
  });
}
