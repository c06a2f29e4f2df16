/**
 * The SQLite connection behind a Store, for tests and tools that inspect or
 * tamper with rows directly (a test that corrupts a row, a bench that counts
 * them). Not exported from index.ts, and ESLint forbids importing this file
 * from src/ outside store/: application code goes through the repositories.
 */
import type { Db } from './db.ts';
import type { Store } from './index.ts';

/** The store's own connection (same transaction state, same busy timeout). */
export function sqliteOf(store: Store): Db {
  return store['db'];
}
