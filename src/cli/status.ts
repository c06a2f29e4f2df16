/** `ota-inbound status`: the pipeline at a glance, read from the database. */
import { databaseFile } from '../app.ts';
import type { Config } from '../config/index.ts';
import { Store } from '../store/index.ts';

export function printStatus(cfg: Readonly<Config>, opts: { json: boolean }): void {
  const store = new Store(databaseFile(cfg));
  try {
    const s = store.summary();
    const failures = store.failureCounts();
    const now = Date.now();
    const out = {
      messages: s.byState,
      backlog: (s.byState.pending ?? 0) + (s.byState.failed ?? 0),
      oldestPendingAgeSeconds: s.oldestPendingAt ? Math.round((now - s.oldestPendingAt) / 1000) : null,
      lastProcessedAt: s.lastProcessedAt ? new Date(s.lastProcessedAt).toISOString() : null,
      failures,
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    const lines = [
      `messages      ${
        Object.entries(s.byState)
          .map(([k, v]) => `${k}=${v}`)
          .join('  ') || 'none yet'
      }`,
      `backlog       ${out.backlog}${out.oldestPendingAgeSeconds !== null ? ` (oldest ${out.oldestPendingAgeSeconds}s)` : ''}`,
      `last processed ${out.lastProcessedAt ?? 'never'}`,
      `failures      ${failures.length ? failures.map((f) => JSON.stringify(f)).join(' ') : 'none'}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    store.close();
  }
}
