/** The one retry backoff every loop uses (pipeline retries, webhook outbox, alert webhooks). */
import { describe, expect, it } from 'vitest';
import { NO_JITTER, backoffMs } from '../../src/shared/index.ts';

describe('retry backoff', () => {
  it('doubles from the base with equal jitter and stops growing at the maximum', () => {
    expect(backoffMs(1, 10_000, 3_600_000, () => 0)).toBe(5_000);
    expect(backoffMs(1, 10_000, 3_600_000, () => 1)).toBe(10_000);
    expect(backoffMs(4, 10_000, 3_600_000, () => 1)).toBe(80_000);
    expect(backoffMs(30, 10_000, 3_600_000, () => 1)).toBe(3_600_000);
    expect(backoffMs(30, 10_000, 3_600_000, () => 0)).toBe(1_800_000);
  });

  it('is uncapped by default and never below half the nominal delay', () => {
    expect(backoffMs(21, 1_000, undefined, NO_JITTER)).toBe(1_000 * 2 ** 20);
    for (let i = 0; i < 200; i++) {
      const d = backoffMs(3, 1_000);
      expect(d).toBeGreaterThanOrEqual(2_000);
      expect(d).toBeLessThanOrEqual(4_000);
    }
  });

  it('takes the exact doubling without jitter, and treats attempt 0 like the first retry', () => {
    expect([1, 2, 3, 4].map((a) => backoffMs(a, 500, Infinity, NO_JITTER))).toEqual([500, 1_000, 2_000, 4_000]);
    expect(backoffMs(0, 500, Infinity, NO_JITTER)).toBe(500);
  });
});
