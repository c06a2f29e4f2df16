/**
 * Assembles one ota-inbound node from a validated config: logger → store →
 * spool → pipeline → TLS → SMTP → HTTP → monitors. `main` (CLI) and the tests
 * both build the real thing through here; nothing is a singleton.
 */
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { Config } from './config/index.ts';
import type { Logger } from './log/index.ts';
import { collectOnScrape, createMetrics, type Metrics } from './monitor/metrics.ts';
import { SERVER_BUSY_TIMEOUT_MS, Store, StoreRegistry, rawLocation } from './store/index.ts';
import { Spool, type SpoolIo } from './spool/index.ts';
import { InflightLog, Pipeline, reconcile, unreconciled } from './pipeline/index.ts';
import { authSettingsOf, checkAuthSettings } from './auth/index.ts';
import { CertificateWatcher, loadOrCreateCertificate } from './tls/index.ts';
import { SmtpFrontEnd, describeCoverage, routeCoverage } from './smtp/server.ts';
import { createHttpServer, type ReadinessCheck } from './http/index.ts';
import {
  ALERT_CHECKS,
  createMonitor,
  registerAlertRoutes,
  type AlertManager,
  type Watchdogs,
} from './monitor/index.ts';
import { loadSiteDefinitions } from './extract/index.ts';
import { Dispatcher } from './deliver/index.ts';
import { registerApi } from './http/api.ts';
import { registerDashboard } from './http/dashboard.ts';
import { registerStoreRoutes } from './http/stores.ts';
import { PACKAGE_VERSION, SHIPPED_SITES_DIR, WEB_DIR } from './paths.ts';
import { acquireLock } from './lock.ts';
import { purge } from './retention/index.ts';
import { MINUTE_MS } from './shared/index.ts';

/**
 * Digests received this long ago (ms) still count for the digest-missing
 * gauge: a daily list is about today or tomorrow, and after three days a gap
 * nobody handled is history, kept in the review queue.
 */
const DIGEST_CHECK_WINDOW_MS = 3 * 24 * 60 * 60 * 1000;

export interface AppOptions {
  log: Logger;
  clock?: () => number;
  /** Fault-injection seam for the spool's file system (tests). */
  spoolIo?: SpoolIo;
  /** Journal segment size (tests use small ones to exercise rotation and retention). */
  spoolSegmentBytes?: number;
  /** Free-space reading of the spool disk (tests). */
  freeBytes?: (dir: string) => Promise<number>;
}

export interface App {
  config: Readonly<Config>;
  metrics: Metrics;
  store: Store;
  /** The store registry (docs/stores.md). */
  registry: StoreRegistry;
  spool: Spool;
  pipeline: Pipeline;
  smtp: SmtpFrontEnd;
  http: FastifyInstance;
  certificates: CertificateWatcher;
  /** Webhook outbox sender (emits `attempt`). */
  dispatcher: Dispatcher;
  /** Built-in alerts (firing now, history) and the watchdogs that raise them. */
  alerts: AlertManager;
  watchdogs: Watchdogs;
  smtpPort: number;
  smtpTlsPort: number | null;
  httpPort: number;
  log: Logger;
  /** Stops accepting, finishes in-flight work, closes everything. Idempotent. */
  stop(): Promise<void>;
}

export function databaseFile(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'ota-inbound.db');
}

/** Builds and starts a node. Throws (with the reason) when any part cannot start. */
export async function startApp(config: Readonly<Config>, opts: AppOptions): Promise<App> {
  const { log } = opts;
  const clock = opts.clock ?? Date.now;
  const metrics = createMetrics(new Registry(), { version: PACKAGE_VERSION });
  const sites = loadSiteDefinitions([SHIPPED_SITES_DIR, ...config.sitesDirs]);

  const releaseLock = acquireLock(config.dataDir);
  let store: Store;
  try {
    store = new Store(databaseFile(config), { clock, busyTimeoutMs: SERVER_BUSY_TIMEOUT_MS });
  } catch (err) {
    releaseLock();
    throw new Error(
      `cannot open the database ${databaseFile(config)}: ${(err as Error).message}. The spool is the source of truth and is untouched: ` +
        `"ota-inbound rebuild --replace" builds a new database from it (the damaged file is kept beside it).`,
      { cause: err },
    );
  }
  const dispatcher = new Dispatcher({
    outbox: store.outbox,
    settings: config.webhook,
    metrics,
    log: log.child({ component: 'deliver' }),
    version: PACKAGE_VERSION,
    clock,
  });
  // Assigned once the certificate is loaded; the monitor reads it only after start.
  let certificates: CertificateWatcher | null = null;
  // Assigned below; the monitor and the readiness check read it only after start.
  let pipeline: Pipeline | null = null;
  const stalledSeconds = (): number => {
    if (!pipeline) return 0;
    let due = true; // a database that cannot answer counts as work waiting
    try {
      due = store.hasDueWork(clock());
    } catch {
      // locked or unreachable: keep `due`
    }
    return pipeline.stalledSeconds(due);
  };
  const monitor = createMonitor({
    pipelineStalled: stalledSeconds,
    config,
    store,
    metrics,
    log,
    clock,
    certificate: () => certificates?.certificate ?? null,
  });
  const spool = new Spool({
    dataDir: config.dataDir,
    minFreeBytes: config.smtp.minFreeBytes,
    io: opts.spoolIo,
    clock,
    freeBytes: opts.freeBytes,
    segmentMaxBytes: opts.spoolSegmentBytes,
    onCommit: (records, bodies) => pipeline?.intake(records, bodies),
  });
  await spool.open({ recorded: store.cursor() });
  spool.journal.flushObserver = (seconds, n) => {
    metrics.spoolFlushDuration.observe(seconds);
    metrics.spoolFlushMessages.observe(n);
  };

  checkAuthSettings(authSettingsOf(config));
  pipeline = new Pipeline({
    store,
    spool,
    metrics,
    log: log.child({ component: 'pipeline' }),
    sites,
    settings: config.pipeline,
    inflightLog: new InflightLog(config.dataDir),
    auth: authSettingsOf(config),
    clock,
    // Deliveries are written in the transaction that records the reservation event.
    outbox: { write: (e) => dispatcher.enqueue(e) },
    onApplied: () => dispatcher.afterCommit(),
  });
  await pipeline.start();

  const tlsLog = log.child({ component: 'tls' });
  const { cert, generated } = await loadOrCreateCertificate({
    ...config.tls,
    certsDir: config.certsDir,
    hostname: config.smtp.hostname,
  });
  if (generated)
    tlsLog.warn(
      { file: cert.files.certFile, notAfter: cert.notAfter.toISOString() },
      'no certificate found: generated a self-signed one (365 days)',
    );
  metrics.certNotAfter.set({ certificate: 'smtp' }, cert.notAfter.getTime() / 1000);

  const registry = store.registry({ clock, graceDays: config.registry.graceDays });
  // Routing that does not reach every accepted domain is a configuration mistake worth a warning, not a refusal to start.
  const routingFindings = describeCoverage(routeCoverage(config));
  for (const finding of routingFindings) log.warn({ component: 'smtp' }, finding);
  const smtp = new SmtpFrontEnd({
    config,
    spool,
    metrics,
    log: log.child({ component: 'smtp' }),
    tls: cert,
    registry,
    clock,
  });
  certificates = new CertificateWatcher(cert, config.tls.watchIntervalMs, (e) => {
    monitor.certificateReloaded(e);
    if (e.ok) {
      smtp.updateCertificate(e.cert);
      metrics.certReloads.inc({ result: 'success' });
      metrics.certNotAfter.set({ certificate: 'smtp' }, e.cert.notAfter.getTime() / 1000);
      tlsLog.info(
        { subject: e.cert.subject, notAfter: e.cert.notAfter.toISOString(), fingerprint: e.cert.fingerprint256 },
        'certificate reloaded',
      );
    } else {
      metrics.certReloads.inc({ result: 'failure' });
      tlsLog.error(
        { reason: e.error.message, kept: e.kept.fingerprint256 },
        'new certificate files refused; still serving the previous certificate',
      );
    }
  });
  certificates.start();

  collectOnScrape(metrics.spoolPending, () => {
    const b = store.backlogStats();
    // Mail committed to the journal but not yet recorded in the database is pending too.
    metrics.spoolPending.set(b.waiting + pipeline.unrecordedCount);
    metrics.pipelineStalled.set(stalledSeconds());
    metrics.spoolOldestPendingAge.set(b.oldestAt ? Math.max(0, clock() - b.oldestAt) / 1000 : 0);
  });
  collectOnScrape(metrics.digestMissing, () => {
    metrics.digestMissing.reset();
    for (const m of store.digests.missingBySource(clock() - DIGEST_CHECK_WINDOW_MS))
      metrics.digestMissing.set({ source: m.source }, m.missing);
  });
  collectOnScrape(metrics.spoolFreeBytes, async () => {
    metrics.spoolFreeBytes.set(await spool.freeBytes());
  });

  let stopping = false;
  const readiness: ReadinessCheck[] = [
    { name: 'smtp', check: () => (stopping ? 'shutting down' : smtp.listening ? true : 'not listening') },
    { name: 'database', check: () => (store.writable() ? true : 'database is not writable') },
    {
      name: 'spool',
      check: async () => ((await spool.hasSpace()) ? true : `free space below ${config.smtp.minFreeBytes} bytes`),
    },
    {
      name: 'routing',
      check: () => (routingFindings.length > 0 ? { warning: routingFindings.join('; ') } : true),
    },
    {
      name: 'pipeline',
      check: () => {
        if (pipeline.pool.size === 0) return 'no parser workers';
        const stalled = stalledSeconds();
        return stalled >= config.pipeline.stallSeconds
          ? `the pipeline has not moved for ${Math.round(stalled)} s while mail waits (database locked or unreachable?)`
          : true;
      },
    },
  ];
  const http = await createHttpServer({
    registry: metrics.registry,
    log,
    readiness,
    register: (app) =>
      registerApi(app, {
        apiToken: config.http.apiToken,
        queries: store.queries,
        readRaw: (row) => spool.readRaw(rawLocation(row)),
        wakePipeline: () => pipeline.wake(),
        redeliver: (id) => dispatcher.redeliver(id),
        version: PACKAGE_VERSION,
        clock,
      }),
  });
  await registerStoreRoutes(http, { registry, domain: config.registry.domain, sites: sites.map((d) => d.source) });
  registerAlertRoutes(http, monitor.alerts);
  registerDashboard(http, {
    webDir: WEB_DIR,
    store,
    alerts: monitor.alerts,
    certificate: () => certificates?.certificate ?? null,
    config,
    readRaw: (row) => spool.readRaw(rawLocation(row)),
    decode: (id, raw) => pipeline.pool.decode(id, raw),
    clock,
  });

  const { port, tlsPort } = await smtp.listen();
  await http.listen({ host: config.http.host, port: config.http.port });
  const httpPort = (http.server.address() as { port: number }).port;
  dispatcher.start();
  monitor.start();
  log.info(
    { smtpPort: port, smtpTlsPort: tlsPort, httpPort, dataDir: config.dataDir, domains: config.domains },
    'ota-inbound ready',
  );

  const retentionLog = log.child({ component: 'retention' });
  const reconcileLog = log.child({ component: 'reconcile' });
  // Retention and reconciliation both walk the journal: one at a time.
  let purging = false;
  const reconcilePass = async () => {
    if (purging || stopping) return;
    purging = true;
    try {
      const report = await reconcile(store, spool.journal, { repair: true });
      if (report.repaired.recorded > 0) pipeline.wake();
      const n = unreconciled(report);
      metrics.spoolUnreconciled.set(n);
      monitor.alerts.reconcile(
        'SpoolUnreconciled',
        n > 0
          ? [
              {
                state: 'firing',
                spec: {
                  name: 'SpoolUnreconciled',
                  severity: 'critical',
                  summary: `${n} message(s) were out of step between the journal and the database`,
                  check: ALERT_CHECKS.SpoolUnreconciled,
                },
              },
            ]
          : [],
      );
      const { missingRows, missingBytes, damaged, ...figures } = report;
      if (n > 0 || damaged.length > 0)
        reconcileLog.error(
          {
            ...figures,
            missingRows: missingRows.slice(0, 20),
            missingBytes: missingBytes.slice(0, 20),
            damaged: damaged.slice(0, 20),
          },
          'journal and database disagreed; repaired what can be',
        );
      else reconcileLog.info(figures, 'journal and database agree');
    } catch (err) {
      reconcileLog.error({ err }, 'reconciliation failed; will try again next interval');
    } finally {
      purging = false;
    }
  };
  void reconcilePass();
  const reconcileTimer = setInterval(() => void reconcilePass(), config.pipeline.reconcileIntervalMinutes * MINUTE_MS);
  reconcileTimer.unref();
  const purgeTimer = setInterval(() => {
    if (purging) return;
    purging = true;
    purge(store, spool, config.retention, { now: clock() })
      .then((report) => retentionLog.info(report, 'retention purge done'))
      .catch((err: Error) => retentionLog.error({ err }, 'retention purge failed; will try again next interval'))
      .finally(() => (purging = false));
  }, config.retention.purgeIntervalMinutes * MINUTE_MS);
  purgeTimer.unref();

  let stopped: Promise<void> | null = null;
  const app: App = {
    config,
    metrics,
    store,
    registry,
    spool,
    pipeline,
    smtp,
    http,
    certificates,
    dispatcher,
    alerts: monitor.alerts,
    watchdogs: monitor.watchdogs,
    smtpPort: port,
    smtpTlsPort: tlsPort,
    httpPort,
    log,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(purgeTimer);
        clearInterval(reconcileTimer);
        // Every step runs even when one before it failed (a dying disk, a closed socket): the
        // database is closed and the data directory released whatever happened.
        const failures: unknown[] = [];
        const steps: [string, () => unknown][] = [
          ['monitor', () => monitor.stop()],
          ['certificates', () => certificates.stop()],
          ['smtp', () => smtp.close()],
          ['spool', () => spool.close()],
          ['pipeline', () => pipeline.close()],
          ['webhooks', () => dispatcher.stop()],
          ['http', () => http.close()],
          ['database', () => store.close()],
        ];
        for (const [part, step] of steps) {
          try {
            await step();
          } catch (err) {
            failures.push(err);
            log.error({ err, part }, 'stopping a part failed; going on with the others');
          }
        }
        releaseLock();
        if (failures.length > 0) throw new AggregateError(failures, 'ota-inbound stopped with errors');
        log.info('ota-inbound stopped');
      })();
      return stopped;
    },
  };
  return app;
}
