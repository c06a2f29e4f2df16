/**
 * The outbox writer: turns a just-recorded reservation event into one
 * delivery row per endpoint, inside the event's own transaction. Installed as
 * the Store's `onEvent` hook by the server (through the Dispatcher) and by
 * anything else that records events on the same database (offline replay).
 */
import type { Config } from '../config/index.ts';
import type { Outbox, RecordedEvent, Store } from '../store/index.ts';
import { Outbox as OutboxStore } from '../store/index.ts';
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

  /** Queues the event for every endpoint of its store (none configured: nothing). Replays of the same event add nothing. */
  /** Writes the event's deliveries; returns how many (0 when no endpoint is configured for its store). */
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

/**
 * Makes `store` write webhook deliveries for the events it records — for
 * processes other than the server (the `replay` command) so their events are
 * delivered too; the server's dispatcher picks the rows up within seconds.
 */
export function attachOutbox(store: Store, settings: Settings, clock?: () => number): OutboxWriter {
  const writer = new OutboxWriter(new OutboxStore(store.db), settings, clock);
  store.onEvent = (e) => writer.write(e);
  return writer;
}
