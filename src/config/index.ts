/**
 * Configuration: built-in defaults ← config file ← OTA_INBOUND_* environment.
 * Parsed once, validated, frozen. Any invalid value throws a ConfigError that
 * names the setting (file path and environment variable) so start-up stops
 * with a sentence an operator can act on.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SETTINGS, type Setting } from './settings.ts';

export { SETTINGS } from './settings.ts';
export type { Setting } from './settings.ts';

export const CONFIG_ENV = 'OTA_INBOUND_CONFIG';
/** The shipped sample configuration used when OTA_INBOUND_CONFIG is unset. */
export const DEFAULT_CONFIG_FILE = 'config/ota-inbound.json';

export interface Route {
  /** Exact address (lower-case) when the rule is `address=store`. */
  address?: string;
  store?: string;
  /** Pattern rule: local-part prefix/suffix around `{store}`, and its domain (`*` = any accepted). */
  localPrefix?: string;
  localSuffix?: string;
  domain?: string;
  rule: string;
}

export interface Config {
  dataDir: string;
  certsDir: string;
  sitesDirs: string[];
  configFile: string | null;
  log: { level: string; format: 'auto' | 'pretty' | 'json'; pretty: boolean };
  smtp: {
    host: string;
    port: number;
    tlsPort: number | null;
    hostname: string;
    banner: string;
    maxMessageBytes: number;
    maxRecipients: number;
    maxClients: number;
    maxConnectionsPerIp: number;
    socketTimeoutMs: number;
    closeTimeoutMs: number;
    preMailTimeoutMs: number;
    reservedConnections: number;
    dataTimeoutMs: number;
    proxyHeaderTimeoutMs: number;
    dataMemoryBytes: number;
    unknownRecipient: 'quarantine' | 'reject';
    minFreeBytes: number;
    maxHeaderBytes: number;
    /** Exact peer addresses allowed (and required) to send a PROXY protocol header. */
    proxyTrusted: string[];
    abuse: {
      /** Addresses and CIDR ranges (`a.b.c.d/n`, `x::/n`) exempt from rate limits and cooling-off. */
      exempt: string[];
      connectionsPerMinute: number;
      connectionBurst: number;
      messagesPerMinute: number;
      messageBurst: number;
      maxErrors: number;
      offenceLimit: number;
      offenceWindowSeconds: number;
      coolOffSeconds: number;
    };
  };
  auth: { resolver: 'system' | 'none'; dnsZoneFile: string | null; timeoutMs: number; arcTrustedSealers: string[] };
  domains: string[];
  routes: Route[];
  /** True when `routes` was not given and was derived from `domains` (`{store}@<domain>` each). */
  routesDerived: boolean;
  stores: string[];
  /** The store registry (docs/stores.md); `domain` is always set after loading. */
  registry: { domain: string; graceDays: number; inactiveAddress: 'quarantine' | 'reject' };
  tls: { certFile: string | null; keyFile: string | null; generate: boolean; watchIntervalMs: number };
  http: { host: string; port: number; apiToken: string | null };
  pipeline: {
    workers: number;
    parseTimeoutMs: number;
    workerMaxMemoryMb: number;
    maxAttempts: number;
    retryBaseMs: number;
    batchSize: number;
    stallSeconds: number;
    reconcileIntervalMinutes: number;
  };
  retention: { rawDays: number; personalDays: number; purgeIntervalMinutes: number };
  webhook: {
    url: string | null;
    secret: string | null;
    secretPrevious: string | null;
    /** Parsed `store=url` rules of `webhook.storeUrls`. */
    storeUrls: { store: string; url: string }[];
    timeoutMs: number;
    concurrency: number;
    maxAgeHours: number;
    retryBaseMs: number;
    retryMaxMs: number;
  };
  alerts: {
    webhookUrl: string | null;
    staleAfterMinutes: number;
    webhookFormat: 'json' | 'slack';
    intervalMs: number;
    silenceProbabilityPpm: number;
    historyWeeks: number;
    fallbackStaleMinutes: number;
    lagSeconds: number;
    failureRatioPercent: number;
    failureWindowMinutes: number;
    failureMinMessages: number;
    certWarnDays: number;
    certCriticalDays: number;
    canaryAddress: string | null;
    canarySubject: string | null;
    canaryEveryMinutes: number;
  };
}

/** A setting that cannot be used; `setting` names it for the operator. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`invalid configuration: ${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Raw = Record<string, unknown>;

function getPath(obj: Raw, dotted: string): unknown {
  let cur: unknown = obj;
  for (const key of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Raw)[key];
  }
  return cur;
}

function setPath(obj: Raw, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let cur = obj;
  for (const key of keys.slice(0, -1)) {
    cur[key] ??= {};
    cur = cur[key] as Raw;
  }
  cur[keys.at(-1)!] = value;
}

/** Every dotted leaf path of a parsed JSON file, to reject unknown (misspelt) settings. */
function leafPaths(obj: Raw, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([key, value]) => {
    const p = prefix ? `${prefix}.${key}` : key;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? leafPaths(value as Raw, p) : [p];
  });
}

function coerce(setting: Setting, value: unknown, from: 'file' | 'env'): unknown {
  const name = from === 'env' ? setting.env : setting.path;
  const fail = (why: string): never => {
    throw new ConfigError(name, why);
  };
  if (value === null) return null;
  const t = setting.type;
  switch (t.kind) {
    case 'string':
    case 'url': {
      if (typeof value !== 'string') return fail(`expected a string, got ${JSON.stringify(value)}`);
      if (value === '' && !(t.kind === 'string' && t.allowEmpty))
        return from === 'env' ? null : fail('must not be empty');
      if (t.kind === 'url') {
        let u: URL;
        try {
          u = new URL(value);
        } catch {
          return fail(`not a URL: ${JSON.stringify(value)}`);
        }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`must be an http(s) URL, got ${u.protocol}`);
      }
      return value;
    }
    case 'int': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n))
        return fail(`expected an integer, got ${JSON.stringify(value)}`);
      if (n < t.min || n > t.max) return fail(`must be between ${t.min} and ${t.max}, got ${n}`);
      return n;
    }
    case 'bool': {
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|1|yes|on)$/i.test(value)) return true;
      if (typeof value === 'string' && /^(false|0|no|off)$/i.test(value)) return false;
      return fail(`expected true or false, got ${JSON.stringify(value)}`);
    }
    case 'enum': {
      if (typeof value !== 'string' || !t.values.includes(value))
        return fail(`must be one of ${t.values.join(', ')}, got ${JSON.stringify(value)}`);
      return value;
    }
    case 'list': {
      const items = typeof value === 'string' ? value.split(',') : value;
      if (!Array.isArray(items) || items.some((i) => typeof i !== 'string')) return fail('expected a list of strings');
      return (items as string[]).map((s) => s.trim()).filter(Boolean);
    }
  }
}

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const STORE_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Parses one `store=url` rule of `webhook.storeUrls`. */
export function parseStoreUrl(rule: string, setting = 'webhook.storeUrls'): { store: string; url: string } {
  const eq = rule.indexOf('=');
  const store = rule.slice(0, Math.max(0, eq)).trim().toLowerCase();
  const url = rule.slice(eq + 1).trim();
  if (eq <= 0 || !STORE_ID_RE.test(store))
    throw new ConfigError(
      setting,
      `${JSON.stringify(rule)}: expected store=https://…, store id matching ${STORE_ID_RE}`,
    );
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(setting, `${JSON.stringify(rule)}: not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConfigError(setting, `${JSON.stringify(rule)}: must be an http(s) URL`);
  return { store, url };
}

/** Parses one route rule (see the `routes` setting). */
export function parseRoute(rule: string, setting = 'routes'): Route {
  const eq = rule.lastIndexOf('=');
  if (eq > 0) {
    const address = rule.slice(0, eq).trim().toLowerCase();
    const store = rule
      .slice(eq + 1)
      .trim()
      .toLowerCase();
    if (!/^[^@\s]+@[^@\s]+$/.test(address))
      throw new ConfigError(setting, `route ${JSON.stringify(rule)}: not an address`);
    if (!STORE_ID_RE.test(store))
      throw new ConfigError(setting, `route ${JSON.stringify(rule)}: store id must match ${STORE_ID_RE}`);
    return { rule, address, store };
  }
  const m = /^([^@{}\s]*)\{store\}([^@{}\s]*)@([^@\s]+)$/.exec(rule.trim().toLowerCase());
  if (!m)
    throw new ConfigError(
      setting,
      `route ${JSON.stringify(rule)}: expected "address=store" or a pattern like "{store}@intake.example"`,
    );
  return { rule, localPrefix: m[1]!, localSuffix: m[2]!, domain: m[3]! };
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Explicit config file (`null`: none); otherwise OTA_INBOUND_CONFIG, otherwise the shipped sample if present. */
  file?: string | null;
  /** Values applied last (tests, CLI flags), by dotted path. */
  overrides?: Record<string, unknown>;
  cwd?: string;
}

/** Loads, validates and freezes the configuration. Throws ConfigError naming the setting. */
export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let configFile: string | null = opts.file !== undefined ? opts.file : (env[CONFIG_ENV] ?? null);
  // `file: null` is an explicit choice too: no file at all (the shipped sample is not picked up).
  const explicit = opts.file !== undefined || configFile !== null;
  if (!explicit && fs.existsSync(path.resolve(cwd, DEFAULT_CONFIG_FILE))) configFile = DEFAULT_CONFIG_FILE;

  let fileValues: Raw = {};
  if (configFile) {
    const abs = path.resolve(cwd, configFile);
    let text: string;
    try {
      text = fs.readFileSync(abs, 'utf8');
    } catch (err) {
      throw new ConfigError(CONFIG_ENV, `cannot read ${abs}: ${(err as Error).message}`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('top level must be an object');
      fileValues = parsed as Raw;
    } catch (err) {
      throw new ConfigError(CONFIG_ENV, `${abs} is not valid JSON: ${(err as Error).message}`);
    }
    const known = new Set(SETTINGS.map((s) => s.path));
    for (const p of leafPaths(fileValues)) {
      if (p.startsWith('$') || p.endsWith('.$comment')) continue;
      if (!known.has(p))
        throw new ConfigError(p, `unknown setting in ${abs} (see the configuration table in README.md)`);
    }
    configFile = abs;
  }

  const out: Raw = {};
  for (const s of SETTINGS) {
    let value: unknown = s.default;
    const fromFile = getPath(fileValues, s.path);
    if (fromFile !== undefined) value = coerce(s, fromFile, 'file');
    const fromEnv = env[s.env];
    if (fromEnv !== undefined) value = coerce(s, fromEnv, 'env');
    const over = opts.overrides?.[s.path];
    if (over !== undefined) value = coerce(s, over, 'file');
    setPath(out, s.path, Array.isArray(value) ? [...(value as unknown[])] : value);
  }

  const cfg = out as unknown as Config & { routes: unknown };
  cfg.configFile = configFile;
  cfg.dataDir = path.resolve(cwd, cfg.dataDir);
  cfg.certsDir = path.resolve(cwd, cfg.certsDir);
  cfg.sitesDirs = cfg.sitesDirs.map((d) => path.resolve(cwd, d));
  for (const key of ['certFile', 'keyFile'] as const) {
    if (cfg.tls[key]) cfg.tls[key] = path.resolve(cwd, cfg.tls[key]);
  }
  if ((cfg.tls.certFile === null) !== (cfg.tls.keyFile === null)) {
    throw new ConfigError(
      'tls.certFile/tls.keyFile (OTA_INBOUND_TLS_CERT_FILE/OTA_INBOUND_TLS_KEY_FILE)',
      'set both or neither',
    );
  }
  cfg.domains = cfg.domains.map((d) => d.toLowerCase());
  if (cfg.domains.length === 0)
    throw new ConfigError('domains (OTA_INBOUND_DOMAINS)', 'at least one accepted domain is required');
  for (const d of cfg.domains) {
    if (!DOMAIN_RE.test(d))
      throw new ConfigError('domains (OTA_INBOUND_DOMAINS)', `not a domain name: ${JSON.stringify(d)}`);
  }
  // Unset routes follow the accepted domains, so changing OTA_INBOUND_DOMAINS alone keeps mail routed.
  const rules = (cfg.routes as unknown as string[] | null) ?? cfg.domains.map((d) => `{store}@${d}`);
  cfg.routesDerived = cfg.routes === null;
  cfg.routes = rules.map((r) => parseRoute(r, 'routes (OTA_INBOUND_ROUTES)'));
  cfg.registry.domain = (cfg.registry.domain ?? cfg.domains[0]!).toLowerCase();
  if (!cfg.domains.includes(cfg.registry.domain))
    throw new ConfigError(
      'registry.domain (OTA_INBOUND_REGISTRY_DOMAIN)',
      `${JSON.stringify(cfg.registry.domain)} is not one of the accepted domains (${cfg.domains.join(', ')})`,
    );
  cfg.stores = cfg.stores.map((s) => s.toLowerCase());
  for (const s of cfg.stores) {
    if (!STORE_ID_RE.test(s))
      throw new ConfigError('stores (OTA_INBOUND_STORES)', `store id ${JSON.stringify(s)} must match ${STORE_ID_RE}`);
  }
  cfg.smtp.minFreeBytes ??= 2 * cfg.smtp.maxMessageBytes;
  for (const a of cfg.smtp.proxyTrusted) {
    if (net.isIP(a) === 0)
      throw new ConfigError(
        'smtp.proxyTrusted (OTA_INBOUND_SMTP_PROXY_TRUSTED)',
        `not an IP address: ${JSON.stringify(a)} (ranges are not accepted here)`,
      );
  }
  for (const a of cfg.smtp.abuse.exempt) {
    const [ip, bits, extra] = a.split('/');
    const family = net.isIP(ip ?? '');
    const max = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      extra !== undefined ||
      (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))
    ) {
      throw new ConfigError(
        'smtp.abuse.exempt (OTA_INBOUND_SMTP_ABUSE_EXEMPT)',
        `not an address or CIDR range: ${JSON.stringify(a)}`,
      );
    }
  }
  if (cfg.auth.dnsZoneFile) cfg.auth.dnsZoneFile = path.resolve(cwd, cfg.auth.dnsZoneFile);
  cfg.auth.arcTrustedSealers = cfg.auth.arcTrustedSealers.map((d) => d.toLowerCase());
  cfg.webhook.storeUrls = (cfg.webhook.storeUrls as unknown as string[]).map((r) =>
    parseStoreUrl(r, 'webhook.storeUrls (OTA_INBOUND_WEBHOOK_STORE_URLS)'),
  );
  if ((cfg.webhook.url || cfg.webhook.storeUrls.length > 0) && !cfg.webhook.secret) {
    throw new ConfigError(
      'webhook.secret (OTA_INBOUND_WEBHOOK_SECRET)',
      'required when webhook.url or webhook.storeUrls is set: unsigned webhooks are not sent',
    );
  }
  return deepFreeze(cfg);
}

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}
