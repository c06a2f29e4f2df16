/**
 * Monitoring: metrics (declared in metrics.ts), the built-in watchdogs and
 * their alert delivery, and `GET /api/alerts`. `createMonitor` assembles them
 * from the configuration; app.ts starts and stops it.
 */
import type { Config } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { Store } from '../store/index.ts';
import type { LoadedCertificate, ReloadEvent } from '../tls/index.ts';
import { AlertManager } from './alerts.ts';
import type { Metrics } from './metrics.ts';
import { Watchdogs } from './watchdogs.ts';

export {
  AlertManager,
  ALERT_NAMES,
  jsonPayload,
  slackPayload,
  type Alert,
  type AlertEvent,
  type AlertName,
  type AlertSpec,
  type Severity,
} from './alerts.ts';
export { CHECKS as ALERT_CHECKS, Watchdogs, type WatchdogSettings } from './watchdogs.ts';
export { RateProfile, learnProfile, zeroProbability } from './activity.ts';
export { alertJson, registerAlertRoutes } from './http.ts';

export interface Monitor {
  alerts: AlertManager;
  watchdogs: Watchdogs;
  start(): void;
  /** CertificateWatcher `onReload` hook. */
  certificateReloaded(e: ReloadEvent): void;
  stop(): Promise<void>;
}

export interface MonitorDeps {
  config: Readonly<Config>;
  store: Store;
  metrics: Metrics;
  log: Logger;
  clock?: () => number;
  certificate: () => LoadedCertificate | null;
  /** Seconds the pipeline has not moved while mail waits (see Pipeline.stalledSeconds). */
  pipelineStalled?: () => number;
}

/** Builds the alert manager and the watchdogs (not started). */
export function createMonitor(d: MonitorDeps): Monitor {
  const log = d.log.child({ component: 'monitor' });
  const { webhookUrl, webhookFormat, ...rest } = d.config.alerts;
  const alerts = new AlertManager({
    metrics: d.metrics,
    log,
    clock: d.clock,
    webhook: webhookUrl ? { url: webhookUrl, format: webhookFormat } : null,
  });
  const watchdogs = new Watchdogs({
    store: d.store,
    alerts,
    metrics: d.metrics,
    log,
    clock: d.clock,
    certificate: d.certificate,
    pipelineStalled: d.pipelineStalled,
    stallSeconds: d.config.pipeline.stallSeconds,
    settings: { ...rest, certsDir: d.config.certsDir },
  });
  // After a restart the "last processed" gauges would be absent until new mail
  // is processed; seed them from the database so Prometheus rules see the silence.
  for (const row of d.store.monitor.lastProcessedBySource())
    d.metrics.lastProcessed.set({ source: row.source }, row.t / 1000);
  const last = d.store.summary().lastProcessedAt;
  if (last !== null) d.metrics.lastProcessed.set({ source: 'all' }, last / 1000);
  return {
    alerts,
    watchdogs,
    start: () => watchdogs.start(),
    certificateReloaded: (e) => watchdogs.certificateReloaded(e),
    async stop() {
      await watchdogs.stop();
      await alerts.close();
    },
  };
}
