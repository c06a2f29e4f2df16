/**
 * The queries that run on the event loop again and again — the pipeline's
 * scheduling, every /metrics scrape, every watchdog tick — must read index
 * ranges, never the whole messages table: at a few hundred thousand rows a
 * full scan blocks SMTP for hundreds of milliseconds (measured: a watchdog
 * tick took ~200 ms and a scrape ~45 ms at 300,000 rows before these plans).
 * SQLite has no statistics here (no ANALYZE), so a plan can silently change
 * with an added index; this test pins them.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Statement } from 'better-sqlite3';
import { Store } from '../../src/store/index.ts';
import { tempDir } from '../helpers/app.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const store = new Store(path.join(tempDir(), 'plans.db'));
afterAll(() => store.close());

function planOf(stmt: Statement): string[] {
  const sql = stmt.source;
  const named = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1]!, 0]));
  const positional = new Array<number>((sql.match(/\?/g) ?? []).length).fill(0);
  const explain = sqliteOf(store).prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const rows = (Object.keys(named).length ? explain.all(named) : explain.all(...positional)) as { detail: string }[];
  return rows.map((r) => r.detail);
}

const stmtsOf = (o: object) => (o as unknown as { stmts: Record<string, Statement> }).stmts;

describe('query plans of the hot, repeated queries', () => {
  const hot: [string, Statement][] = [
    ...(
      [
        'backlog',
        'dueRetries',
        'nextDueAt',
        'backlogCount',
        'oldestPending',
        'lastProcessed',
        'dupByMessageId',
        'dupByHash',
      ] as const
    ).map((k) => [`store.${k}`, stmtsOf(store)[k]!] as [string, Statement]),
    ['reservations.findReservation', stmtsOf(store.reservations).findReservation!],
    // The dashboard page polls the overview while it is open.
    ...(['series', 'hourly', 'open'] as const).map(
      (k) => [`dashboard.${k}`, stmtsOf(store.dashboard)[k]!] as [string, Statement],
    ),
    ...(['oldestWaiting', 'deadUnhandled', 'sourceOutcomes', 'recent', 'first'] as const).map(
      (k) => [`monitor.${k}`, stmtsOf(store.monitor)[k]!] as [string, Statement],
    ),
  ];
  it.each(hot)('%s reads an index range, not the whole messages table', (_name, stmt) => {
    const plan = planOf(stmt);
    expect(
      plan.filter((line) => /^SCAN messages\b/.test(line)),
      plan.join(' | '),
    ).toEqual([]);
  });

  // A SEARCH can still cover a whole history: these must range over the
  // window they ask for (a site's outcomes once took every row of the site).
  it.each([
    ['monitor.sourceOutcomes', 'messages_received', stmtsOf(store.monitor).sourceOutcomes!],
    ['monitor.recent', 'messages_received', stmtsOf(store.monitor).recent!],
    ['store.lastProcessed', 'messages_processed', stmtsOf(store).lastProcessed!],
  ] as [string, string, Statement][])('%s uses the index %s', (_name, index, stmt) => {
    expect(planOf(stmt).join(' | ')).toContain(`INDEX ${index}`);
  });
});
