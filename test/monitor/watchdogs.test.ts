import { afterEach, describe, expect, it } from 'vitest';
import { learnProfile, zeroProbability } from '../../src/monitor/index.ts';
import type { LoadedCertificate } from '../../src/tls/index.ts';
import { DAY, HOUR, MINUTE, MONDAY, bench, daytimeHistory, type Bench } from './helpers.ts';
import { sqliteOf } from '../../src/store/testing.ts';

const benches: Bench[] = [];
function open(...args: Parameters<typeof bench>): Bench {
  const b = bench(...args);
  benches.push(b);
  return b;
}
afterEach(async () => {
  for (const b of benches.splice(0)) await b.close();
});

/** Ticks every `step` until `until`, returning the keys that fired on the way. */
async function runUntil(b: Bench, until: number, step = 10 * MINUTE): Promise<string[]> {
  const seen = new Set<string>();
  while (b.now < until) {
    b.advance(Math.min(step, until - b.now));
    await b.watchdogs.tick();
    for (const k of b.firing()) seen.add(k);
  }
  return [...seen].sort();
}

async function gauge(b: Bench, alert: string): Promise<number | undefined> {
  const m = await b.metrics.alertActive.get();
  return m.values.find((v) => v.labels.alert === alert)?.value;
}

const WEEK3_MONDAY = MONDAY + 14 * DAY;

describe('staleness watchdog (injected clock, no sleeping)', () => {
  it('fires once when mail stops in busy hours, and resolves once when mail comes back', async () => {
    const start = WEEK3_MONDAY + 12 * HOUR;
    const b = open({ start, seed: (s) => daytimeHistory(s, start) });
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);

    b.advance(20 * MINUTE);
    await b.watchdogs.tick();
    expect(b.firing(), 'below alerts.staleAfterMinutes nothing fires').toEqual([]);

    b.advance(20 * MINUTE); // 40 min silent at ~12 mails/h: ~8 expected, P(none) ≈ 0.03 %
    await b.watchdogs.tick();
    expect(b.firing()).toEqual(['NoMailProcessed', 'SourceSilent:tabelog', 'StoreSilent:shop']);
    const overall = b.alerts.active().find((a) => a.name === 'NoMailProcessed')!;
    expect(overall.severity).toBe('critical');
    expect(overall.summary).toMatch(/No mail processed for 40 min.*expected/);
    expect(overall.check).toMatch(/forwarding/);
    expect(await gauge(b, 'NoMailProcessed')).toBe(1);

    for (let i = 0; i < 5; i++) {
      b.advance(5 * MINUTE);
      await b.watchdogs.tick();
    }
    b.insert({ at: b.now });
    b.advance(MINUTE);
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);
    expect(await gauge(b, 'NoMailProcessed')).toBe(0);
    const transitions = b.alerts
      .history()
      .filter((e) => e.alert.name === 'NoMailProcessed')
      .map((e) => e.status);
    expect(transitions).toEqual(['resolved', 'firing']); // newest first: exactly one of each
  });

  it('stays quiet through a night that history says is silent, and fires when the morning stays silent', async () => {
    const start = WEEK3_MONDAY + 22 * HOUR; // the last mail of the day has just come
    const b = open({ start, seed: (s) => daytimeHistory(s, start) });
    const night = await runUntil(b, WEEK3_MONDAY + DAY + 10 * HOUR); // 12 silent hours
    expect(night, 'a silent night is normal').toEqual([]);

    const earlyMorning = await runUntil(b, WEEK3_MONDAY + DAY + 10 * HOUR + 20 * MINUTE, 5 * MINUTE);
    expect(earlyMorning, '20 min into opening hours (~4 expected, P ≈ 2 %) is not yet unusual').toEqual([]);

    const morning = await runUntil(b, WEEK3_MONDAY + DAY + 11 * HOUR, 5 * MINUTE);
    expect(morning).toContain('NoMailProcessed');
    expect(b.alerts.active().find((a) => a.name === 'NoMailProcessed')!.summary).toMatch(/hour-of-week/);
  });

  it('judges each store against its own hours: an evening-only store is not missed at noon', async () => {
    const start = WEEK3_MONDAY + 12 * HOUR;
    const b = open({
      start,
      seed: (s) => {
        daytimeHistory(s, start, { store: 'lunch', source: 'tabelog' });
        // "dinner" gets mail only between 18:00 and 22:00.
        for (let day = start - 14 * DAY; day < start - 12 * HOUR; day += DAY) {
          for (let h = 18; h < 22; h++)
            for (let i = 0; i < 6; i++)
              s.insert({ at: day - 12 * HOUR + h * HOUR + i * 10 * MINUTE, store: 'dinner', source: 'hotpepper' });
        }
      },
    });
    const fired = await runUntil(b, start + 3 * HOUR);
    expect(fired).toContain('StoreSilent:lunch');
    expect(fired).not.toContain('StoreSilent:dinner');
    expect(fired).not.toContain('SourceSilent:hotpepper');
  });

  it('uses the fixed fallback threshold for overall silence while history is shorter than a day', async () => {
    const start = MONDAY + 12 * HOUR;
    const b = open({
      start,
      seed: (s) => {
        for (let t = start - 6 * HOUR; t < start; t += 10 * MINUTE) s.insert({ at: t });
      },
    });
    expect(await runUntil(b, start + 5 * HOUR + 50 * MINUTE)).toEqual([]);
    expect(await runUntil(b, start + 6 * HOUR + 10 * MINUTE)).toEqual(['NoMailProcessed']);
    expect(b.alerts.active()[0]!.summary).toMatch(/fixed threshold of 360 min/);
  });

  it('does not count the downtime before a restart as silence (grace from boot)', async () => {
    const start = WEEK3_MONDAY + 12 * HOUR;
    // History up to two hours ago, then the node was down; it boots now.
    const b = open({ start, seed: (s) => daytimeHistory(s, start - 2 * HOUR) });
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);
    b.advance(20 * MINUTE);
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);
    b.advance(25 * MINUTE);
    await b.watchdogs.tick();
    expect(b.firing()).toContain('NoMailProcessed');
    expect(b.alerts.active()[0]!.summary).toMatch(/counted from the restart/);
  });
});

describe('expected-activity model', () => {
  it('learns hour-of-week rates from whole weeks and hour-of-day rates from a few days', () => {
    const counts = new Map<number, number>();
    const start = MONDAY;
    for (let w = 0; w < 2; w++) counts.set((start + w * 7 * DAY + 12 * HOUR) / HOUR, 6); // Mondays 12:00, 6 mails
    const weekly = learnProfile(counts, start, start + 14 * DAY)!;
    expect(weekly.period).toBe(168);
    expect(weekly.expected(start + 14 * DAY + 12 * HOUR, start + 14 * DAY + 13 * HOUR)).toBeCloseTo(6);
    expect(weekly.expected(start + 15 * DAY + 12 * HOUR, start + 15 * DAY + 13 * HOUR), 'Tuesday noon had none').toBe(
      0,
    );
    expect(weekly.expected(start + 14 * DAY + 12 * HOUR, start + 14 * DAY + 12 * HOUR + 30 * MINUTE)).toBeCloseTo(3);

    const daily = learnProfile(new Map([[(start + 12 * HOUR) / HOUR, 3]]), start, start + 3 * DAY)!;
    expect(daily.period).toBe(24);
    expect(daily.expected(start + 3 * DAY + 12 * HOUR, start + 3 * DAY + 13 * HOUR)).toBeCloseTo(1);

    expect(learnProfile(counts, start, start + 12 * HOUR)).toBeNull();
    expect(zeroProbability(Math.log(1000))).toBeCloseTo(0.001);
  });
});

describe('processing and failure watchdogs', () => {
  it('fires ProcessingLag when the oldest unprocessed mail waits too long, counted from boot, and resolves when it is done', async () => {
    const start = MONDAY + 12 * HOUR;
    let stuck = '';
    const b = open({ start, seed: (s) => (stuck = s.insert({ at: start - 2 * HOUR, state: 'pending' })) });
    await b.watchdogs.tick();
    expect(b.firing(), 'a backlog found at boot is not lag yet').toEqual([]);
    b.advance(6 * MINUTE);
    await b.watchdogs.tick();
    expect(b.firing()).toEqual(['ProcessingLag']);
    expect(b.alerts.active()[0]!.severity).toBe('critical');
    sqliteOf(b.store)
      .prepare(`UPDATE messages SET state = 'processed', processed_at = ? WHERE id = ?`)
      .run(b.now, stuck);
    b.advance(MINUTE);
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);
  });

  it('fires MessagesDeadLettered while a dead letter is unhandled', async () => {
    const start = MONDAY + 12 * HOUR;
    const b = open({ start });
    const id = b.insert({ at: start - MINUTE, state: 'dead', kind: null, source: null });
    await b.watchdogs.tick();
    expect(b.firing()).toEqual(['MessagesDeadLettered']);
    expect((await b.metrics.deadLetterMessages.get()).values[0]!.value).toBe(1);
    await b.watchdogs.tick();
    expect(b.alerts.history()).toHaveLength(1);
    sqliteOf(b.store).prepare('UPDATE messages SET handled_at = ? WHERE id = ?').run(b.now, id);
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);
  });

  it('fires SourceParseFailures when a source mostly fails to parse, with hysteresis on the way down', async () => {
    const start = MONDAY + 12 * HOUR;
    const b = open({ start });
    const mail = (n: number, state: string) => {
      for (let i = 0; i < n; i++) b.insert({ at: b.now - MINUTE, source: 'hotpepper', state });
    };
    mail(4, 'review');
    mail(2, 'processed');
    await b.watchdogs.tick();
    expect(b.firing()).toEqual(['SourceParseFailures:hotpepper']);
    expect(b.alerts.active()[0]!.summary).toMatch(/4 of 6 mails from hotpepper/);
    mail(6, 'processed'); // 4/12 = 33 %: between half the limit and the limit, keeps firing
    await b.watchdogs.tick();
    expect(b.firing()).toEqual(['SourceParseFailures:hotpepper']);
    mail(6, 'processed'); // 4/18 = 22 %
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);
  });

  it('does not count a source below the minimum sample', async () => {
    const b = open({ start: MONDAY });
    for (let i = 0; i < 3; i++) b.insert({ at: b.now - MINUTE, source: 'retty', state: 'review' });
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);
  });
});

describe('forwarding canary and certificate reloads', () => {
  it('fires CanaryLate when the heartbeat is late and resolves when it arrives (matched by subject or address)', async () => {
    const start = MONDAY + 12 * HOUR;
    const b = open({
      start,
      settings: { canarySubject: 'ota-inbound canary', canaryAddress: 'canary@ops.example', canaryEveryMinutes: 60 },
    });
    expect(await runUntil(b, start + 110 * MINUTE)).toEqual([]);
    expect(await runUntil(b, start + 130 * MINUTE)).toEqual(['CanaryLate']);
    b.insert({
      at: b.now,
      kind: 'unknown',
      source: null,
      meta: { subject: '[ota-inbound canary] 12:00', from: { address: 'someone@example.com' } },
    });
    b.advance(MINUTE);
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);
    expect((await b.metrics.canaryLastReceived.get()).values[0]!.value).toBe((b.now - MINUTE) / 1000);

    await runUntil(b, b.now + 125 * MINUTE);
    expect(b.firing()).toEqual(['CanaryLate']);
    b.insert({ at: b.now, kind: 'unknown', source: null, rcptTo: ['Canary@ops.example'] });
    await b.watchdogs.tick();
    expect(b.firing()).toEqual([]);
  });

  it('fires CertificateReloadFailed on a refused reload and resolves on the next good one', async () => {
    const b = open({ start: MONDAY });
    const kept = {
      fingerprint256: 'AA',
      notAfter: new Date(MONDAY + 300 * DAY),
      files: { certFile: '/c/cert.pem' },
    } as LoadedCertificate;
    b.watchdogs.certificateReloaded({
      ok: false,
      error: new Error('/c/key.pem does not match the certificate in /c/cert.pem'),
      kept,
    });
    expect(b.firing()).toEqual(['CertificateReloadFailed']);
    expect(b.alerts.active()[0]!.summary).toMatch(/does not match/);
    expect((await b.metrics.certReloadFailed.get()).values[0]!.value).toBe(1);
    await b.watchdogs.tick();
    expect(b.alerts.history()).toHaveLength(1);
    b.watchdogs.certificateReloaded({ ok: true, cert: kept });
    expect(b.firing()).toEqual([]);
  });
});
