/**
 * The JSON API under `/api/`: reservations, messages, deliveries, and the
 * operator actions (replay, mark handled, redeliver). Auth is one `onRequest`
 * hook on the root instance covering every `/api/` path, including routes
 * other modules register (`/api/alerts`). Errors always answer
 * `{error: {code, message}}`; lists answer `{items, nextCursor}`.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { DeliveryRow, EventRow, MessageRow, Queries, ReservationFilter, ReservationRow } from '../store/index.ts';
import { errorCode } from '../errors.ts';
import { apiAuthHook } from './auth.ts';
import { schemas } from './api-schemas.ts';
import { OpenApiCollector } from './openapi.ts';
import { webhookReservation } from '../deliver/index.ts';
import { iso, parseJson } from './json.ts';
import { WAITING_STATES, inStates } from '../store/index.ts';

export interface ApiDeps {
  /** `http.apiToken`; null = loopback clients only. */
  apiToken: string | null;
  queries: Queries;
  /** The raw bytes of a message (from the spool). */
  readRaw: (row: MessageRow) => Promise<Buffer>;
  /** Wakes the pipeline after a replay. */
  wakePipeline: () => void;
  /** Dispatcher.redeliver. */
  redeliver: (id: string) => DeliveryRow | null | 'pending';
  version: string;
  clock?: () => number;
}

/** An error with an API code and HTTP status (the error handler renders it). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// Cursors: the last row's sort key, base64url JSON. Opaque to clients.
function encodeCursor(after: (string | number)[] | null): string | null {
  return after ? Buffer.from(JSON.stringify(after)).toString('base64url') : null;
}

function decodeCursor(cursor: string | undefined, shape: readonly ('string' | 'number')[]): (string | number)[] | null {
  if (!cursor) return null;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = null;
  }
  if (!Array.isArray(v) || v.length !== shape.length || v.some((x, i) => typeof x !== shape[i]))
    throw new ApiError(400, 'INVALID_CURSOR', 'cursor is not one this API returned');
  return v as (string | number)[];
}

export function reservationJson(r: ReservationRow) {
  return {
    id: r.id,
    ...webhookReservation(r),
    lastMessage: r.last_message,
    lastSentAt: iso(r.last_sent_at),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

export function deliveryJson(d: DeliveryRow) {
  return {
    id: d.id,
    event: d.event,
    endpoint: d.endpoint,
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.state === 'pending' ? iso(d.next_attempt_at) : null,
    expiresAt: iso(d.expires_at),
    lastAttemptAt: iso(d.last_attempt_at),
    lastStatus: d.last_status,
    lastErrorCode: d.last_error_code,
    lastError: d.last_error,
    lastDurationMs: d.last_duration_ms,
    deliveredAt: iso(d.delivered_at),
    deadAt: iso(d.dead_at),
    createdAt: iso(d.created_at),
    reservation: d.reservation,
    message: d.message,
    idempotencyKey: d.idempotency_key,
  };
}

function eventJson(e: EventRow, deliveries: DeliveryRow[]) {
  return {
    id: e.id,
    reservation: e.reservation,
    message: e.message,
    event: e.event,
    sentAt: iso(e.sent_at),
    applied: e.applied === 1,
    changes: parseJson<Record<string, unknown>>(e.changes) ?? {},
    reason: e.reason,
    createdAt: iso(e.created_at),
    deliveries: deliveries.filter((d) => d.event_id === e.id).map(deliveryJson),
  };
}

export function messageJson(m: MessageRow) {
  const meta = parseJson<{ subject?: string; from?: { address?: string } | null }>(m.meta);
  const x = parseJson<{ reservationId?: string | null; needsReview?: boolean }>(m.extraction);
  return {
    id: m.id,
    receivedAt: iso(m.received_at),
    state: m.state,
    kind: m.kind,
    source: m.source,
    event: m.event,
    store: m.store,
    quarantined: m.quarantined === 1,
    quarantineReason: m.quarantined === 1 ? (m.quarantine_reason ?? null) : null,
    subject: meta?.subject ?? null,
    from: meta?.from?.address ?? m.mail_from,
    reservationId: x?.reservationId ?? null,
    needsReview: m.state === 'review' || x?.needsReview === true,
    attempts: m.attempts,
    errorCode: m.error_code,
    error: m.error,
    messageId: m.message_id,
    sentAt: iso(m.sent_at),
    duplicateOf: m.duplicate_of,
    processedAt: iso(m.processed_at),
    handledAt: iso(m.handled_at),
    size: m.size,
  };
}

/**
 * Adds the auth hook and the OpenAPI collector to the root instance, then
 * the routes under `/api`. Call it before other modules add `/api/` routes
 * so they appear in the OpenAPI document too (auth covers them either way).
 */
export async function registerApi(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const clock = deps.clock ?? Date.now;
  const q = deps.queries;
  const openapi = new OpenApiCollector({ version: deps.version });
  app.addHook('onRequest', apiAuthHook(deps.apiToken));
  app.addHook('onRoute', openapi.onRoute);

  const mustMessage = (id: string): MessageRow => {
    const m = q.message(id);
    if (!m) throw new ApiError(404, 'NOT_FOUND', `no message ${id}`);
    return m;
  };

  await app.register(
    async (api) => {
      // POST actions carry no body; accept an empty JSON body instead of refusing it.
      api.removeContentTypeParser('application/json');
      api.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
        if (body === '' || body === undefined) return done(null, {});
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(new ApiError(400, 'INVALID_JSON', 'request body is not JSON'), undefined);
        }
      });

      api.setErrorHandler((err: FastifyError | ApiError, req, reply: FastifyReply) => {
        if (err instanceof ApiError)
          return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
        if (err.validation) return reply.code(400).send({ error: { code: 'INVALID_REQUEST', message: err.message } });
        const status = err.statusCode ?? 500;
        if (status < 500)
          return reply.code(status).send({ error: { code: err.code ?? 'BAD_REQUEST', message: err.message } });
        req.log.error({ code: errorCode(err), url: req.routeOptions.url, err }, 'API request failed');
        return reply.code(500).send({ error: { code: 'INTERNAL', message: 'internal error (logged)' } });
      });
      api.setNotFoundHandler((req, reply) =>
        reply
          .code(404)
          .send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?', 1)[0]}` } }),
      );

      api.get('/openapi.json', { schema: schemas.openapi }, async () => openapi.document());

      api.get<{
        Querystring: ReservationFilter & { limit: number; cursor?: string };
      }>('/reservations', { schema: schemas.listReservations }, async (req) => {
        const { limit, cursor, ...f } = req.query;
        const page = q.reservations(f, limit, decodeCursor(cursor, ['number']));
        return { items: page.rows.map(reservationJson), nextCursor: encodeCursor(page.after) };
      });

      api.get<{ Params: { id: number } }>('/reservations/:id', { schema: schemas.getReservation }, async (req) => {
        const r = q.reservation(req.params.id);
        if (!r) throw new ApiError(404, 'NOT_FOUND', `no reservation ${req.params.id}`);
        const events = q.events(r.id);
        const deliveries = q.deliveriesOfEvents(events.map((e) => e.id));
        return { ...reservationJson(r), events: events.map((e) => eventJson(e, deliveries)) };
      });

      api.get<{
        Querystring: {
          limit: number;
          cursor?: string;
          state?: string;
          kind?: string;
          source?: string;
          store?: string;
          event?: string;
          reason?: string;
          handled?: boolean;
          receivedFrom?: string;
          receivedTo?: string;
        };
      }>('/messages', { schema: schemas.listMessages }, async (req) => {
        const { limit, cursor, receivedFrom, receivedTo, ...f } = req.query;
        const page = q.messages(
          {
            ...f,
            receivedFrom: receivedFrom ? Date.parse(receivedFrom) : undefined,
            receivedTo: receivedTo ? Date.parse(receivedTo) : undefined,
          },
          limit,
          decodeCursor(cursor, ['number', 'string']),
        );
        return { items: page.rows.map(messageJson), nextCursor: encodeCursor(page.after) };
      });

      api.get<{ Params: { id: string } }>('/messages/:id', { schema: schemas.getMessage }, async (req) => {
        const m = mustMessage(req.params.id);
        const events = q.eventsOfMessage(m.id);
        const deliveries = q.deliveriesOfMessage(m.id);
        return {
          ...messageJson(m),
          envelope: {
            mailFrom: m.mail_from,
            rcptTo: parseJson<string[]>(m.rcpt_to) ?? [],
            clientIp: m.client_ip,
            helo: m.helo,
            tls: parseJson<object>(m.tls),
          },
          contentHash: m.content_hash,
          extraction: parseJson<object>(m.extraction),
          meta: parseJson<object>(m.meta),
          auth: parseJson<object>(m.auth),
          rawAvailable: m.raw_purged_at === null,
          events: events.map((e) => eventJson(e, deliveries)),
          deliveries: deliveries.map(deliveryJson),
        };
      });

      api.get<{ Params: { id: string } }>('/messages/:id/raw', { schema: schemas.getRaw }, async (req, reply) => {
        const m = mustMessage(req.params.id);
        if (m.raw_purged_at !== null)
          throw new ApiError(
            410,
            'RAW_PURGED',
            `the raw message was purged at ${iso(m.raw_purged_at)} (retention.rawDays)`,
          );
        let raw: Buffer;
        try {
          raw = await deps.readRaw(m);
        } catch (err) {
          const code = errorCode(err);
          if (code === 'SPOOL_MISSING' || code === 'SPOOL_CORRUPT')
            throw new ApiError(410, code, (err as Error).message);
          throw err;
        }
        return reply
          .header('content-type', 'message/rfc822')
          .header('content-disposition', `attachment; filename="${m.id}.eml"`)
          .header('cache-control', 'no-store')
          .send(raw);
      });

      api.post<{ Params: { id: string } }>('/messages/:id/replay', { schema: schemas.replay }, async (req, reply) => {
        const m = mustMessage(req.params.id);
        if (m.raw_purged_at !== null)
          throw new ApiError(409, 'RAW_PURGED', 'the raw message was purged; it cannot be processed again');
        q.replay(m.id);
        req.log.info({ spoolId: m.id, previousState: m.state }, 'message queued for replay by an operator');
        deps.wakePipeline();
        return reply.code(202).send({ message: messageJson(q.message(m.id)!) });
      });

      api.post<{ Params: { id: string } }>('/messages/:id/handled', { schema: schemas.handled }, async (req) => {
        const m = mustMessage(req.params.id);
        if (inStates(WAITING_STATES, m.state))
          throw new ApiError(409, 'NOT_SETTLED', `message is ${m.state}: wait for processing to finish`);
        q.markHandled(m.id, clock());
        return { message: messageJson(q.message(m.id)!) };
      });

      api.get<{
        Querystring: {
          limit: number;
          cursor?: string;
          state?: string;
          endpoint?: string;
          event?: string;
          reservation?: number;
          message?: string;
        };
      }>('/deliveries', { schema: schemas.listDeliveries }, async (req) => {
        const { limit, cursor, ...f } = req.query;
        const page = q.deliveries(f, limit, decodeCursor(cursor, ['number']));
        return { items: page.rows.map(deliveryJson), nextCursor: encodeCursor(page.after) };
      });

      api.get<{ Params: { id: string } }>('/deliveries/:id', { schema: schemas.getDelivery }, async (req) => {
        const d = q.delivery(req.params.id);
        if (!d) throw new ApiError(404, 'NOT_FOUND', `no delivery ${req.params.id}`);
        return { ...deliveryJson(d), payload: parseJson<object>(d.payload) };
      });

      api.post<{ Params: { id: string } }>(
        '/deliveries/:id/redeliver',
        { schema: schemas.redeliver },
        async (req, reply) => {
          const r = deps.redeliver(req.params.id);
          if (r === null) throw new ApiError(404, 'NOT_FOUND', `no delivery ${req.params.id}`);
          if (r === 'pending') throw new ApiError(409, 'ALREADY_PENDING', 'the delivery is already queued');
          return reply.code(202).send({ delivery: deliveryJson(r) });
        },
      );
    },
    { prefix: '/api' },
  );
}
