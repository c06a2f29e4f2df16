/**
 * Watchdog test bench: a real Store on a temp file, its own metrics registry,
 * an AlertManager and Watchdogs on a clock the test moves by hand.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/log/index.ts';
import { createMetrics, type Metrics } from '../../src/monitor/metrics.ts';
import { AlertManager, Watchdogs, type WatchdogSettings } from '../../src/monitor/index.ts';
import type { WebhookOptions } from '../../src/monitor/alerts.ts';
import { Store } from '../../src/store/index.ts';
import type { LoadedCertificate } from '../../src/tls/index.ts';
import { tempDir } from '../helpers/app.ts';
import { sqliteOf } from '../../src/store/testing.ts';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** A Monday, 00:00 UTC. */
export const MONDAY = Date.UTC(2026, 5, 1);

export const DEFAULT_SETTINGS: WatchdogSettings = {
  staleAfterMinutes: 30,
  intervalMs: 60_000,
  silenceProbabilityPpm: 1_000,
  historyWeeks: 4,
  fallbackStaleMinutes: 360,
  lagSeconds: 300,
  failureRatioPercent: 50,
  failureWindowMinutes: 60,
  failureMinMessages: 5,
  certWarnDays: 30,
  certCriticalDays: 7,
  canaryAddress: null,
  canarySubject: null,
  canaryEveryMinutes: 60,
  certsDir: '/nonexistent',
};

export interface Bench {
  dir: string;
  store: Store;
  metrics: Metrics;
  alerts: AlertManager;
  watchdogs: Watchdogs;
  now: number;
  /** Moves the clock. */
  advance(ms: number): void;
  insert(m: MessageSpec): string;
  /** Firing alert keys, sorted. */
  firing(): string[];
  close(): Promise<void>;
}

export interface MessageSpec {
  at: number;
  source?: string | null;
  store?: string | null;
  state?: string;
  kind?: string | null;
  processedAt?: number | null;
  quarantined?: boolean;
  rcptTo?: string[];
  mailFrom?: string;
  meta?: Record<string, unknown>;
}

let seq = 0;

export function bench(opts: {
  start: number;
  settings?: Partial<WatchdogSettings>;
  webhook?: WebhookOptions;
  certificate?: () => LoadedCertificate | null;
  seed?: (b: Pick<Bench, 'insert'>) => void;
}): Bench {
  const dir = tempDir('ota-monitor-');
  const store = new Store(path.join(dir, 'db.sqlite'));
  const insertStmt = sqliteOf(store).prepare(
    `INSERT INTO messages (id, received_at, spool_segment, spool_offset, header_length, size, mail_from, rcpt_to, client_ip, store, quarantined, state, kind, source, meta, processed_at)
     VALUES (@id, @at, 0, 0, 0, 100, @mailFrom, @rcptTo, '127.0.0.1', @store, @quarantined, @state, @kind, @source, @meta, @processedAt)`,
  );
  const insert = (m: MessageSpec): string => {
    const id = `m${++seq}`;
    const state = m.state ?? 'processed';
    const waiting = state === 'pending' || state === 'failed';
    insertStmt.run({
      id,
      at: m.at,
      mailFrom: m.mailFrom ?? 'noreply@ota.example',
      rcptTo: JSON.stringify(m.rcptTo ?? [`${m.store ?? 'shop'}@intake.example`]),
      store: m.store === undefined ? 'shop' : m.store,
      quarantined: m.quarantined ? 1 : 0,
      state,
      kind: waiting ? null : m.kind === undefined ? 'reservation' : m.kind,
      source: waiting ? null : m.source === undefined ? 'tabelog' : m.source,
      meta: m.meta ? JSON.stringify(m.meta) : null,
      processedAt: waiting ? null : (m.processedAt ?? m.at + 1_000),
    });
    return id;
  };
  store.transaction(() => opts.seed?.({ insert }));
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const log = createLogger({ level: 'silent' });
  const b = { now: opts.start } as Bench;
  const clock = () => b.now;
  const alerts = new AlertManager({ metrics, log, clock, webhook: opts.webhook ?? null });
  const watchdogs = new Watchdogs({
    store,
    alerts,
    metrics,
    log,
    clock,
    certificate: opts.certificate,
    settings: { ...DEFAULT_SETTINGS, ...opts.settings },
  });
  return Object.assign(b, {
    dir,
    store,
    metrics,
    alerts,
    watchdogs,
    advance(ms: number) {
      b.now += ms;
    },
    insert,
    firing: () =>
      alerts
        .active()
        .map((a) => a.key)
        .sort(),
    async close() {
      await watchdogs.stop();
      await alerts.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
}

/**
 * Two weeks of restaurant-shaped history before `until`: `perHour` mails an
 * hour from 10:00 to 22:00 (UTC buckets), none at night.
 */
export function daytimeHistory(
  b: Pick<Bench, 'insert'>,
  until: number,
  opts: { weeks?: number; perHour?: number; source?: string; store?: string } = {},
): void {
  const weeks = opts.weeks ?? 2;
  const perHour = opts.perHour ?? 12;
  const from = until - weeks * 7 * DAY;
  for (let day = from - (from % DAY); day < until; day += DAY) {
    for (let h = 10; h < 22; h++) {
      for (let i = 0; i < perHour; i++) {
        const at = day + h * HOUR + Math.floor(((i + 0.5) * HOUR) / perHour);
        if (at >= from && at < until) b.insert({ at, source: opts.source ?? 'tabelog', store: opts.store ?? 'shop' });
      }
    }
  }
}
