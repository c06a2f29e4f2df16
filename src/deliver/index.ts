/**
 * Reservation webhooks: an outbox written with each reservation event, and a
 * dispatcher that delivers it signed, in order per reservation, with retries
 * and dead letters (docs/webhooks.md).
 */
export {
  Dispatcher,
  type AttemptEvent,
  type AttemptResult,
  type DispatcherOptions,
  type WebhookSettings,
} from './dispatcher.ts';
export { Endpoints, OutboxWriter } from './writer.ts';
export {
  WEBHOOK_EVENTS,
  buildPayload,
  idempotencyKey,
  newDeliveryId,
  webhookReservation,
  type WebhookEvent,
  type WebhookPayload,
  type WebhookReservation,
} from './payload.ts';
export {
  computeSignature,
  signatureHeader,
  parseSignatureHeader,
  verifySignature,
  DEFAULT_TOLERANCE_SECONDS,
} from './signature.ts';
