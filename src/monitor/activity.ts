/**
 * Expected activity: how much mail a series (all mail, one source, one store)
 * normally receives at each hour, learned from the past weeks, so a silence is
 * judged against what is normal for that hour instead of a fixed timer.
 *
 * Model (docs/alerts.md): arrivals are a Poisson process whose rate depends on
 * the hour of the week. The rate of bucket h is the number of messages seen in
 * h divided by how many hours of h the history covers. The chance of seeing no
 * message in a silent window W is exp(-Λ), Λ = ∫_W λ(t) dt (summed over the
 * hours W overlaps, partial hours pro rata). The history ends a day before
 * now, so an ongoing silence never lowers its own expectation. A silence alerts only when that
 * chance is below a threshold. With less than a week of history the buckets
 * are hours of the day; with less than a day there is no profile, and callers
 * use a fixed threshold.
 */
import { DAY_MS, HOUR_MS, WEEK_MS } from '../shared/index.ts';

const HOURS_PER_WEEK = 168;
const HOURS_PER_DAY = 24;

/**
 * Buckets are taken from epoch hours (UTC). Only the period matters, not
 * where it starts, so any time zone without daylight saving time (Japan) gets
 * the same profile; a zone with DST sees its profile shift by an hour twice a
 * year.
 */
export class RateProfile {
  constructor(
    /** 168 (hour of week) or 24 (hour of day). */
    readonly period: number,
    /** Messages per hour, per bucket. */
    readonly rates: Float64Array,
  ) {}

  bucket(epochHour: number): number {
    return ((epochHour % this.period) + this.period) % this.period;
  }

  /** Expected number of messages in [fromMs, toMs). */
  expected(fromMs: number, toMs: number): number {
    let total = 0;
    for (let h = Math.floor(fromMs / HOUR_MS); h * HOUR_MS < toMs; h++) {
      const overlap = Math.min(toMs, (h + 1) * HOUR_MS) - Math.max(fromMs, h * HOUR_MS);
      if (overlap > 0) total += (this.rates[this.bucket(h)]! * overlap) / HOUR_MS;
    }
    return total;
  }
}

/** Poisson probability of no arrival when `expected` arrivals are due. */
export function zeroProbability(expected: number): number {
  return Math.exp(-expected);
}

/**
 * Learns one series' profile from its message counts per epoch hour, over the
 * observed history [startMs, nowMs). Returns null when the history is shorter
 * than a day (too short for any profile).
 */
export function learnProfile(counts: ReadonlyMap<number, number>, startMs: number, nowMs: number): RateProfile | null {
  const span = nowMs - startMs;
  if (span < DAY_MS) return null;
  const period = span >= WEEK_MS ? HOURS_PER_WEEK : HOURS_PER_DAY;
  const exposure = new Float64Array(period);
  const seen = new Float64Array(period);
  const profile = new RateProfile(period, new Float64Array(period));
  for (let h = Math.floor(startMs / HOUR_MS); h * HOUR_MS < nowMs; h++) {
    const overlap = Math.min(nowMs, (h + 1) * HOUR_MS) - Math.max(startMs, h * HOUR_MS);
    exposure[profile.bucket(h)]! += overlap / HOUR_MS;
  }
  for (const [h, n] of counts) {
    if (h * HOUR_MS >= nowMs || (h + 1) * HOUR_MS <= startMs) continue;
    seen[profile.bucket(h)]! += n;
  }
  for (let b = 0; b < period; b++) profile.rates[b] = exposure[b]! > 0 ? seen[b]! / exposure[b]! : 0;
  return profile;
}
