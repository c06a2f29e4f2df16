/**
 * Alert state and delivery for the built-in watchdogs. An alert is identified
 * by its key (the alert name, plus the source/store/certificate it is about):
 * it fires once, may escalate its severity once, and resolves once — repeated
 * evaluations of the same condition change nothing, so there are no storms.
 * Every transition becomes one structured log line, one change of
 * `ota_inbound_alert_active{alert}`, one history entry and (when configured)
 * one webhook delivery. Delivery runs in the background, in order, with a
 * timeout and a few retries; it never blocks the caller.
 */
import os from 'node:os';
import type { Logger } from '../log/index.ts';
import type { Metrics } from './metrics.ts';
import { NO_JITTER, backoffMs } from '../shared/index.ts';

export type Severity = 'warning' | 'critical';

/** Every built-in alert name (also the `alert` label values of `ota_inbound_alert_active`). */
export const ALERT_NAMES = [
  'NoMailProcessed',
  'SourceSilent',
  'StoreSilent',
  'ProcessingLag',
  'PipelineStalled',
  'SpoolUnreconciled',
  'MessagesDeadLettered',
  'SourceParseFailures',
  'CertificateExpiring',
  'CertificateReloadFailed',
  'CanaryLate',
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

export interface AlertSpec {
  name: AlertName;
  /** Identity for dedupe; defaults to the name. */
  key?: string;
  severity: Severity;
  /** One sentence: what is wrong, with the figures. */
  summary: string;
  /** What the operator should check first. */
  check: string;
  /** Small context (source, store, certificate file); never personal data. */
  labels?: Record<string, string>;
}

export interface Alert {
  name: AlertName;
  key: string;
  severity: Severity;
  summary: string;
  check: string;
  labels: Record<string, string>;
  /** ms since epoch: when it fired. */
  since: number;
}

export interface AlertEvent {
  status: 'firing' | 'resolved';
  /** True when a firing alert was raised to a higher severity. */
  escalated?: boolean;
  at: number;
  alert: Alert;
}

export interface WebhookOptions {
  url: string;
  format: 'json' | 'slack';
  /** Per attempt. */
  timeoutMs?: number;
  /** Retries after the first attempt. */
  retries?: number;
  /** First retry delay; doubles each retry. */
  retryBaseMs?: number;
}

export interface AlertManagerOptions {
  metrics: Metrics;
  log: Logger;
  clock?: () => number;
  webhook?: WebhookOptions | null;
  /** Transitions kept for `/api/alerts`. */
  historySize?: number;
}

/** A slow or dead receiver must not hold alerts back for long. */
const WEBHOOK_TIMEOUT_MS = 5_000;
/** A few retries ride out a receiver restart without flooding it. */
const WEBHOOK_RETRIES = 3;
const WEBHOOK_RETRY_BASE_MS = 1_000;
/** Deliveries waiting beyond this are dropped (logged and counted): a dead receiver must not grow memory. */
const MAX_QUEUED_DELIVERIES = 200;
const HISTORY_SIZE = 200;

const SEVERITY_RANK: Record<Severity, number> = { warning: 1, critical: 2 };

/** A condition's verdict: raise/keep it, clear it, or keep whatever state it has (hysteresis band). */
export type Verdict = { state: 'firing'; spec: AlertSpec } | { state: 'hold'; key: string };

export class AlertManager {
  private readonly activeByKey = new Map<string, Alert>();
  private readonly events: AlertEvent[] = [];
  private readonly clock: () => number;
  private readonly historySize: number;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private closed = false;
  private readonly node = os.hostname();

  constructor(private readonly o: AlertManagerOptions) {
    this.clock = o.clock ?? Date.now;
    this.historySize = o.historySize ?? HISTORY_SIZE;
    for (const name of ALERT_NAMES) o.metrics.alertActive.set({ alert: name }, 0);
  }

  /** Raises the alert unless it is already firing (then only its text is refreshed). Returns true on a transition. */
  fire(spec: AlertSpec): boolean {
    const key = spec.key ?? spec.name;
    const current = this.activeByKey.get(key);
    if (current) {
      const escalated = SEVERITY_RANK[spec.severity] > SEVERITY_RANK[current.severity];
      current.summary = spec.summary;
      current.check = spec.check;
      if (!escalated) {
        if (SEVERITY_RANK[spec.severity] < SEVERITY_RANK[current.severity]) current.severity = spec.severity;
        return false;
      }
      current.severity = spec.severity;
      this.transition({ status: 'firing', escalated: true, at: this.clock(), alert: { ...current } });
      return true;
    }
    const alert: Alert = {
      name: spec.name,
      key,
      severity: spec.severity,
      summary: spec.summary,
      check: spec.check,
      labels: { ...spec.labels },
      since: this.clock(),
    };
    this.activeByKey.set(key, alert);
    this.transition({ status: 'firing', at: alert.since, alert: { ...alert } });
    return true;
  }

  /** Resolves the alert if it is firing. Returns true on a transition. */
  resolve(key: string): boolean {
    const alert = this.activeByKey.get(key);
    if (!alert) return false;
    this.activeByKey.delete(key);
    this.transition({ status: 'resolved', at: this.clock(), alert });
    return true;
  }

  /**
   * Applies one evaluation of every instance of `name`: verdicts fire or hold,
   * and any active instance of `name` without a verdict resolves.
   */
  reconcile(name: AlertName, verdicts: readonly Verdict[]): void {
    const seen = new Set<string>();
    for (const v of verdicts) {
      if (v.state === 'firing') {
        const key = v.spec.key ?? v.spec.name;
        seen.add(key);
        this.fire(v.spec);
      } else seen.add(v.key);
    }
    for (const a of [...this.activeByKey.values()]) {
      if (a.name === name && !seen.has(a.key)) this.resolve(a.key);
    }
  }

  isActive(key: string): boolean {
    return this.activeByKey.has(key);
  }

  /** Firing alerts, oldest first. */
  active(): Alert[] {
    return [...this.activeByKey.values()]
      .sort((a, b) => a.since - b.since)
      .map((a) => ({ ...a, labels: { ...a.labels } }));
  }

  /** Recent transitions, newest first. */
  history(): AlertEvent[] {
    return [...this.events].reverse();
  }

  /** Resolves when every queued webhook delivery has finished (delivered or given up). */
  flush(): Promise<void> {
    return this.queue;
  }

  /** Stops retrying; deliveries in flight get their current attempt. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }

  private transition(e: AlertEvent): void {
    this.events.push(e);
    if (this.events.length > this.historySize) this.events.splice(0, this.events.length - this.historySize);
    const count = [...this.activeByKey.values()].filter((a) => a.name === e.alert.name).length;
    this.o.metrics.alertActive.set({ alert: e.alert.name }, count);
    const fields = {
      alert: e.alert.name,
      key: e.alert.key,
      severity: e.alert.severity,
      since: new Date(e.alert.since).toISOString(),
      labels: e.alert.labels,
      check: e.alert.check,
    };
    if (e.status === 'firing')
      this.o.log[e.alert.severity === 'critical' ? 'error' : 'warn'](fields, `alert firing: ${e.alert.summary}`);
    else this.o.log.info(fields, `alert resolved: ${e.alert.name}`);
    this.enqueue(e);
  }

  private enqueue(e: AlertEvent): void {
    const hook = this.o.webhook;
    if (!hook || this.closed) return;
    if (this.queued >= MAX_QUEUED_DELIVERIES) {
      this.o.metrics.alertNotifications.inc({ result: 'dropped' });
      this.o.log.error(
        { alert: e.alert.name, key: e.alert.key, status: e.status },
        'alert webhook backlog full: notification dropped',
      );
      return;
    }
    this.queued += 1;
    const body = JSON.stringify(hook.format === 'slack' ? slackPayload(e, this.node) : jsonPayload(e, this.node));
    this.queue = this.queue
      .then(() => this.deliver(hook, body, e))
      .finally(() => {
        this.queued -= 1;
      });
  }

  private async deliver(hook: WebhookOptions, body: string, e: AlertEvent): Promise<void> {
    const retries = hook.retries ?? WEBHOOK_RETRIES;
    const base = hook.retryBaseMs ?? WEBHOOK_RETRY_BASE_MS;
    let last = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) {
        if (this.closed) break;
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, base, Infinity, NO_JITTER)).unref());
      }
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'ota-inbound-alerts' },
          body,
          signal: AbortSignal.timeout(hook.timeoutMs ?? WEBHOOK_TIMEOUT_MS),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.o.metrics.alertNotifications.inc({ result: 'delivered' });
          return;
        }
        last = `HTTP ${res.status}`;
        // A 4xx other than 408/429 will not get better by retrying the same body.
        if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
      } catch (err) {
        last = (err as Error).message;
      }
    }
    this.o.metrics.alertNotifications.inc({ result: 'failed' });
    this.o.log.error(
      { alert: e.alert.name, key: e.alert.key, status: e.status, reason: last },
      'alert webhook delivery failed',
    );
  }
}

/** The generic JSON body (documented in docs/alerts.md). */
export function jsonPayload(e: AlertEvent, node: string): Record<string, unknown> {
  return {
    version: 1,
    service: 'ota-inbound',
    node,
    status: e.status,
    escalated: e.escalated ?? false,
    at: new Date(e.at).toISOString(),
    alert: {
      name: e.alert.name,
      key: e.alert.key,
      severity: e.alert.severity,
      summary: e.alert.summary,
      check: e.alert.check,
      labels: e.alert.labels,
      since: new Date(e.alert.since).toISOString(),
    },
  };
}

/** A Slack incoming-webhook body: one line of text. */
export function slackPayload(e: AlertEvent, node: string): { text: string } {
  const a = e.alert;
  if (e.status === 'resolved') return { text: `:white_check_mark: RESOLVED ${a.name} on ${node}: ${a.summary}` };
  const icon = a.severity === 'critical' ? ':rotating_light:' : ':warning:';
  return {
    text: `${icon} ${a.severity.toUpperCase()} ${a.name} on ${node}${e.escalated ? ' (escalated)' : ''}: ${a.summary}\nCheck: ${a.check}`,
  };
}
