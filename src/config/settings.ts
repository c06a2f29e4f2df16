/**
 * Every setting ota-inbound understands, as data: its path in the config file,
 * its environment variable, its type, default and one line of documentation.
 * The loader, the validator and the README's configuration table all read this
 * table, so a setting cannot exist without being documented (a test checks it).
 */
import os from 'node:os';

export type SettingType =
  | { kind: 'string'; allowEmpty?: boolean }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list' }
  | { kind: 'url' };

export interface Setting {
  /** Dotted path in the config file, e.g. `smtp.port`. */
  path: string;
  /** Environment variable overriding the file (prefix OTA_INBOUND_). */
  env: string;
  type: SettingType;
  /** Default; `null` means "not set" (the feature is off or derived). */
  default: string | number | boolean | readonly string[] | null;
  doc: string;
}

const MIB = 1024 * 1024;
const int = (min: number, max: number): SettingType => ({ kind: 'int', min, max });
const PORT = int(0, 65535);
const str: SettingType = { kind: 'string' };

export const SETTINGS: readonly Setting[] = [
  {
    path: 'dataDir',
    env: 'OTA_INBOUND_DATA_DIR',
    type: str,
    default: 'data',
    doc: 'Spool and SQLite database live here (relative paths are resolved from the working directory).',
  },
  {
    path: 'certsDir',
    env: 'OTA_INBOUND_CERTS_DIR',
    type: str,
    default: 'certs',
    doc: 'TLS certificates are loaded from here (`key.pem`, `cert.pem`, optional `chain.pem`) and generated here when missing.',
  },
  {
    path: 'sitesDirs',
    env: 'OTA_INBOUND_SITES_DIRS',
    type: { kind: 'list' },
    default: [],
    doc: 'Extra directories of site definition JSON files, read after the shipped `config/sites/` (a file with the same `source` replaces the shipped one).',
  },

  {
    path: 'log.level',
    env: 'OTA_INBOUND_LOG_LEVEL',
    type: { kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    default: 'info',
    doc: 'pino log level.',
  },
  {
    path: 'log.pretty',
    env: 'OTA_INBOUND_LOG_PRETTY',
    type: { kind: 'bool' },
    default: false,
    doc: 'Human-readable single-line logs on stderr instead of JSON (development).',
  },

  {
    path: 'smtp.host',
    env: 'OTA_INBOUND_SMTP_HOST',
    type: str,
    default: '0.0.0.0',
    doc: 'Address the SMTP listener binds.',
  },
  {
    path: 'smtp.port',
    env: 'OTA_INBOUND_SMTP_PORT',
    type: PORT,
    default: 2525,
    doc: 'SMTP port (plain with STARTTLS). 0 picks a free port.',
  },
  {
    path: 'smtp.tlsPort',
    env: 'OTA_INBOUND_SMTP_TLS_PORT',
    type: PORT,
    default: null,
    doc: 'Optional implicit-TLS SMTP port (e.g. 465); off when unset.',
  },
  {
    path: 'smtp.hostname',
    env: 'OTA_INBOUND_SMTP_HOSTNAME',
    type: str,
    default: os.hostname(),
    doc: 'Name in the greeting and EHLO reply, and the subject/SAN of a generated certificate.',
  },
  {
    path: 'smtp.banner',
    env: 'OTA_INBOUND_SMTP_BANNER',
    type: { kind: 'string', allowEmpty: true },
    default: 'ota-inbound reservation intake',
    doc: 'Text after the hostname in the 220 greeting.',
  },
  {
    path: 'smtp.maxMessageBytes',
    env: 'OTA_INBOUND_SMTP_MAX_MESSAGE_BYTES',
    type: int(1024, 1024 * MIB),
    default: 25 * MIB,
    doc: 'Largest message accepted (advertised as SIZE); larger ones get 552 5.3.4.',
  },
  {
    path: 'smtp.maxRecipients',
    env: 'OTA_INBOUND_SMTP_MAX_RECIPIENTS',
    type: int(1, 10_000),
    default: 50,
    doc: 'Recipients per message; one more gets 452 4.5.3.',
  },
  {
    path: 'smtp.maxClients',
    env: 'OTA_INBOUND_SMTP_MAX_CLIENTS',
    type: int(1, 100_000),
    default: 500,
    doc: 'Concurrent SMTP connections in all; one more gets 421 4.7.0.',
  },
  {
    path: 'smtp.maxConnectionsPerIp',
    env: 'OTA_INBOUND_SMTP_MAX_CONNECTIONS_PER_IP',
    type: int(1, 100_000),
    default: 50,
    doc: 'Concurrent SMTP connections from one client address; one more gets 421 4.7.0.',
  },
  {
    path: 'smtp.socketTimeoutMs',
    env: 'OTA_INBOUND_SMTP_SOCKET_TIMEOUT_MS',
    type: int(1_000, 3_600_000),
    default: 300_000,
    doc: 'Idle time before a session is closed (RFC 5321 §4.5.3.2 asks for 5 minutes).',
  },
  {
    path: 'smtp.closeTimeoutMs',
    env: 'OTA_INBOUND_SMTP_CLOSE_TIMEOUT_MS',
    type: int(0, 600_000),
    default: 8_000,
    doc: 'On shutdown, how long a message still being received or spooled may take before its session is cut; idle sessions get 421 4.3.2 at once. Keep it below the stop grace of your supervisor (Docker: 10 s).',
  },
  {
    path: 'smtp.preMailTimeoutMs',
    env: 'OTA_INBOUND_SMTP_PRE_MAIL_TIMEOUT_MS',
    type: int(1_000, 3_600_000),
    default: 30_000,
    doc: 'How long a new session may take to reach its first MAIL FROM (greeting, EHLO, STARTTLS); past it 421 4.4.2 and the connection is closed, so idle connections cannot hold the slots of real senders.',
  },
  {
    path: 'smtp.reservedConnections',
    env: 'OTA_INBOUND_SMTP_RESERVED_CONNECTIONS',
    type: int(0, 100_000),
    default: 50,
    doc: 'Connection slots kept for sessions in a transaction: sessions that have not yet sent MAIL FROM may hold at most `maxClients - reservedConnections` slots (at least 1). Past that, or at `maxClients`, a new connection evicts the oldest such session (421 4.4.5) instead of being refused; when every session is in a transaction it gets 421 4.7.0.',
  },
  {
    path: 'smtp.dataTimeoutMs',
    env: 'OTA_INBOUND_SMTP_DATA_TIMEOUT_MS',
    type: int(1_000, 3_600_000),
    default: 600_000,
    doc: 'Overall deadline for one DATA phase, from the 354 to the final dot (RFC 5321 §4.5.3.2 suggests 10 minutes); past it 421 4.4.2, the message is not accepted and the connection is closed. The idle timeout alone never ends a trickling sender.',
  },
  {
    path: 'smtp.proxyHeaderTimeoutMs',
    env: 'OTA_INBOUND_SMTP_PROXY_HEADER_TIMEOUT_MS',
    type: int(100, 600_000),
    default: 5_000,
    doc: 'How long a connection from a `proxyTrusted` load balancer may take to send its PROXY header before it is closed.',
  },
  {
    path: 'smtp.dataMemoryBytes',
    env: 'OTA_INBOUND_SMTP_DATA_MEMORY_BYTES',
    type: int(MIB, 64 * 1024 * MIB),
    default: 256 * MIB,
    doc: 'Memory budget for message bytes held by all sessions together, from the first DATA byte until the message is in the spool. A session whose next chunk would exceed it reads its message to the end, then gets 452 4.3.1 (the sender retries later); a MAIL FROM whose SIZE= does not fit the free budget gets 452 4.3.1 at once.',
  },
  {
    path: 'smtp.unknownRecipient',
    env: 'OTA_INBOUND_SMTP_UNKNOWN_RECIPIENT',
    type: { kind: 'enum', values: ['quarantine', 'reject'] },
    default: 'quarantine',
    doc: '`quarantine`: accept mail for an accepted domain whose recipient matches no store, and keep it visible as quarantined; `reject`: answer 550 5.1.1.',
  },
  {
    path: 'smtp.minFreeBytes',
    env: 'OTA_INBOUND_SMTP_MIN_FREE_BYTES',
    type: int(0, Number.MAX_SAFE_INTEGER),
    default: null,
    doc: 'Free space the spool disk must keep; below it MAIL FROM gets 452 4.3.1. Default: 2 × maxMessageBytes.',
  },

  {
    path: 'smtp.maxHeaderBytes',
    env: 'OTA_INBOUND_SMTP_MAX_HEADER_BYTES',
    type: int(1024, 64 * MIB),
    default: 256 * 1024,
    doc: 'Largest header section (bytes before the first blank line); a larger one gets 552 5.3.4 after DATA.',
  },
  {
    path: 'smtp.proxyTrusted',
    env: 'OTA_INBOUND_SMTP_PROXY_TRUSTED',
    type: { kind: 'list' },
    default: [],
    doc: 'Load-balancer addresses (exact IPs) that must open each connection with a PROXY protocol v1 header; the address in it becomes the client IP. Other peers are plain SMTP clients. Empty: PROXY protocol off.',
  },
  {
    path: 'smtp.abuse.exempt',
    env: 'OTA_INBOUND_SMTP_ABUSE_EXEMPT',
    type: { kind: 'list' },
    default: ['127.0.0.1', '::1'],
    doc: 'Client addresses or CIDR ranges exempt from the rate limits and the cooling-off refusal (local monitoring, benchmarks). The per-session error and header limits still apply.',
  },
  {
    path: 'smtp.abuse.connectionsPerMinute',
    env: 'OTA_INBOUND_SMTP_ABUSE_CONNECTIONS_PER_MINUTE',
    type: int(0, 1_000_000),
    default: 60,
    doc: 'New connections one client address (IPv6: its /64) may open per minute, sustained (token bucket); one more gets 421 4.7.0. 0 turns the limit off.',
  },
  {
    path: 'smtp.abuse.connectionBurst',
    env: 'OTA_INBOUND_SMTP_ABUSE_CONNECTION_BURST',
    type: int(1, 1_000_000),
    default: 60,
    doc: 'Connections a client address may open at once before `connectionsPerMinute` applies (bucket size).',
  },
  {
    path: 'smtp.abuse.messagesPerMinute',
    env: 'OTA_INBOUND_SMTP_ABUSE_MESSAGES_PER_MINUTE',
    type: int(0, 1_000_000),
    default: 120,
    doc: 'Transactions (MAIL FROM) one client address may start per minute, sustained; one more gets 450 4.7.1. 0 turns the limit off.',
  },
  {
    path: 'smtp.abuse.messageBurst',
    env: 'OTA_INBOUND_SMTP_ABUSE_MESSAGE_BURST',
    type: int(1, 1_000_000),
    default: 240,
    doc: 'Transactions a client address may start at once before `messagesPerMinute` applies (bucket size).',
  },
  {
    path: 'smtp.abuse.maxErrors',
    env: 'OTA_INBOUND_SMTP_ABUSE_MAX_ERRORS',
    type: int(1, 10_000),
    default: 10,
    doc: 'Permanent-error (5xx) replies one session may earn (bad commands, syntax errors, refused recipients); the next one is replaced by 421 4.7.0 and the connection is closed.',
  },
  {
    path: 'smtp.abuse.offenceLimit',
    env: 'OTA_INBOUND_SMTP_ABUSE_OFFENCE_LIMIT',
    type: int(1, 1_000_000),
    default: 10,
    doc: 'Offences (a rate-limit refusal, or a session closed for too many errors) a client address may commit within `offenceWindowSeconds` before it is refused for `coolOffSeconds`.',
  },
  {
    path: 'smtp.abuse.offenceWindowSeconds',
    env: 'OTA_INBOUND_SMTP_ABUSE_OFFENCE_WINDOW_SECONDS',
    type: int(1, 86_400),
    default: 600,
    doc: 'Window in which offences are counted.',
  },
  {
    path: 'smtp.abuse.coolOffSeconds',
    env: 'OTA_INBOUND_SMTP_ABUSE_COOL_OFF_SECONDS',
    type: int(1, 604_800),
    default: 600,
    doc: "How long a repeat offender's connections are refused with 421 4.7.0 (the reply says how long is left).",
  },

  {
    path: 'auth.resolver',
    env: 'OTA_INBOUND_AUTH_RESOLVER',
    type: { kind: 'enum', values: ['system', 'none'] },
    default: 'system',
    doc: 'Sender authentication (SPF, DKIM, DMARC, ARC) in the parser workers: `system` resolves with the system DNS; `none` skips it (results `none`, and no `unauthenticated:` review reason).',
  },
  {
    path: 'auth.dnsZoneFile',
    env: 'OTA_INBOUND_AUTH_DNS_ZONE_FILE',
    type: str,
    default: null,
    doc: 'Testing/offline: a JSON file `{"TXT": {"name": ["record", …]}, …}` used instead of DNS by sender authentication. Names not in it do not exist.',
  },
  {
    path: 'auth.timeoutMs',
    env: 'OTA_INBOUND_AUTH_TIMEOUT_MS',
    type: int(50, 600_000),
    default: 4_000,
    doc: "Time limit of the DNS lookups of one message's authentication (kept below `pipeline.parseTimeoutMs`); past it the results are `temperror`.",
  },
  {
    path: 'auth.arcTrustedSealers',
    env: 'OTA_INBOUND_AUTH_ARC_TRUSTED_SEALERS',
    type: { kind: 'list' },
    default: [
      'google.com',
      'gmail.com',
      'microsoft.com',
      'outlook.com',
      'yahoo.com',
      'icloud.com',
      'messagingengine.com',
      'fastmail.com',
    ],
    doc: "ARC sealer domains (`d=` of ARC-Seal) whose ARC-Authentication-Results are believed: a passing chain sealed by one of them that records a DKIM pass for a site's domain authenticates a forwarded site mail.",
  },

  {
    path: 'domains',
    env: 'OTA_INBOUND_DOMAINS',
    type: { kind: 'list' },
    default: ['intake.example'],
    doc: 'Domains accepted for delivery (comma-separated); any other recipient gets 550 5.7.1 (no relay).',
  },
  {
    path: 'routes',
    env: 'OTA_INBOUND_ROUTES',
    type: { kind: 'list' },
    default: ['{store}@*'],
    doc: 'Recipient → store rules, first match wins: an exact address `a@b=store`, or a pattern with `{store}` such as `{store}@intake.example`, `intake+{store}@example.com`; `*` as the domain means any accepted domain.',
  },
  {
    path: 'stores',
    env: 'OTA_INBOUND_STORES',
    type: { kind: 'list' },
    default: [],
    doc: 'Known store ids. When set, a route that yields any other id counts as an unknown recipient; when empty, every routed id is accepted.',
  },

  {
    path: 'tls.certFile',
    env: 'OTA_INBOUND_TLS_CERT_FILE',
    type: str,
    default: null,
    doc: 'PEM certificate (with chain) to serve; overrides `certsDir`.',
  },
  {
    path: 'tls.keyFile',
    env: 'OTA_INBOUND_TLS_KEY_FILE',
    type: str,
    default: null,
    doc: 'PEM private key for `tls.certFile`.',
  },
  {
    path: 'tls.generate',
    env: 'OTA_INBOUND_TLS_GENERATE',
    type: { kind: 'bool' },
    default: true,
    doc: 'Generate a self-signed certificate (SHA-256, 365 days) in `certsDir` when none is there.',
  },
  {
    path: 'tls.watchIntervalMs',
    env: 'OTA_INBOUND_TLS_WATCH_INTERVAL_MS',
    type: int(100, 86_400_000),
    default: 10_000,
    doc: 'How often certificate files are checked for changes (then reloaded without restart).',
  },

  {
    path: 'http.host',
    env: 'OTA_INBOUND_HTTP_HOST',
    type: str,
    default: '127.0.0.1',
    doc: 'Address of the HTTP listener (metrics, health, API, dashboard). Localhost by default.',
  },
  {
    path: 'http.port',
    env: 'OTA_INBOUND_HTTP_PORT',
    type: PORT,
    default: 8025,
    doc: 'HTTP port. 0 picks a free port.',
  },
  {
    path: 'http.apiToken',
    env: 'OTA_INBOUND_API_TOKEN',
    type: str,
    default: null,
    doc: 'Bearer token for `/api/` and the dashboard. Unset: the API answers only loopback clients.',
  },

  {
    path: 'pipeline.workers',
    env: 'OTA_INBOUND_PIPELINE_WORKERS',
    type: int(1, 64),
    default: Math.max(1, os.availableParallelism()),
    doc: 'Parser worker threads.',
  },
  {
    path: 'pipeline.parseTimeoutMs',
    env: 'OTA_INBOUND_PIPELINE_PARSE_TIMEOUT_MS',
    type: int(100, 600_000),
    default: 10_000,
    doc: 'Wall-clock limit for parsing one message; past it the worker is replaced and the message retried.',
  },
  {
    path: 'pipeline.workerMaxMemoryMb',
    env: 'OTA_INBOUND_PIPELINE_WORKER_MAX_MEMORY_MB',
    type: int(32, 16_384),
    default: 512,
    doc: 'Heap limit of one parser worker (`resourceLimits.maxOldGenerationSizeMb`).',
  },
  {
    path: 'pipeline.maxAttempts',
    env: 'OTA_INBOUND_PIPELINE_MAX_ATTEMPTS',
    type: int(1, 100),
    default: 6,
    doc: 'Tries for a transient failure before the message is dead-lettered (raw file kept).',
  },
  {
    path: 'pipeline.retryBaseMs',
    env: 'OTA_INBOUND_PIPELINE_RETRY_BASE_MS',
    type: int(10, 3_600_000),
    default: 2_000,
    doc: 'First retry delay; doubles each try, with full jitter.',
  },
  {
    path: 'pipeline.stallSeconds',
    env: 'OTA_INBOUND_PIPELINE_STALL_SECONDS',
    type: int(5, 86_400),
    default: 60,
    doc: 'The pipeline counts as stalled when it has not moved for this long while mail waits: `/readyz` turns 503 and the `PipelineStalled` alert fires.',
  },
  {
    path: 'pipeline.batchSize',
    env: 'OTA_INBOUND_PIPELINE_BATCH_SIZE',
    type: int(1, 10_000),
    default: 256,
    doc: 'Messages persisted per SQLite transaction.',
  },

  {
    path: 'retention.rawDays',
    env: 'OTA_INBOUND_RETENTION_RAW_DAYS',
    type: int(1, 36_500),
    default: 90,
    doc: "Days a processed message's raw bytes are kept before purge (failed, quarantined and needs-review mail is never purged).",
  },
  {
    path: 'retention.personalDays',
    env: 'OTA_INBOUND_RETENTION_PERSONAL_DAYS',
    type: int(1, 36_500),
    default: 180,
    doc: 'Days after the visit date after which guest names, kana, phones and notes are erased from the database.',
  },
  {
    path: 'retention.purgeIntervalMinutes',
    env: 'OTA_INBOUND_RETENTION_PURGE_INTERVAL_MINUTES',
    type: int(1, 10_080),
    default: 360,
    doc: 'How often the server runs the retention purge (also available as `ota-inbound purge`).',
  },
  {
    path: 'pipeline.reconcileIntervalMinutes',
    env: 'OTA_INBOUND_PIPELINE_RECONCILE_INTERVAL_MINUTES',
    type: int(1, 10_080),
    default: 60,
    doc: 'How often the server proves that every journal record has a message row and every row its raw bytes, re-recording what is missing (also after start-up, and on demand as `ota-inbound verify`).',
  },

  {
    path: 'webhook.url',
    env: 'OTA_INBOUND_WEBHOOK_URL',
    type: { kind: 'url' },
    default: null,
    doc: 'Reservation webhook endpoint; deliveries are off when unset.',
  },
  {
    path: 'webhook.secret',
    env: 'OTA_INBOUND_WEBHOOK_SECRET',
    type: str,
    default: null,
    doc: 'HMAC-SHA256 secret for the webhook signature.',
  },
  {
    path: 'webhook.secretPrevious',
    env: 'OTA_INBOUND_WEBHOOK_SECRET_PREVIOUS',
    type: str,
    default: null,
    doc: 'Previous secret during a rotation: every request is signed with both (two `v1=` in `X-OTA-Signature`). Remove once receivers use the new one.',
  },
  {
    path: 'webhook.storeUrls',
    env: 'OTA_INBOUND_WEBHOOK_STORE_URLS',
    type: { kind: 'list' },
    default: [],
    doc: 'Per-store endpoints, `store=https://…` (comma-separated; a store may have several). A store listed here gets these instead of `webhook.url`.',
  },
  {
    path: 'webhook.timeoutMs',
    env: 'OTA_INBOUND_WEBHOOK_TIMEOUT_MS',
    type: int(100, 300_000),
    default: 10_000,
    doc: 'Time limit of one webhook request (connect to full response); past it the attempt counts as failed and is retried.',
  },
  {
    path: 'webhook.concurrency',
    env: 'OTA_INBOUND_WEBHOOK_CONCURRENCY',
    type: int(1, 256),
    default: 8,
    doc: 'Webhook requests in flight at once, over all endpoints.',
  },
  {
    path: 'webhook.maxAgeHours',
    env: 'OTA_INBOUND_WEBHOOK_MAX_AGE_HOURS',
    type: int(1, 8_760),
    default: 72,
    doc: 'How long a delivery is retried before it becomes dead (visible, redeliverable from the API).',
  },
  {
    path: 'webhook.retryBaseMs',
    env: 'OTA_INBOUND_WEBHOOK_RETRY_BASE_MS',
    type: int(10, 3_600_000),
    default: 10_000,
    doc: 'First webhook retry delay; doubles per attempt (equal jitter) up to `webhook.retryMaxMs`.',
  },
  {
    path: 'webhook.retryMaxMs',
    env: 'OTA_INBOUND_WEBHOOK_RETRY_MAX_MS',
    type: int(10, 86_400_000),
    default: 3_600_000,
    doc: 'Longest delay between two webhook attempts.',
  },
  {
    path: 'alerts.webhookUrl',
    env: 'OTA_INBOUND_ALERT_WEBHOOK_URL',
    type: { kind: 'url' },
    default: null,
    doc: 'Alert webhook (generic JSON); alerts still go to logs, metrics and `/api/alerts` without it.',
  },
  {
    path: 'alerts.staleAfterMinutes',
    env: 'OTA_INBOUND_ALERTS_STALE_AFTER_MINUTES',
    type: int(1, 10_080),
    default: 30,
    doc: 'Alert when no message has been processed for this long (while mail is expected).',
  },
  {
    path: 'alerts.webhookFormat',
    env: 'OTA_INBOUND_ALERT_WEBHOOK_FORMAT',
    type: { kind: 'enum', values: ['json', 'slack'] },
    default: 'json',
    doc: '`json`: the generic alert JSON (docs/alerts.md); `slack`: a Slack-compatible `{"text": …}` body for an incoming-webhook URL.',
  },
  {
    path: 'alerts.intervalMs',
    env: 'OTA_INBOUND_ALERTS_INTERVAL_MS',
    type: int(1_000, 3_600_000),
    default: 60_000,
    doc: 'How often the built-in watchdogs evaluate.',
  },
  {
    path: 'alerts.silenceProbabilityPpm',
    env: 'OTA_INBOUND_ALERTS_SILENCE_PROBABILITY_PPM',
    type: int(1, 500_000),
    default: 1_000,
    doc: 'Silence alerts fire when the chance of the observed silence under the learned hourly rates is below this, in parts per million (1000 = 0.1 %). See docs/alerts.md.',
  },
  {
    path: 'alerts.historyWeeks',
    env: 'OTA_INBOUND_ALERTS_HISTORY_WEEKS',
    type: int(1, 26),
    default: 4,
    doc: 'Weeks of past mail the expected-activity model learns from.',
  },
  {
    path: 'alerts.fallbackStaleMinutes',
    env: 'OTA_INBOUND_ALERTS_FALLBACK_STALE_MINUTES',
    type: int(1, 43_200),
    default: 360,
    doc: 'Fixed silence threshold (overall, per source, per store) while there is less than a day of history to learn from.',
  },
  {
    path: 'alerts.lagSeconds',
    env: 'OTA_INBOUND_ALERTS_LAG_SECONDS',
    type: int(10, 86_400),
    default: 300,
    doc: 'Alert when the oldest unprocessed message is older than this; clears below half of it.',
  },
  {
    path: 'alerts.failureRatioPercent',
    env: 'OTA_INBOUND_ALERTS_FAILURE_RATIO_PERCENT',
    type: int(1, 100),
    default: 50,
    doc: "Alert when this share of a source's mail in the window could not be read as a complete reservation (a template change); clears below half of it.",
  },
  {
    path: 'alerts.failureWindowMinutes',
    env: 'OTA_INBOUND_ALERTS_FAILURE_WINDOW_MINUTES',
    type: int(5, 10_080),
    default: 60,
    doc: 'Window of the per-source failure ratio.',
  },
  {
    path: 'alerts.failureMinMessages',
    env: 'OTA_INBOUND_ALERTS_FAILURE_MIN_MESSAGES',
    type: int(1, 10_000),
    default: 5,
    doc: 'Messages of a source needed in the window before its failure ratio can alert.',
  },
  {
    path: 'alerts.certWarnDays',
    env: 'OTA_INBOUND_ALERTS_CERT_WARN_DAYS',
    type: int(1, 365),
    default: 30,
    doc: 'Warning when a certificate in use or in `certsDir` expires within this many days.',
  },
  {
    path: 'alerts.certCriticalDays',
    env: 'OTA_INBOUND_ALERTS_CERT_CRITICAL_DAYS',
    type: int(0, 365),
    default: 7,
    doc: 'Critical when a certificate expires within this many days.',
  },
  {
    path: 'alerts.canaryAddress',
    env: 'OTA_INBOUND_ALERTS_CANARY_ADDRESS',
    type: str,
    default: null,
    doc: 'Forwarding canary: a heartbeat mail is recognised by this address as envelope recipient or sender, or header/forwarded From. Off when neither this nor `alerts.canarySubject` is set.',
  },
  {
    path: 'alerts.canarySubject',
    env: 'OTA_INBOUND_ALERTS_CANARY_SUBJECT',
    type: str,
    default: null,
    doc: 'Forwarding canary: a heartbeat mail is recognised by this text in its Subject.',
  },
  {
    path: 'alerts.canaryEveryMinutes',
    env: 'OTA_INBOUND_ALERTS_CANARY_EVERY_MINUTES',
    type: int(1, 10_080),
    default: 60,
    doc: 'The canary is expected this often; it alerts when none arrived for twice this long.',
  },
];
