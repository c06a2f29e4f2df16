/** `ota-inbound spool show ID`: a message's raw bytes (or envelope) from the journal. */
import { databaseFile } from '../app.ts';
import type { Config } from '../config/index.ts';
import { Spool } from '../spool/index.ts';
import { Store, refOf } from '../store/index.ts';

/**
 * Writes the message's raw bytes (as received) to stdout, or its envelope as
 * JSON; with `trace`, the `Received:` header recorded when it was accepted
 * comes first (the raw bytes themselves never contain it).
 */
export async function showSpooled(cfg: Readonly<Config>, id: string, envelope: boolean, trace = false): Promise<void> {
  const store = new Store(databaseFile(cfg));
  try {
    const row = store.message(id);
    if (!row) throw new Error(`no message with spool id ${id}`);
    if (envelope) {
      const { mail_from, rcpt_to, client_ip, helo, tls, store: st, quarantined, received_at, size, state } = row;
      const view = {
        id,
        receivedAt: new Date(received_at).toISOString(),
        size,
        state,
        mailFrom: mail_from,
        rcptTo: JSON.parse(rcpt_to) as string[],
        clientIp: client_ip,
        helo,
        tls: tls ? (JSON.parse(tls) as unknown) : null,
        store: st,
        quarantined: !!quarantined,
        quarantineReason: row.quarantine_reason,
      };
      process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      return;
    }
    const spool = new Spool({ dataDir: cfg.dataDir, minFreeBytes: 0 });
    const rec = await spool.journal.readRecord(refOf(row), row.id);
    const out =
      trace && rec.envelope.received
        ? Buffer.concat([Buffer.from(rec.envelope.received, 'latin1'), rec.body])
        : rec.body;
    await new Promise<void>((resolve, reject) => process.stdout.write(out, (err) => (err ? reject(err) : resolve())));
    await spool.journal.releaseReaders();
  } finally {
    store.close();
  }
}
