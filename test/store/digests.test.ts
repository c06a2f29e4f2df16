/**
 * The digest completeness check on a real SQLite store: which listed
 * bookings match imported reservations, and what the gauge counts.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.ts';
import { tempDir } from '../helpers/app.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const store = new Store(path.join(tempDir(), 'digests.db'));
afterAll(() => store.close());

let n = 0;
function reservation(r: { store: string | null; date: string; time: string; party: number; status?: string }): void {
  n++;
  sqliteOf(store)
    .prepare(
      `INSERT INTO reservations (source, reservation_id, store, status, visit_date, visit_time, party_size, last_message, created_at, updated_at)
       VALUES ('tabelog', ?, ?, ?, ?, ?, ?, 'm', 0, 0)`,
    )
    .run(`R${n}`, r.store, r.status ?? 'booked', r.date, r.time, r.party);
}

const D = '2026-12-20';
reservation({ store: 'ginza', date: D, time: '19:00', party: 2 });
reservation({ store: 'ginza', date: D, time: '20:00', party: 4, status: 'cancelled' });
reservation({ store: 'shibuya', date: D, time: '18:00', party: 3 });

describe('DigestChecks.check', () => {
  it('matches each imported reservation to one listed booking at most', () => {
    const gap = store.digests.check('tabelog', 'ginza', {
      date: D,
      count: 2,
      entries: [
        { time: '19:00', partySize: 2, guestName: '山田' },
        { time: '19:00', partySize: 2, guestName: '佐藤' },
      ],
    });
    expect(gap).toEqual({
      missing: [{ time: '19:00', partySize: 2, guestName: '佐藤' }],
      missingCount: 1,
      imported: 1,
    });
  });

  it('does not count cancelled reservations nor another store’s', () => {
    const gap = store.digests.check('tabelog', 'ginza', {
      date: D,
      count: null,
      entries: [
        { time: '20:00', partySize: 4, guestName: null },
        { time: '18:00', partySize: 3, guestName: null },
      ],
    });
    expect(gap.missingCount).toBe(2);
  });

  it('compares a count-only list with the number imported', () => {
    expect(store.digests.check('tabelog', 'ginza', { date: D, count: 3, entries: [] })).toEqual({
      missing: [],
      missingCount: 2,
      imported: 1,
    });
    expect(store.digests.check('tabelog', 'ginza', { date: D, count: 1, entries: [] }).missingCount).toBe(0);
  });

  it('counts what a count says beyond a shorter list', () => {
    const gap = store.digests.check('tabelog', 'ginza', {
      date: D,
      count: 3,
      entries: [{ time: '19:00', partySize: 2, guestName: null }],
    });
    expect(gap.missingCount).toBe(2);
    expect(gap.missing).toEqual([]);
  });

  it('finds nothing missing in a list without a day', () => {
    expect(store.digests.check('tabelog', 'ginza', { date: null, count: 9, entries: [] }).missingCount).toBe(0);
  });
});
