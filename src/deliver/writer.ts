/**
 * The outbox writer: turns a just-recorded reservation event into one
 * delivery row per endpoint, inside the event's own transaction. Whoever
 * calls `Store.applyOutcome` owns that transaction and hands the events it
 * returns to a writer: the pipeline (through the Dispatcher, which then
 * sends them) and the `replay` command (whose rows the server sends).
 */
import type { Config } from '../config/index.ts';
import type { Outbox, RecordedEvent } from '../store/index.ts';
import { buildPayload, idempotencyKey, newDeliveryId } from './payload.ts';
import { HOUR_MS } from '../shared/index.ts';

type Settings = Readonly<Config['webhook']>;

/** Endpoint keys → URLs. Keys are stored on deliveries so a changed URL applies to what is still pending. */
export class Endpoints {
  private readonly urls = new Map<string, string>();
  private readonly byStore = new Map<string, string[]>();

  constructor(settings: Pick<Settings, 'url' | 'storeUrls'>) {
    if (settings.url) this.urls.set('default', settings.url);
    for (const { store, url } of settings.storeUrls) {
      const keys = this.byStore.get(store) ?? [];
      const key = keys.length === 0 ? `store:${store}` : `store:${store}#${keys.length + 1}`;
      keys.push(key);
      this.byStore.set(store, keys);
      this.urls.set(key, url);
    }
  }

  /** Endpoint keys a reservation of this store is delivered to: its own when listed, else the default. */
  keysFor(store: string | null): string[] {
    const own = store ? this.byStore.get(store) : undefined;
    if (own) return own;
    return this.urls.has('default') ? ['default'] : [];
  }

  urlOf(key: string): string | null {
    return this.urls.get(key) ?? null;
  }

  get size(): number {
    return this.urls.size;
  }
}

export class OutboxWriter {
  readonly endpoints: Endpoints;

  constructor(
    private readonly outbox: Outbox,
    private readonly settings: Settings,
    private readonly clock: () => number = Date.now,
  ) {
    this.endpoints = new Endpoints(settings);
  }

  /**
   * Writes the event's deliveries, one per endpoint of its store; returns how
   * many (0 when none is configured for it). A second write of the same event
   * adds nothing. Call inside the transaction that recorded the event.
   */
  write(e: RecordedEvent): number {
    const keys = this.endpoints.keysFor(e.row.store);
    if (keys.length === 0) return 0;
    const reservation = this.outbox.reservation(e.reservationRowId);
    if (!reservation) throw new Error(`reservation row ${e.reservationRowId} vanished inside its own transaction`);
    const now = this.clock();
    const key = idempotencyKey({
      source: reservation.source,
      reservationId: reservation.reservation_id,
      event: e.event,
      messageId: e.outcome.messageId,
      contentHash: e.outcome.contentHash,
      spoolId: e.row.id,
      revision: e.replayReason ? e.outcome.extraction : null,
    });
    for (const endpoint of keys) {
      const id = newDeliveryId();
      const payload = buildPayload(id, e, reservation);
      this.outbox.insert({
        id,
        event_id: e.eventId,
        reservation: e.reservationRowId,
        message: e.row.id,
        endpoint,
        event: payload.event,
        idempotency_key: key,
        payload: JSON.stringify(payload),
        next_attempt_at: now,
        expires_at: now + this.settings.maxAgeHours * HOUR_MS,
        created_at: now,
      });
    }
    return keys.length;
  }
}
