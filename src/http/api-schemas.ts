/**
 * JSON schemas of the API: fastify validates requests and serialises
 * responses with them, and the OpenAPI document (openapi.ts) is generated
 * from the same objects, so the document cannot drift from the routes.
 */
import { MESSAGE_STATES, DELIVERY_STATES } from '../store/index.ts';
import { KINDS, EVENTS, SOURCES } from '../extract/types.ts';
import { WEBHOOK_EVENTS } from '../deliver/index.ts';

export type JsonSchema = { [key: string]: unknown };

const str: JsonSchema = { type: 'string' };
const nstr: JsonSchema = { type: ['string', 'null'] };
const nint: JsonSchema = { type: ['integer', 'null'] };
const time: JsonSchema = { type: 'string', format: 'date-time' };
const ntime: JsonSchema = { type: ['string', 'null'], format: 'date-time' };
const freeObject: JsonSchema = { type: 'object', additionalProperties: true };
const DATE_RE = '^\\d{4}-\\d{2}-\\d{2}$';

export const errorSchema: JsonSchema = {
  type: 'object',
  description: 'Every error answers with this body; `code` is stable, `message` is for people.',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: str, message: str } } },
};

export const pageQuery: Record<string, JsonSchema> = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'Items per page.' },
  cursor: { type: 'string', maxLength: 200, description: 'Opaque `nextCursor` of the previous page.' },
};

export const reservationSchema: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer', description: 'Row id on this node (use source + reservationId across nodes).' },
    source: str,
    reservationId: { type: 'string', description: "The site's own booking id." },
    store: nstr,
    status: { type: 'string', enum: ['booked', 'requested', 'cancelled'] },
    visitDate: nstr,
    visitTime: nstr,
    partySize: nint,
    guestName: nstr,
    guestNameKana: nstr,
    phone: nstr,
    course: nstr,
    seats: nstr,
    notes: nstr,
    storeName: nstr,
    needsReview: { type: 'boolean' },
    reviewReasons: { type: 'array', items: str },
    lastMessage: { type: 'string', description: 'Spool id of the message that set the current state.' },
    lastSentAt: ntime,
    createdAt: time,
    updatedAt: time,
  },
};

export const deliverySchema: JsonSchema = {
  type: 'object',
  properties: {
    id: str,
    event: { type: 'string', enum: [...WEBHOOK_EVENTS] },
    endpoint: { type: 'string', description: '`default` (webhook.url) or `store:<id>` (webhook.storeUrls).' },
    state: { type: 'string', enum: [...DELIVERY_STATES] },
    attempts: { type: 'integer' },
    nextAttemptAt: { ...ntime, description: 'Set while pending.' },
    expiresAt: time,
    lastAttemptAt: ntime,
    lastStatus: nint,
    lastErrorCode: nstr,
    lastError: nstr,
    lastDurationMs: nint,
    deliveredAt: ntime,
    deadAt: ntime,
    createdAt: time,
    reservation: { type: 'integer' },
    message: str,
    idempotencyKey: str,
  },
};

export const deliveryDetailSchema: JsonSchema = {
  ...deliverySchema,
  properties: {
    ...(deliverySchema.properties as object),
    payload: { ...freeObject, description: 'The exact JSON body sent (webhook payload).' },
  },
};

export const eventSchema: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    reservation: { type: 'integer' },
    message: str,
    event: { type: 'string', enum: [...EVENTS] },
    sentAt: ntime,
    applied: { type: 'boolean', description: 'False when the mail was older than the current state (history only).' },
    changes: freeObject,
    reason: nstr,
    createdAt: time,
    deliveries: { type: 'array', items: deliverySchema },
  },
};

export const messageSchema: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'Spool id.' },
    receivedAt: time,
    state: { type: 'string', enum: [...MESSAGE_STATES] },
    kind: nstr,
    source: nstr,
    event: nstr,
    store: nstr,
    quarantined: { type: 'boolean' },
    quarantineReason: {
      type: ['string', 'null'],
      description:
        'Why it is quarantined: unknown-recipient, unknown-address, expired-address (rotated out past the grace period) or revoked-store (docs/stores.md); null when not quarantined or recorded before reasons were kept.',
    },
    subject: nstr,
    from: nstr,
    reservationId: nstr,
    needsReview: { type: 'boolean' },
    attempts: { type: 'integer' },
    errorCode: nstr,
    error: nstr,
    messageId: nstr,
    sentAt: ntime,
    duplicateOf: nstr,
    processedAt: ntime,
    handledAt: ntime,
    size: { type: 'integer' },
  },
};

export const messageDetailSchema: JsonSchema = {
  ...messageSchema,
  properties: {
    ...(messageSchema.properties as object),
    envelope: {
      type: 'object',
      properties: {
        mailFrom: nstr,
        rcptTo: { type: 'array', items: str },
        clientIp: str,
        helo: nstr,
        tls: { type: ['object', 'null'], additionalProperties: true },
      },
    },
    contentHash: nstr,
    extraction: {
      type: ['object', 'null'],
      additionalProperties: true,
      description:
        'Extraction JSON (the contract in docs/sites.md): kind, source, senderDomain, event, the reservation fields, changes, needsReview, reviewReasons.',
    },
    meta: {
      type: ['object', 'null'],
      additionalProperties: true,
      description:
        'Parser metadata: subject, from, forwarding, digest (date, count, entries: the bookings the list names) / verification details, nonBooking, warnings.',
    },
    auth: {
      type: ['object', 'null'],
      additionalProperties: true,
      description:
        'Sender authentication: SPF, DKIM, DMARC and ARC results and the verdict for the claimed site (docs/security.md). Null until processed.',
    },
    rawAvailable: { type: 'boolean' },
    events: { type: 'array', items: eventSchema },
    deliveries: { type: 'array', items: deliverySchema },
  },
};

const list = (item: JsonSchema): JsonSchema => ({
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: {
    items: { type: 'array', items: item },
    nextCursor: { ...nstr, description: 'Pass as `cursor` for the next page; null on the last page.' },
  },
});

const errors = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
  410: errorSchema,
  500: errorSchema,
};
const idParam = (description: string, type: 'string' | 'integer' = 'string'): JsonSchema => ({
  type: 'object',
  required: ['id'],
  properties: {
    id:
      type === 'integer'
        ? { type: 'integer', minimum: 1, description }
        : { type: 'string', maxLength: 100, description },
  },
});

/** Route schemas (fastify) with the OpenAPI extras `summary`, `tags`, `produces`. */
export const schemas = {
  listReservations: {
    summary: 'Reservations, newest first',
    tags: ['reservations'],
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...pageQuery,
        store: { type: 'string', maxLength: 64 },
        source: { type: 'string', enum: [...SOURCES] },
        status: { type: 'string', enum: ['booked', 'requested', 'cancelled'] },
        needsReview: { type: 'boolean' },
        visitFrom: { type: 'string', pattern: DATE_RE, description: 'Visit date from (YYYY-MM-DD, inclusive).' },
        visitTo: { type: 'string', pattern: DATE_RE, description: 'Visit date to (YYYY-MM-DD, inclusive).' },
        q: {
          type: 'string',
          minLength: 1,
          maxLength: 100,
          description: 'Guest name (kanji or kana, spaces ignored), reservation id, or phone digits; partial match.',
        },
      },
    },
    response: { 200: list(reservationSchema), ...errors },
  },
  getReservation: {
    summary: 'One reservation with its event history and deliveries',
    tags: ['reservations'],
    params: idParam('Reservation row id', 'integer'),
    response: {
      200: {
        ...reservationSchema,
        properties: { ...(reservationSchema.properties as object), events: { type: 'array', items: eventSchema } },
      },
      ...errors,
    },
  },
  listMessages: {
    summary: 'Messages, newest first',
    tags: ['messages'],
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...pageQuery,
        state: { type: 'string', enum: [...MESSAGE_STATES] },
        kind: { type: 'string', enum: [...KINDS] },
        source: { type: 'string', enum: [...SOURCES] },
        store: { type: 'string', maxLength: 64 },
        event: { type: 'string', enum: [...EVENTS] },
        reason: {
          type: 'string',
          maxLength: 64,
          description: 'Error code of failed / dead messages (e.g. PARSE_TIMEOUT).',
        },
        handled: { type: 'boolean', description: 'Marked handled by a person (true) or not yet (false).' },
        receivedFrom: { type: 'string', format: 'date-time' },
        receivedTo: { type: 'string', format: 'date-time' },
      },
    },
    response: { 200: list(messageSchema), ...errors },
  },
  getMessage: {
    summary: 'One message: envelope, extraction, metadata, events, deliveries',
    tags: ['messages'],
    params: idParam('Spool id'),
    response: { 200: messageDetailSchema, ...errors },
  },
  getRaw: {
    summary: 'The raw message as received (.eml)',
    tags: ['messages'],
    params: idParam('Spool id'),
    produces: ['message/rfc822'],
    response: { 401: errorSchema, 403: errorSchema, 404: errorSchema, 410: errorSchema, 500: errorSchema },
  },
  replay: {
    summary: 'Process a message again (attempts reset); what it already produced is not produced twice',
    tags: ['actions'],
    params: idParam('Spool id'),
    response: { 202: { type: 'object', properties: { message: messageSchema } }, ...errors },
  },
  handled: {
    summary: 'Mark a review or verification mail as handled by a person',
    tags: ['actions'],
    params: idParam('Spool id'),
    response: { 200: { type: 'object', properties: { message: messageSchema } }, ...errors },
  },
  listDeliveries: {
    summary: 'Webhook deliveries, newest first',
    tags: ['deliveries'],
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...pageQuery,
        state: { type: 'string', enum: [...DELIVERY_STATES] },
        endpoint: { type: 'string', maxLength: 100 },
        event: { type: 'string', enum: [...WEBHOOK_EVENTS] },
        reservation: { type: 'integer', minimum: 1 },
        message: { type: 'string', maxLength: 100 },
      },
    },
    response: { 200: list(deliverySchema), ...errors },
  },
  getDelivery: {
    summary: 'One delivery with its payload',
    tags: ['deliveries'],
    params: idParam('Delivery id'),
    response: { 200: deliveryDetailSchema, ...errors },
  },
  redeliver: {
    summary: 'Send a dead (or delivered) delivery again: same id, same Idempotency-Key, fresh retry window',
    tags: ['actions'],
    params: idParam('Delivery id'),
    response: { 202: { type: 'object', properties: { delivery: deliverySchema } }, ...errors },
  },
  openapi: {
    summary: 'This document (OpenAPI 3.1)',
    tags: ['meta'],
    response: { 200: { type: 'object', additionalProperties: true }, 401: errorSchema, 403: errorSchema },
  },
} satisfies Record<string, JsonSchema>;
