/**
 * Pre-fill a data directory's spool with a backlog, written by the server's
 * own journal code (`Journal.append`), so a server started on it recovers the
 * records exactly as it would after a long stop.
 */
import path from 'node:path';
import { Journal, type Envelope } from '../../src/spool/index.ts';
import { messageVariants } from './smtp-load.ts';

// Records appended per group commit; bounds memory and the number of fsyncs.
const APPEND_BATCH = 500;

/** Appends `count` distinct variants of `raw` (own Message-ID and booking number each); returns their spool ids. */
export async function prefillSpool(
  dataDir: string,
  raw: Buffer,
  count: number,
  opts: { store?: string; rcpt?: string } = {},
): Promise<string[]> {
  const journal = new Journal({ dir: path.join(dataDir, 'spool') });
  await journal.open();
  const variant = messageVariants(raw);
  const envelope: Envelope = {
    mailFrom: 'yoyaku-noreply@ota.example',
    rcptTo: [opts.rcpt ?? 'sakura-ginza@intake.example'],
    clientIp: '127.0.0.2',
    helo: 'prefill.bench.example',
    tls: null,
    store: opts.store ?? 'sakura-ginza',
    quarantined: false,
    sessionId: 'bench-prefill',
  };
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i += APPEND_BATCH) {
      const n = Math.min(APPEND_BATCH, count - i);
      const recs = await Promise.all(
        Array.from({ length: n }, (_, k) => {
          const body = variant(i + k);
          return journal.append(envelope, [body], body.length);
        }),
      );
      for (const r of recs) ids.push(r.id);
    }
  } finally {
    await journal.close();
  }
  return ids;
}
