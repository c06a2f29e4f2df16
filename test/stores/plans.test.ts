/**
 * The store page reads each store's mail by an index range (store, source),
 * never the whole messages table, and RCPT TO's registry lookup is a primary
 * key probe: both run per request / per recipient on the event loop.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Statement } from 'better-sqlite3';
import { Store } from '../../src/store/index.ts';
import { sqliteOf } from '../../src/store/testing.ts';
import { tempDir } from '../helpers/app.ts';

const store = new Store(path.join(tempDir(), 'plans.db'));
const registry = store.registry({ graceDays: 14 });
afterAll(() => store.close());

function planOf(name: string): string {
  const stmt = (registry as unknown as { stmts: Record<string, Statement> }).stmts[name]!;
  const n = (stmt.source.match(/\?/g) ?? []).length;
  const rows = sqliteOf(store)
    .prepare(`EXPLAIN QUERY PLAN ${stmt.source}`)
    .all(...new Array<number>(n).fill(0)) as {
    detail: string;
  }[];
  return rows.map((r) => r.detail).join(' | ');
}

describe('registry query plans', () => {
  it.each(['activity', 'verifications'])('%s uses the messages_store_source index', (name) => {
    const plan = planOf(name);
    expect(plan).toMatch(/USING (COVERING )?INDEX messages_store_source/);
    expect(plan).not.toMatch(/SCAN messages(?! USING)/);
  });

  it('the RCPT TO lookup is a primary key probe', () => {
    expect(planOf('address')).toMatch(/SEARCH a USING INDEX sqlite_autoindex_store_addresses_1 \(local_part=\?\)/);
  });
});
