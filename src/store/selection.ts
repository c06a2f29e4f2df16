/** The replay selection view: messages for a replay or rebuild by id, time, state, source or store. */
import type { Db } from './db.ts';
import type { MessageRow, MessageSelection } from './rows.ts';

/** The rows a selection names, oldest first. Throws when the selection is empty (say what to replay). */
export function selectMessages(db: Db, sel: MessageSelection): MessageRow[] {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (sel.ids?.length) {
    where.push(`id IN (${sel.ids.map((_, i) => `@id${i}`).join(',')})`);
    sel.ids.forEach((id, i) => (params[`id${i}`] = id));
  }
  if (sel.since !== undefined) {
    where.push('received_at >= @since');
    params.since = sel.since;
  }
  if (sel.until !== undefined) {
    where.push('received_at < @until');
    params.until = sel.until;
  }
  if (sel.states?.length) {
    where.push(`state IN (${sel.states.map((_, i) => `@st${i}`).join(',')})`);
    sel.states.forEach((s, i) => (params[`st${i}`] = s));
  }
  if (sel.source) {
    where.push('source = @source');
    params.source = sel.source;
  }
  if (sel.store) {
    where.push('store = @store');
    params.store = sel.store;
  }
  if (where.length === 0 && !sel.all)
    throw new Error('nothing selected: give spool ids, --state, --since/--until, --source, --store or --all');
  const sql = `SELECT * FROM messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at, id`;
  return db.prepare(sql).all(params) as MessageRow[];
}
