/**
 * The built-in watchdogs: they alert without any external monitoring system.
 * Each evaluation (`tick`) reads the database and the certificate files and
 * hands one verdict per alert instance to the AlertManager, which turns them
 * into fire/resolve transitions. Time comes from the injected clock, so tests
 * drive hours of silence without sleeping.
 *
 * Restart grace: every "for how long" is measured from the later of the event
 * and this process's start, so a restart (or the downtime before it) never
 * counts as silence or lag by itself.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { ActivityRow, MonitorView, Store } from '../store/index.ts';
import type { LoadedCertificate, ReloadEvent } from '../tls/index.ts';
import { errorCode } from '../errors.ts';
import { learnProfile, zeroProbability, type RateProfile } from './activity.ts';
import type { AlertManager, AlertName, AlertSpec, Verdict } from './alerts.ts';
import type { Metrics } from './metrics.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, WEEK_MS } from '../shared/index.ts';

export type WatchdogSettings = Omit<Config['alerts'], 'webhookUrl' | 'webhookFormat'> & { certsDir: string };

export interface WatchdogDeps {
  store: Store;
  alerts: AlertManager;
  metrics: Metrics;
  log: Logger;
  settings: WatchdogSettings;
  clock?: () => number;
  /** The certificate served now (null when there is none, e.g. in unit tests). */
  certificate?: () => LoadedCertificate | null;
  /** Seconds the pipeline has not moved while mail waits (absent: not watched, e.g. in unit tests). */
  pipelineStalled?: () => number;
  /** `pipeline.stallSeconds`: the stall that fires PipelineStalled. */
  stallSeconds?: number;
}

/** The hourly profiles change slowly: relearning them once an hour is plenty. */
const PROFILE_REFRESH_MS = HOUR_MS;
/** Arrivals are re-read with this overlap, so a message committed late to the database is not missed. */
const RECENT_OVERLAP_MS = HOUR_MS;
/** How far back the first canary lookup goes. */
const CANARY_LOOKBACK_MS = 2 * DAY_MS;

/** What a person should check, per built-in alert (also each notification's `check`). */
export const CHECKS = {
  NoMailProcessed:
    'Is mail still reaching this node? Check the forwarding rules of the restaurant mailboxes and the DNS MX, that port 25 is open (firewall, provider), the SMTP log for refused sessions, and ota_inbound_smtp_messages_total by result.',
  SourceSilent:
    'Did the site change its sender address or templates? Look for recent mail of kind "unknown", check the site definition in config/sites/, and the forwarding of the stores that use this site.',
  StoreSilent:
    "Check this store's mailbox forwarding (disabled, or a forwarding verification that expired), and that its recipient address still routes to the store (`routes`).",
  PipelineStalled:
    'Mail is waiting but nothing has been recorded or processed: check the log for a database that is locked (another process holding a write transaction), unreachable or out of disk. Accepted mail is safe in the spool and is taken in once the database answers.',
  SpoolUnreconciled:
    'The journal and the database disagreed: `ota-inbound verify` lists the spool ids. Records without a row were recorded again (they are processed like new mail); rows without raw bytes are dead-lettered as SPOOL_MISSING. Look in the log for what caused it (a restored database backup, a copied data directory, a bug) before marking them handled.',
  ProcessingLag:
    'The pipeline is not keeping up or is stuck: check the log for parse timeouts and worker crashes, whether the database is locked or its disk full, and ota_inbound_processing_failures_total by reason.',
  MessagesDeadLettered:
    '`ota-inbound status` lists them by error code. Fix the cause (site definition, disk, database), then replay them or mark them handled; their raw mail is kept in the spool.',
  SourceParseFailures:
    'The site probably changed its mail template: compare a recent mail (`ota-inbound spool show ID`, `ota-inbound parse FILE.eml`) with config/sites/, update the labels, then replay.',
  CertificateExpiring:
    'Renew the certificate (or run `ota-inbound certs generate --force` for a self-signed one) and put it in place; it is reloaded without a restart. `ota-inbound certs` shows the one in use.',
  CertificateReloadFailed:
    'The new certificate files were refused (see the reason): check that key.pem matches cert.pem, both are PEM, and the files are complete; the previous certificate is still served.',
  CanaryLate:
    'The heartbeat mail did not come through: check the job that sends it, then the forwarding path it takes (mailbox forwarding rules, MX, port 25), as for NoMailProcessed.',
} satisfies Record<AlertName, string>;

interface Series {
  /** Arrival of its newest message. */
  last: number;
  counts: Map<number, number>;
}

export class Watchdogs {
  readonly bootAt: number;
  private readonly q: MonitorView;
  private readonly clock: () => number;
  private readonly s: WatchdogSettings;
  private series = new Map<string, Series>();
  private profiles = new Map<string, RateProfile | null>();
  private profileAt = -Infinity;
  private lastTickAt: number | null = null;
  /** Silence start each firing staleness alert was raised for. */
  private silenceOf = new Map<string, number>();
  private lastCanaryAt: number | null = null;
  private reloadFailure: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly d: WatchdogDeps) {
    this.clock = d.clock ?? Date.now;
    this.bootAt = this.clock();
    this.q = d.store.monitor;
    this.s = d.settings;
    if (this.canaryOn) d.metrics.canaryLastReceived.set(0);
  }

  /** Evaluates now and then every `intervalMs`. */
  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.s.intervalMs);
    this.timer.unref();
  }

  /** Stops the interval and waits for an evaluation in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.chain;
  }

  /** One evaluation of every watchdog (serialised: a call waits for one in progress, then runs). */
  tick(): Promise<void> {
    this.chain = this.chain.then(() => this.evaluate());
    return this.chain;
  }

  /** CertificateWatcher hook: a refused reload alerts at once, the next good one resolves it. */
  certificateReloaded(e: ReloadEvent): void {
    this.reloadFailure = e.ok ? null : e.error.message;
    this.d.metrics.certReloadFailed.set(e.ok ? 0 : 1);
    this.evaluateReload();
    if (e.ok) void this.tick();
  }

  private get canaryOn(): boolean {
    return Boolean(this.s.canaryAddress || this.s.canarySubject);
  }

  private async evaluate(): Promise<void> {
    const now = this.clock();
    const steps: [string, () => void | Promise<void>][] = [
      ['activity', () => this.evaluateSilence(now)],
      ['lag', () => this.evaluateLag(now)],
      ['stall', () => this.evaluateStall()],
      ['dead letters', () => this.evaluateDeadLetters()],
      ['parse failures', () => this.evaluateParseFailures(now)],
      ['certificates', () => this.evaluateCertificates(now)],
      ['canary', () => this.evaluateCanary(now)],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        // One unreadable input (a locked database) must not silence the other watchdogs.
        this.d.log.error({ watchdog: name, code: errorCode(err), err }, 'watchdog evaluation failed');
      }
    }
    this.evaluateReload();
    this.lastTickAt = now;
  }

  // ── silence ────────────────────────────────────────────────────────────────

  private refreshActivity(now: number): void {
    const weeksAgo = now - this.s.historyWeeks * WEEK_MS;
    if (now - this.profileAt >= PROFILE_REFRESH_MS) {
      const first = this.q.firstReceivedAt();
      const start = Math.max(weeksAgo, first ?? now);
      const series = new Map<string, Series>();
      for (const row of this.q.hourly(weeksAgo, now)) {
        for (const key of seriesKeys(row)) {
          let s = series.get(key.id);
          if (!s) series.set(key.id, (s = { last: -Infinity, counts: new Map() }));
          s.counts.set(row.hour!, (s.counts.get(row.hour!) ?? 0) + row.n);
          if (key.counts) s.last = Math.max(s.last, row.last);
        }
      }
      // Keep what the incremental reads learnt since (they may be newer than the hourly rows).
      for (const [id, old] of this.series) {
        const s = series.get(id);
        if (s) s.last = Math.max(s.last, old.last);
      }
      this.series = series;
      // Learn only from mail older than a day (whole hours): the silence being judged must not dilute its own expectation.
      const learnUntil = Math.floor((now - DAY_MS) / HOUR_MS) * HOUR_MS;
      this.profiles = new Map([...series].map(([id, s]) => [id, learnProfile(s.counts, start, learnUntil)]));
      this.profileAt = now;
      return;
    }
    for (const row of this.q.recent((this.lastTickAt ?? now) - RECENT_OVERLAP_MS)) {
      for (const key of seriesKeys(row)) {
        if (!key.counts) continue;
        let s = this.series.get(key.id);
        if (!s) this.series.set(key.id, (s = { last: -Infinity, counts: new Map() }));
        s.last = Math.max(s.last, row.last);
      }
    }
  }

  private evaluateSilence(now: number): void {
    this.refreshActivity(now);
    const verdicts: Record<'NoMailProcessed' | 'SourceSilent' | 'StoreSilent', Verdict[]> = {
      NoMailProcessed: [],
      SourceSilent: [],
      StoreSilent: [],
    };
    for (const [id, series] of this.series) {
      if (!Number.isFinite(series.last)) continue;
      const [kind, value] = id === 'all' ? ['all', ''] : (id.split(':', 2) as [string, string]);
      const name = kind === 'all' ? 'NoMailProcessed' : kind === 'source' ? 'SourceSilent' : 'StoreSilent';
      const v = this.silenceVerdict(name, id, kind === 'all' ? {} : { [kind]: value }, series.last, now);
      if (v) verdicts[name].push(v);
    }
    for (const [name, list] of Object.entries(verdicts)) this.d.alerts.reconcile(name as AlertName, list);
  }

  private silenceVerdict(
    name: 'NoMailProcessed' | 'SourceSilent' | 'StoreSilent',
    id: string,
    labels: Record<string, string>,
    last: number,
    now: number,
  ): Verdict | null {
    const key = id === 'all' ? name : `${name}:${id.split(':')[1]}`;
    const start = Math.max(last, this.bootAt);
    const silentMs = now - start;
    const firedFor = this.silenceOf.get(key);
    if (firedFor !== undefined && firedFor !== start) this.silenceOf.delete(key); // mail came: that silence is over
    if (silentMs < this.s.staleAfterMinutes * MINUTE_MS) return null;
    const what =
      id === 'all'
        ? 'No mail processed'
        : id.startsWith('source:')
          ? `No mail from ${labels.source}`
          : `No mail for store ${labels.store}`;
    const since = `for ${duration(silentMs)}${last < this.bootAt ? ' (counted from the restart)' : ''}`;
    const profile = this.profiles.get(id);
    let summary: string;
    if (profile === null || profile === undefined) {
      // No profile: less than a day of history (or a series new since the last relearn).
      // Only the overall series falls back to a fixed threshold; sparse per-source or
      // per-store mail would page every quiet evening without a model.
      if (id !== 'all' || silentMs < this.s.fallbackStaleMinutes * MINUTE_MS)
        return firedFor === start ? { state: 'hold', key } : null;
      summary = `${what} ${since} (fixed threshold of ${this.s.fallbackStaleMinutes} min: too little history for an expected-activity profile yet)`;
    } else {
      const expected = profile.expected(start, now);
      const p = zeroProbability(expected);
      if (p * 1e6 >= this.s.silenceProbabilityPpm) return firedFor === start ? { state: 'hold', key } : null;
      summary = `${what} ${since}; about ${expected.toFixed(1)} messages were expected by the past ${profile.period === 168 ? 'weeks\u2019 hour-of-week' : 'days\u2019 hour-of-day'} rates (chance of such a silence: ${formatProbability(p)})`;
    }
    this.silenceOf.set(key, start);
    const spec: AlertSpec = {
      name,
      key,
      severity: id === 'all' ? 'critical' : 'warning',
      summary,
      check: CHECKS[name],
      labels,
    };
    return { state: 'firing', spec };
  }

  // ── lag, failures ─────────────────────────────────────────────────────────

  private evaluateLag(now: number): void {
    const oldest = this.q.oldestWaitingAt();
    const ageS = oldest === null ? 0 : (now - Math.max(oldest, this.bootAt)) / 1000;
    const limit = this.s.lagSeconds;
    const verdicts: Verdict[] = [];
    if (ageS > limit) {
      verdicts.push({
        state: 'firing',
        spec: {
          name: 'ProcessingLag',
          severity: 'critical',
          summary: `The oldest unprocessed message has waited ${duration(ageS * 1000)} (limit ${limit} s)`,
          check: CHECKS.ProcessingLag,
        },
      });
    } else if (ageS >= limit / 2) verdicts.push({ state: 'hold', key: 'ProcessingLag' });
    this.d.alerts.reconcile('ProcessingLag', verdicts);
  }

  private evaluateStall(): void {
    if (!this.d.pipelineStalled) return;
    const stalled = this.d.pipelineStalled();
    const limit = this.d.stallSeconds ?? Infinity;
    this.d.alerts.reconcile(
      'PipelineStalled',
      stalled >= limit
        ? [
            {
              state: 'firing',
              spec: {
                name: 'PipelineStalled',
                severity: 'critical',
                summary: `The pipeline has not moved for ${duration(stalled * 1000)} while mail waits (limit ${limit} s)`,
                check: CHECKS.PipelineStalled,
              },
            },
          ]
        : [],
    );
  }

  private evaluateDeadLetters(): void {
    const n = this.q.deadUnhandled();
    this.d.metrics.deadLetterMessages.set(n);
    this.d.alerts.reconcile(
      'MessagesDeadLettered',
      n > 0
        ? [
            {
              state: 'firing',
              spec: {
                name: 'MessagesDeadLettered',
                severity: 'critical',
                summary: `${n} message(s) could not be processed and wait in the dead-letter state`,
                check: CHECKS.MessagesDeadLettered,
              },
            },
          ]
        : [],
    );
  }

  private evaluateParseFailures(now: number): void {
    const pct = this.s.failureRatioPercent;
    const verdicts: Verdict[] = [];
    for (const row of this.q.sourceOutcomes(now - this.s.failureWindowMinutes * MINUTE_MS)) {
      const key = `SourceParseFailures:${row.source}`;
      const ratio = (100 * row.failed) / row.total;
      if (row.total >= this.s.failureMinMessages && ratio >= pct) {
        verdicts.push({
          state: 'firing',
          spec: {
            name: 'SourceParseFailures',
            key,
            severity: 'warning',
            summary: `${row.failed} of ${row.total} mails from ${row.source} in the last ${this.s.failureWindowMinutes} min were not read as a complete reservation (${ratio.toFixed(0)} %, limit ${pct} %)`,
            check: CHECKS.SourceParseFailures,
            labels: { source: row.source },
          },
        });
      } else if (ratio >= pct / 2 || row.total < this.s.failureMinMessages) verdicts.push({ state: 'hold', key });
    }
    this.d.alerts.reconcile('SourceParseFailures', verdicts);
  }

  // ── TLS ───────────────────────────────────────────────────────────────────

  private async evaluateCertificates(now: number): Promise<void> {
    const found = new Map<string, { notAfter: number; where: string[] }>();
    const add = (fingerprint: string, notAfter: number, where: string) => {
      const c = found.get(fingerprint);
      if (c) c.where.push(where);
      else found.set(fingerprint, { notAfter, where: [where] });
    };
    const inUse = this.d.certificate?.() ?? null;
    if (inUse) add(inUse.fingerprint256, inUse.notAfter.getTime(), `in use (${inUse.files.certFile})`);
    let names: string[] = [];
    try {
      names = (await fsp.readdir(this.s.certsDir)).filter((n) => n.endsWith('.pem')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names) {
      const file = path.join(this.s.certsDir, name);
      const pem = await fsp.readFile(file, 'utf8').catch(() => '');
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) continue; // keys, or a file being replaced
      try {
        const x509 = new crypto.X509Certificate(pem);
        const notAfter = new Date(x509.validTo).getTime();
        this.d.metrics.certNotAfter.set({ certificate: name }, notAfter / 1000);
        add(x509.fingerprint256, notAfter, file);
      } catch {
        // Not parseable: the reload watchdog reports refused files in use; strays are ignored.
      }
    }
    const verdicts: Verdict[] = [];
    for (const [fingerprint, c] of found) {
      const daysLeft = (c.notAfter - now) / DAY_MS;
      if (daysLeft > this.s.certWarnDays) continue;
      const severity = daysLeft <= this.s.certCriticalDays ? 'critical' : 'warning';
      const when =
        daysLeft < 0 ? `expired ${duration(-daysLeft * DAY_MS)} ago` : `expires in ${duration(daysLeft * DAY_MS)}`;
      verdicts.push({
        state: 'firing',
        spec: {
          name: 'CertificateExpiring',
          key: `CertificateExpiring:${fingerprint}`,
          severity,
          summary: `The certificate ${c.where.join(', ')} ${when} (${new Date(c.notAfter).toISOString()})`,
          check: CHECKS.CertificateExpiring,
          labels: { certificate: c.where[0]!.startsWith('in use') ? 'in use' : path.basename(c.where[0]!) },
        },
      });
    }
    this.d.alerts.reconcile('CertificateExpiring', verdicts);
  }

  private evaluateReload(): void {
    const reason = this.reloadFailure;
    this.d.alerts.reconcile(
      'CertificateReloadFailed',
      reason === null
        ? []
        : [
            {
              state: 'firing',
              spec: {
                name: 'CertificateReloadFailed',
                severity: 'warning',
                summary: `New certificate files were refused: ${reason}; the previous certificate is still served`,
                check: CHECKS.CertificateReloadFailed,
              },
            },
          ],
    );
  }

  // ── canary ────────────────────────────────────────────────────────────────

  private evaluateCanary(now: number): void {
    if (!this.canaryOn) return;
    const since = this.lastCanaryAt ?? now - Math.max(CANARY_LOOKBACK_MS, 4 * this.s.canaryEveryMinutes * MINUTE_MS);
    const t = this.q.lastCanary(since, this.s.canaryAddress, this.s.canarySubject);
    if (t !== null && (this.lastCanaryAt === null || t > this.lastCanaryAt)) {
      this.lastCanaryAt = t;
      this.d.metrics.canaryLastReceived.set(t / 1000);
    }
    const start = Math.max(this.lastCanaryAt ?? -Infinity, this.bootAt);
    const lateMs = now - start;
    const limitMs = 2 * this.s.canaryEveryMinutes * MINUTE_MS;
    this.d.alerts.reconcile(
      'CanaryLate',
      lateMs > limitMs
        ? [
            {
              state: 'firing',
              spec: {
                name: 'CanaryLate',
                severity: 'critical',
                summary: `No forwarding canary mail for ${duration(lateMs)}${this.lastCanaryAt === null || this.lastCanaryAt < this.bootAt ? ' (counted from the restart)' : ''}; one is expected every ${this.s.canaryEveryMinutes} min`,
                check: CHECKS.CanaryLate,
              },
            },
          ]
        : [],
    );
  }
}

/** The series a row counts towards: all mail, its source (once processed) and its store. */
function seriesKeys(row: ActivityRow): { id: string; counts: boolean }[] {
  const keys = [{ id: 'all', counts: !row.waiting }];
  if (row.source) keys.push({ id: `source:${row.source}`, counts: true });
  if (row.store) keys.push({ id: `store:${row.store}`, counts: true });
  return keys;
}

function duration(ms: number): string {
  const min = Math.round(ms / MINUTE_MS);
  if (min < 120) return `${min} min`;
  const h = ms / HOUR_MS;
  if (h < 48) return `${h.toFixed(1)} h`;
  return `${(h / 24).toFixed(1)} days`;
}

function formatProbability(p: number): string {
  const pct = p * 100;
  return pct >= 0.01 ? `${pct.toFixed(2)} %` : `${pct.toExponential(1)} %`;
}
