/**
 * SQLite (better-sqlite3) in WAL mode with numbered migrations applied in
 * order inside one transaction each. WAL with synchronous=NORMAL is not
 * power-loss durable for the last commits — acceptable because the spool
 * journal is the durable copy and the pipeline is idempotent from it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export type Db = Database.Database;

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/**
 * How long a writer waits on a lock held by another connection before
 * SQLITE_BUSY. Command-line tools wait patiently; the server waits briefly,
 * because better-sqlite3 blocks its event loop while waiting — the spool
 * already holds the message, and the pipeline retries from it.
 */
export const BUSY_TIMEOUT_MS = 5_000;
export const SERVER_BUSY_TIMEOUT_MS = 200;

/** Opens (creating if needed) the database and brings its schema up to date. */
export function openDatabase(file: string, opts: { readonly?: boolean; busyTimeoutMs?: number } = {}): Db {
  if (!opts.readonly) fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS}`);
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  }
  return db;
}

/** Applies every `NNN_name.sql` above the recorded `user_version`, in order. */
export function migrate(db: Db): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const files = fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort();
  let version = current;
  for (const f of files) {
    const n = Number(f.slice(0, 3));
    if (n <= current) continue;
    const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${n}`);
    })();
    version = n;
  }
  return version;
}
