/**
 * `applyOutcome` on a real SQLite store: it returns exactly the event rows it
 * wrote, and the caller's outbox rows commit or roll back with them (there is
 * no hook on the store any more: the transaction's owner writes both).
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Store, type Outcome, type WorkRow } from '../../src/store/index.ts';
import { OutboxWriter } from '../../src/deliver/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { Extraction } from '../../src/extract/types.ts';
import { tempDir } from '../helpers/app.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const T0 = Date.parse('2026-12-01T09:00:00Z');
const store = new Store(path.join(tempDir(), 'apply.db'), { clock: () => T0 });
afterAll(() => store.close());

const { webhook } = loadConfig({
  env: {},
  file: null,
  overrides: { 'webhook.url': 'https://pos.example/hooks/reservations', 'webhook.secret': 'whsec_test' },
});
const writer = new OutboxWriter(store.outbox, webhook, () => T0);

let seq = 0;
/** Spools one message for the ginza store and returns its work row. */
function spooled(): WorkRow {
  seq += 1;
  const id = `m${String(seq).padStart(4, '0')}`;
  const cursor = store.cursor();
  store.recordSpooled(
    [
      {
        id,
        receivedAt: T0 + seq,
        size: 4_200,
        ref: { segment: 1, offset: seq * 5_000, headerLength: 180, bodyLength: 4_200 },
        envelope: {
          mailFrom: 'no-reply@tabelog.example',
          rcptTo: ['ginza@intake.example'],
          clientIp: '192.0.2.25',
          helo: 'mx.tabelog.example',
          tls: null,
          store: 'ginza',
          quarantined: false,
          sessionId: `s${seq}`,
        },
      },
    ],
    { segment: cursor.segment, offset: cursor.offset + 1 },
  );
  return store.backlog({ t: 0, id: '' }, 1_000).find((r) => r.id === id)!;
}

function extraction(over: Partial<Extraction> = {}): Extraction {
  return {
    kind: 'reservation',
    source: 'tabelog',
    senderDomain: 'tabelog.example',
    event: 'new',
    reservationId: '80012345',
    visitDate: '2026-12-24',
    visitTime: '19:30',
    partySize: 2,
    guestName: '高橋 美咲',
    guestNameKana: 'タカハシ ミサキ',
    phone: '09011112222',
    course: 'クリスマスコース',
    seats: null,
    notes: null,
    storeName: '鮨 銀座はなぶさ',
    changes: {},
    needsReview: false,
    reviewReasons: [],
    ...over,
  };
}

function outcome(row: WorkRow, over: Partial<Outcome> = {}): Outcome {
  return {
    id: row.id,
    messageId: `<${row.id}@tabelog.example>`,
    sentAt: row.received_at,
    contentHash: `hash-${row.id}`,
    subject: '【新規予約】ネット予約が入りました【食べログネット予約】',
    extraction: extraction(),
    meta: {},
    ...over,
  };
}

const count = (table: string) =>
  (sqliteOf(store).prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('Store.applyOutcome', () => {
  it('returns the event it recorded, with what its webhook needs', () => {
    const row = spooled();
    const o = outcome(row);
    const res = store.transaction(() => store.applyOutcome(row, o));
    expect(res.state).toBe('processed');
    expect(res.events).toHaveLength(1);
    const [e] = res.events;
    expect(e).toMatchObject({ event: 'new', applied: true, replayReason: null, row: { id: row.id }, outcome: o });
    expect(store.reservations.get(e!.reservationRowId)).toMatchObject({
      source: 'tabelog',
      reservation_id: '80012345',
      party_size: 2,
    });
    expect(store.queries.events(e!.reservationRowId).map((x) => x.id)).toEqual([e!.eventId]);
  });

  it('returns no event when the same outcome is applied again, and a new one when a replay gives a reason', () => {
    const row = spooled();
    const o = outcome(row, { extraction: extraction({ reservationId: '80012346' }) });
    expect(store.transaction(() => store.applyOutcome(row, o)).events).toHaveLength(1);
    expect(store.transaction(() => store.applyOutcome(row, o)).events).toEqual([]);
    const again = store.transaction(() =>
      store.applyOutcome(row, o, { replayReason: 'replay: extraction changed (partySize)' }),
    );
    expect(again.events.map((e) => e.replayReason)).toEqual(['replay: extraction changed (partySize)']);
  });

  it('returns no event for a duplicate, and an unapplied one for an older mail', () => {
    const first = spooled();
    const o = outcome(first, { extraction: extraction({ reservationId: '80012347' }) });
    store.transaction(() => store.applyOutcome(first, o));
    const copy = spooled();
    const dup = store.transaction(() => store.applyOutcome(copy, { ...o, id: copy.id }));
    expect(dup).toMatchObject({ state: 'duplicate', duplicateOf: first.id, events: [] });

    const late = spooled();
    const older = store.transaction(() =>
      store.applyOutcome(
        late,
        outcome(late, {
          sentAt: first.received_at - 60_000,
          extraction: extraction({ reservationId: '80012347', event: 'change', partySize: 6 }),
        }),
      ),
    );
    expect(older.events.map((e) => [e.event, e.applied])).toEqual([['change', false]]);
  });

  it("commits the caller's outbox rows with the event, and rolls both back together", () => {
    const row = spooled();
    const o = outcome(row, { extraction: extraction({ reservationId: '80012348' }) });
    const events = count('reservation_events');
    const deliveries = count('deliveries');
    expect(() =>
      store.transaction(() => {
        const res = store.applyOutcome(row, o);
        for (const e of res.events) writer.write(e);
        expect(count('deliveries')).toBe(deliveries + 1);
        throw new Error('the endpoint table is gone');
      }),
    ).toThrow('the endpoint table is gone');
    expect(count('reservation_events')).toBe(events);
    expect(count('deliveries')).toBe(deliveries);
    expect(store.message(row.id)?.state).toBe('pending');

    const written = store.transaction(() => store.applyOutcome(row, o).events.reduce((n, e) => n + writer.write(e), 0));
    expect(written).toBe(1);
    expect(count('reservation_events')).toBe(events + 1);
    const [d] = store.queries.deliveriesOfMessage(row.id);
    expect(d).toMatchObject({ endpoint: 'default', event: 'reservation.new', state: 'pending' });
  });
});
