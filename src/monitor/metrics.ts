/**
 * Every Prometheus metric ota-inbound exports, declared in one place on a
 * registry passed in (no global registry, so tests build their own).
 * Conventions (docs/architecture.md, "Metrics"): prefix `ota_inbound_`, base units (seconds,
 * bytes), counters end in `_total`, timestamps are `*_timestamp_seconds`,
 * labels are small fixed sets — never addresses or ids.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'ota_inbound_';

/** Buckets for sub-second latencies on the ingest path (seconds). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Message sizes from a 1 KB notice to the 25 MiB limit (bytes). */
const SIZE_BUCKETS = [1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 33_554_432];

/** Default process metrics that are gauges named like counters; removed (see createMetrics). */
const DEFAULT_TOTAL_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function createMetrics(
  registry: Registry = new Registry(),
  opts: { version?: string; defaultMetrics?: boolean } = {},
) {
  const p = METRIC_PREFIX;
  const r = [registry];
  if (opts.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: p });
    // prom-client's three `_total` gauges break the naming rule (`promtool check metrics`: "non-counter
    // metrics should not have _total suffix"); the same figures stay as the labelled gauges
    // `…nodejs_active_handles`, `…_requests` and `…_resources` (sum over the label for the total).
    for (const name of DEFAULT_TOTAL_GAUGES) registry.removeSingleMetric(`${p}${name}`);
  }
  const m = {
    registry,
    buildInfo: new Gauge({
      name: `${p}build_info`,
      help: 'Build information; always 1.',
      labelNames: ['version', 'node'],
      registers: r,
    }),
    smtpConnections: new Counter({
      name: `${p}smtp_connections_total`,
      help: 'SMTP connections by result (accepted, refused_limit, refused_shutdown).',
      labelNames: ['result'],
      registers: r,
    }),
    smtpActiveConnections: new Gauge({
      name: `${p}smtp_active_connections`,
      help: 'SMTP connections open now.',
      registers: r,
    }),
    smtpMessages: new Counter({
      name: `${p}smtp_messages_total`,
      help: 'Message transactions by result and reply code.',
      labelNames: ['result', 'code'],
      registers: r,
    }),
    smtpRecipients: new Counter({
      name: `${p}smtp_recipients_total`,
      help: 'RCPT TO by result (store, quarantine, relay_denied, unknown_rejected, too_many).',
      labelNames: ['result'],
      registers: r,
    }),
    smtpRefusals: new Counter({
      name: `${p}smtp_refusals_total`,
      help: 'Abuse-limit refusals by reason (cooling_off, connection_rate, message_rate, too_many_errors, header_too_big).',
      labelNames: ['reason'],
      registers: r,
    }),
    smtpLimitActions: new Counter({
      name: `${p}smtp_limit_actions_total`,
      help: 'Sessions refused, cut or closed by a resource limit, by limit (data_memory, declared_size, pre_mail_timeout, evicted, data_timeout, proxy_header_timeout, shutdown_idle).',
      labelNames: ['limit'],
      registers: r,
    }),
    smtpDataBuffered: new Gauge({
      name: `${p}smtp_data_buffered_bytes`,
      help: 'Message bytes held in memory by all SMTP sessions (DATA received, not yet in the spool); bounded by smtp.dataMemoryBytes.',
      registers: r,
    }),
    smtpCoolingOff: new Gauge({
      name: `${p}smtp_cooling_off_addresses`,
      help: 'Client addresses (IPv6: /64s) refused for a cooling-off period now.',
      registers: r,
    }),
    senderAuth: new Counter({
      name: `${p}sender_auth_total`,
      help: 'Sender-authentication verdicts of processed mail by claimed source (none: claims no site) and result (dkim, arc, unauthenticated, unchecked, none).',
      labelNames: ['source', 'result'],
      registers: r,
    }),
    receivedBytes: new Counter({
      name: `${p}smtp_received_bytes_total`,
      help: 'Bytes of accepted messages.',
      registers: r,
    }),
    messageSize: new Histogram({
      name: `${p}smtp_message_size_bytes`,
      help: 'Size of accepted messages.',
      buckets: SIZE_BUCKETS,
      registers: r,
    }),
    acceptDuration: new Histogram({
      name: `${p}smtp_accept_duration_seconds`,
      help: 'End of DATA to 250 (spool write + fsync included).',
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    spoolFlushDuration: new Histogram({
      name: `${p}spool_flush_duration_seconds`,
      help: 'One group commit: write + fdatasync of a batch.',
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    spoolFlushMessages: new Histogram({
      name: `${p}spool_flush_messages`,
      help: 'Messages made durable by one group commit.',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: r,
    }),
    spoolPending: new Gauge({
      name: `${p}spool_pending_messages`,
      help: 'Messages spooled and not yet processed, including retries waiting and mail not yet recorded in the database.',
      registers: r,
    }),
    spoolUnreconciled: new Gauge({
      name: `${p}spool_unreconciled`,
      help: 'Messages the last reconciliation pass found out of step: journal records without a row, rows without their raw bytes.',
      registers: r,
    }),
    pipelineStalled: new Gauge({
      name: `${p}pipeline_stalled_seconds`,
      help: 'How long the pipeline has not moved (no intake, no outcome committed) while mail waits; 0 when idle or moving.',
      registers: r,
    }),
    spoolOldestPendingAge: new Gauge({
      name: `${p}spool_oldest_pending_age_seconds`,
      help: 'Age of the oldest unprocessed message; 0 when none.',
      registers: r,
    }),
    spoolFreeBytes: new Gauge({
      name: `${p}spool_free_bytes`,
      help: 'Free bytes on the spool file system.',
      registers: r,
    }),
    acceptToPersisted: new Histogram({
      name: `${p}accept_to_persisted_seconds`,
      help: 'From the 250 to the processing outcome committed in SQLite.',
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    processed: new Counter({
      name: `${p}messages_processed_total`,
      help: 'Processing outcomes by source, kind and result (message state).',
      labelNames: ['source', 'kind', 'result'],
      registers: r,
    }),
    reservations: new Counter({
      name: `${p}reservation_events_total`,
      help: 'Reservation events recorded, by source and event.',
      labelNames: ['source', 'event'],
      registers: r,
    }),
    duplicates: new Counter({
      name: `${p}duplicates_total`,
      help: 'Messages recognised as duplicates of one already processed.',
      labelNames: ['source'],
      registers: r,
    }),
    failures: new Counter({
      name: `${p}processing_failures_total`,
      help: 'Processing failures by coded reason (retried or dead-lettered).',
      labelNames: ['reason'],
      registers: r,
    }),
    deadLettered: new Counter({
      name: `${p}messages_dead_lettered_total`,
      help: 'Messages moved to the dead-letter state.',
      labelNames: ['reason'],
      registers: r,
    }),
    webhookDeliveries: new Counter({
      name: `${p}webhook_deliveries_total`,
      help: 'Webhook attempts by result (delivered, retry, dead).',
      labelNames: ['result'],
      registers: r,
    }),
    webhookFailures: new Counter({
      name: `${p}webhook_failures_total`,
      help: 'Failed webhook attempts by coded reason (WEBHOOK_TIMEOUT, WEBHOOK_CONNECT, …).',
      labelNames: ['reason'],
      registers: r,
    }),
    webhookDuration: new Histogram({
      name: `${p}webhook_delivery_duration_seconds`,
      help: 'One webhook request, start to full response (or failure).',
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    webhookPending: new Gauge({
      name: `${p}webhook_pending_deliveries`,
      help: 'Deliveries not yet acknowledged (waiting, in flight or retrying).',
      registers: r,
    }),
    webhookOldestPendingAge: new Gauge({
      name: `${p}webhook_oldest_pending_age_seconds`,
      help: 'Age of the oldest unacknowledged delivery; 0 when none.',
      registers: r,
    }),
    webhookDead: new Gauge({
      name: `${p}webhook_dead_deliveries`,
      help: 'Deliveries in the dead state (given up; redeliverable from the API).',
      registers: r,
    }),
    lastReceived: new Gauge({
      name: `${p}last_received_timestamp_seconds`,
      help: 'When a message was last accepted.',
      registers: r,
    }),
    lastProcessed: new Gauge({
      name: `${p}last_processed_timestamp_seconds`,
      help: 'When a message last finished processing, overall (source="all") and per source.',
      labelNames: ['source'],
      registers: r,
    }),
    certNotAfter: new Gauge({
      name: `${p}tls_certificate_not_after_timestamp_seconds`,
      help: 'Expiry of each certificate: the one in use (certificate="smtp") and every *.pem certificate in certsDir (certificate=file name).',
      labelNames: ['certificate'],
      registers: r,
    }),
    certReloads: new Counter({
      name: `${p}tls_certificate_reloads_total`,
      help: 'Certificate reloads by result (success, failure).',
      labelNames: ['result'],
      registers: r,
    }),
    certReloadFailed: new Gauge({
      name: `${p}tls_certificate_reload_failed`,
      help: '1 while the last certificate reload was refused (the previous certificate is still served), else 0.',
      registers: r,
    }),
    deadLetterMessages: new Gauge({
      name: `${p}dead_letter_messages`,
      help: 'Dead-lettered messages not yet replayed or marked handled.',
      registers: r,
    }),
    digestMissing: new Gauge({
      name: `${p}digest_missing_reservations`,
      help: 'Bookings that a site lists in a daily digest (received in the last 3 days, not yet marked handled) but that were never imported, by source.',
      labelNames: ['source'],
      registers: r,
    }),
    canaryLastReceived: new Gauge({
      name: `${p}canary_last_received_timestamp_seconds`,
      help: 'When the last forwarding canary (heartbeat) mail arrived; absent when the canary is off.',
      registers: r,
    }),
    alertActive: new Gauge({
      name: `${p}alert_active`,
      help: 'Built-in watchdog alerts: number of firing instances per alert (1 for a single alert), 0 when clear.',
      labelNames: ['alert'],
      registers: r,
    }),
    alertNotifications: new Counter({
      name: `${p}alert_notifications_total`,
      help: 'Alert webhook deliveries by result (delivered, failed, dropped).',
      labelNames: ['result'],
      registers: r,
    }),
  };
  m.buildInfo.set({ version: opts.version ?? '0.0.0', node: process.version }, 1);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Computes a gauge's value at scrape time (prom-client calls `collect` before
 * reading it; its types only allow that in the constructor, hence this seam).
 */
export function collectOnScrape(gauge: Gauge, fn: () => void | Promise<void>): void {
  (gauge as unknown as { collect: () => void | Promise<void> }).collect = fn;
}

/** Every ota-inbound metric (name, type, labels, help), for the README's reference table. */
export function metricCatalogue(): { name: string; type: string; labels: string[]; help: string }[] {
  const m = createMetrics(new Registry(), { defaultMetrics: false });
  return Object.values(m)
    .filter(
      (v): v is Counter | Gauge | Histogram => v instanceof Counter || v instanceof Gauge || v instanceof Histogram,
    )
    .map((v) => {
      const x = v as unknown as { name: string; help: string; labelNames?: string[] };
      return {
        name: x.name,
        type: v instanceof Counter ? 'counter' : v instanceof Gauge ? 'gauge' : 'histogram',
        labels: x.labelNames ?? [],
        help: x.help,
      };
    });
}
