/**
 * Fault schedules: a seed decides everything a schedule does — which realistic
 * mails are sent, in which order and how many at once (resends, re-issues with
 * a new Message-ID, changes out of order, A→B→A party sizes), and which faults
 * strike between them (the database locked by another connection, EIO / ENOSPC
 * on the journal's writes and syncs, a parser worker killed, a crash with or
 * without a power cut and a flipped byte, a clean restart).
 */
import { Rng } from './rng.ts';

export type Event = 'new' | 'change' | 'cancel';

/** One notification of the site about one booking; `seq` orders the Dates of a booking. */
export interface MailSpec {
  booking: string;
  seq: number;
  event: Event;
  party: number;
  /** 0: the first copy; n > 0: the n-th resend (same bytes) or re-issue (new Message-ID). */
  copy: number;
  reissue: boolean;
}

export type Op =
  | { t: 'send'; mails: MailSpec[]; background: boolean }
  | { t: 'pause'; ms: number }
  | { t: 'lock'; ms: number }
  | { t: 'ioFault'; op: 'writev' | 'datasync'; code: 'EIO' | 'ENOSPC'; count: number }
  | { t: 'killWorker' }
  | { t: 'crash'; powerCut: boolean; flip: boolean }
  | { t: 'restart' };

export interface Schedule {
  seed: number;
  ops: Op[];
}

/** A booking's life: a new reservation, changes (sometimes back to an earlier party size), maybe a cancel. */
function timeline(rng: Rng, booking: string): MailSpec[] {
  const out: MailSpec[] = [];
  let party = rng.int(2, 6);
  out.push({ booking, seq: 0, event: 'new', party, copy: 0, reissue: false });
  const changes = rng.int(0, 3);
  const sizes = [party];
  for (let i = 1; i <= changes; i++) {
    // A→B→A: return to a size this booking had before, half of the time.
    party = sizes.length > 1 && rng.chance(0.5) ? sizes[sizes.length - 2]! : party === 8 ? 7 : party + rng.int(1, 2);
    sizes.push(party);
    out.push({ booking, seq: i, event: 'change', party, copy: 0, reissue: false });
  }
  if (rng.chance(0.25)) out.push({ booking, seq: changes + 1, event: 'cancel', party, copy: 0, reissue: false });
  return out;
}

export function generate(seed: number): Schedule {
  const rng = new Rng(seed);
  const bookings = rng.int(1, 4); // booking numbers as the site writes them: 8 digits
  const mails: MailSpec[] = [];
  for (let b = 0; b < bookings; b++) mails.push(...timeline(rng, String(20_000_000 + (seed % 1_000_000) * 10 + b)));
  // Out of order: a booking's mails may arrive in any order; each is what the site sent at its Date.
  rng.shuffle(mails);
  const extra: MailSpec[] = [];
  for (const m of mails) if (rng.chance(0.2)) extra.push({ ...m, copy: 1, reissue: rng.chance(0.5) });
  const queue = [...mails, ...extra];

  const ops: Op[] = [];
  while (queue.length > 0) {
    const roll = rng.next();
    if (roll < 0.45) {
      ops.push({ t: 'send', mails: queue.splice(0, rng.int(1, 5)), background: rng.chance(0.4) });
    } else if (roll < 0.55) {
      ops.push({ t: 'pause', ms: rng.int(0, 150) });
    } else if (roll < 0.67) {
      ops.push({ t: 'lock', ms: rng.int(50, 1200) });
    } else if (roll < 0.79) {
      ops.push({
        t: 'ioFault',
        op: rng.pick(['writev', 'datasync'] as const),
        code: rng.pick(['EIO', 'ENOSPC'] as const),
        count: rng.int(1, 3),
      });
    } else if (roll < 0.85) {
      ops.push({ t: 'killWorker' });
    } else if (roll < 0.95) {
      ops.push({ t: 'crash', powerCut: rng.chance(0.6), flip: rng.chance(0.3) });
    } else {
      ops.push({ t: 'restart' });
    }
  }
  return { seed, ops };
}

/** One line per step, for a failure report. */
export function describe(s: Schedule): string {
  return s.ops
    .map((op, i) => {
      const { t, ...rest } = op;
      if (op.t === 'send')
        return `${i}: send${op.background ? ' (background)' : ''} ${op.mails
          .map(
            (m) => `${m.booking}#${m.seq}:${m.event}/${m.party}${m.copy ? (m.reissue ? ' reissue' : ' resend') : ''}`,
          )
          .join(', ')}`;
      return `${i}: ${t} ${JSON.stringify(rest)}`;
    })
    .join('\n');
}
