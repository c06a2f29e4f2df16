/** Pieces the pipeline-side scenarios share: a small background load, settling waits, RSS sampling. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageTiming, OtaInbound } from '../lib/server.ts';
import { runSmtpLoad, type LoadReport } from '../lib/smtp-load.ts';
import { BENCH_MAIL_FROM, BENCH_RCPT_TO, LOOPBACK_SOURCES, type Context } from '../lib/types.ts';

/** States after which processing of a message is over (failed means "will retry"). */
export const SETTLED_STATES = new Set(['processed', 'duplicate', 'ignored', 'review', 'quarantined', 'dead']);

/** An open-loop load of small bench mails, until `stopWhen` (checked before each message) or the cap. */
export function smallLoad(
  ctx: Context,
  port: number,
  o: { connections: number; ratePerSec: number; seconds: number; stopWhen?: () => boolean },
): Promise<LoadReport> {
  return runSmtpLoad({
    host: '127.0.0.1',
    port,
    connections: o.connections,
    messages: Math.ceil(o.ratePerSec * o.seconds),
    maxDurationMs: o.seconds * 1000,
    reuse: true,
    ratePerSec: o.ratePerSec,
    body: ctx.body,
    mailFrom: BENCH_MAIL_FROM,
    rcptTo: BENCH_RCPT_TO,
    localAddresses: LOOPBACK_SOURCES,
    ...(o.stopWhen ? { stopWhen: o.stopWhen } : {}),
  });
}

/** Polls the database until every id is settled (or the cap); returns the last rows read. */
export async function waitSettled(
  ota: OtaInbound,
  ids: readonly string[],
  capMs: number,
  everyMs = 100,
): Promise<{ rows: MessageTiming[]; settled: boolean }> {
  const deadline = Date.now() + capMs;
  let rows: MessageTiming[] = [];
  while (Date.now() < deadline) {
    rows = ota.rows(ids);
    if (rows.length === ids.length && rows.every((r) => SETTLED_STATES.has(r.state))) return { rows, settled: true };
    await sleep(everyMs);
  }
  return { rows, settled: false };
}

/** Samples a process's RSS every `everyMs` until stopped; `max()` is the highest reading. */
export function rssSampler(sample: () => Promise<{ rssBytes: number }>, everyMs = 50): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        max = Math.max(max, (await sample()).rssBytes);
      } catch {
        return;
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

export function non250(report: LoadReport): string | null {
  const bad = Object.entries(report.codes).filter(([c]) => c !== '250');
  const errs = Object.entries(report.errors);
  if (!bad.length && !errs.length) return null;
  return [...bad.map(([c, n]) => `${c}×${n}`), ...errs.map(([k, n]) => `${k}×${n}`)].join(', ');
}
