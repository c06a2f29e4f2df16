/** Retry delays: exponential backoff with equal jitter, shared by every retry loop. */

/** The random source of a delay that must not jitter (it always takes the top of the band). */
export const NO_JITTER = (): number => 1;

/**
 * The delay before retry number `attempt` (1 for the first retry): `baseMs` doubling per
 * attempt, capped at `maxMs`, with equal jitter — half fixed, half random — so retries
 * from many senders spread out while none comes back sooner than half the nominal delay.
 */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs = Infinity,
  random: () => number = Math.random,
): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + random() * (d / 2));
}
