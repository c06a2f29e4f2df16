/**
 * Sender authentication: SPF, DKIM, DMARC and ARC (mailauth) evaluated in the
 * parser workers — never on the SMTP path — with the connection's IP, HELO and
 * MAIL FROM, and the verdict that matters here: is a mail that claims to come
 * from a booking site really signed by that site?
 *
 * Trust comes from DKIM only (forwarding breaks SPF, and SPF says nothing about
 * the From a person reads): a verified signature whose `d=` is one of the
 * site's `dkimDomains`, or — for mail a forwarder changed — a passing ARC chain
 * whose sets were sealed by a trusted forwarder (`auth.arcTrustedSealers`) and
 * whose ARC-Authentication-Results record that DKIM pass. Anything else that
 * names a site gets the review reason `unauthenticated:<source>`.
 */
import { authenticate } from 'mailauth';
import type { Extraction } from '../extract/types.ts';
import type { Config } from '../config/index.ts';
import { systemResolver, zoneFileResolver, type DnsResolver } from './resolver.ts';

export { systemResolver, zoneFileResolver, type DnsResolver } from './resolver.ts';

export interface AuthSettings {
  resolver: 'system' | 'none';
  /** Testing/offline zone file; replaces the system resolver when set. */
  dnsZoneFile: string | null;
  timeoutMs: number;
  arcTrustedSealers: readonly string[];
  /** Our host name, the authserv-id of the results. */
  mta: string;
}

/** The SMTP facts authentication needs (from the message row). */
export interface AuthEnvelope {
  clientIp: string;
  helo: string | null;
  mailFrom: string | null;
}

export interface DkimSignatureResult {
  domain: string;
  selector: string | null;
  result: string;
  /** DMARC alignment with the header From (informational; site trust uses `dkimDomains`). */
  fromAligned: boolean;
  /** Signed only part of the body (`l=`) and more follows: never trusted. */
  partialBody: boolean;
}

/** Stored with the message (`messages.auth`) and shown in the API. Plain JSON. */
export interface AuthResult {
  /** False when authentication is off (`auth.resolver = none`). */
  checked: boolean;
  /** A lookup failed or timed out: the results may change when retried. */
  temporaryError: boolean;
  /** Set when mailauth could not evaluate the message at all. */
  error: string | null;
  spf: { result: string; domain: string | null };
  dkim: DkimSignatureResult[];
  dmarc: { result: string; domain: string | null; policy: string | null };
  arc: {
    result: string;
    instance: number;
    /** `d=` of each ARC-Seal, i=1 first. */
    sealers: string[];
    /** DKIM domains recorded as `pass` by the trusted sealers at the top of a passing chain. */
    trustedDkimPass: string[];
  };
  /** Domains of verified, whole-body DKIM signatures. */
  dkimPass: string[];
  /** The verdict for the site the mail claims to be from; null when it claims none. */
  site: SiteVerdict | null;
  checkedAt: string;
}

export interface SiteVerdict {
  source: string;
  /** True when authenticated, or when authentication is off. */
  trusted: boolean;
  via: 'dkim' | 'arc' | 'unchecked' | null;
  /** The site domain that vouched for it. */
  domain: string | null;
}

/** The review reason for a site mail that is not authenticated (docs/sites.md). */
export function unauthenticatedReason(source: string): string {
  return `unauthenticated:${source}`;
}

const TEMP_RESULTS = new Set(['temperror', 'temperr']);

function emptyResult(checked: boolean, now: Date, extra: Partial<AuthResult> = {}): AuthResult {
  const none = checked ? 'none' : 'skipped';
  return {
    checked,
    temporaryError: false,
    error: null,
    spf: { result: none, domain: null },
    dkim: [],
    dmarc: { result: none, domain: null, policy: null },
    arc: { result: none, instance: 0, sealers: [], trustedDkimPass: [] },
    dkimPass: [],
    site: null,
    checkedAt: now.toISOString(),
    ...extra,
  };
}

/** The worker's settings from the configuration. */
export function authSettingsOf(config: Pick<Config, 'auth' | 'smtp'>): AuthSettings {
  return { ...config.auth, arcTrustedSealers: [...config.auth.arcTrustedSealers], mta: config.smtp.hostname };
}

/** Throws when the settings cannot work (an unreadable zone file): call once at start-up. */
export function checkAuthSettings(settings: AuthSettings): void {
  if (settings.resolver !== 'none' && settings.dnsZoneFile) zoneFileResolver(settings.dnsZoneFile);
}

/** `d` equals `domain` or is a subdomain of it. */
function within(d: string, domain: string): boolean {
  const a = d.toLowerCase();
  const b = domain.toLowerCase();
  return a === b || a.endsWith(`.${b}`);
}

function domainOfIdentity(header: Record<string, unknown> | undefined): string | null {
  if (!header) return null;
  const d = header.d;
  if (typeof d === 'string' && d) return d.toLowerCase();
  const i = header.i;
  if (typeof i === 'string' && i.includes('@')) return i.slice(i.lastIndexOf('@') + 1).toLowerCase() || null;
  return null;
}

/** One authenticator per worker: it owns the resolver (and its cache). */
export class Authenticator {
  private readonly resolver: DnsResolver | null;
  private readonly sealers: string[];

  constructor(
    private readonly settings: AuthSettings,
    private readonly clock: () => number = Date.now,
  ) {
    this.sealers = settings.arcTrustedSealers.map((s) => s.toLowerCase());
    if (settings.resolver === 'none') this.resolver = null;
    else if (settings.dnsZoneFile) this.resolver = zoneFileResolver(settings.dnsZoneFile);
    else this.resolver = systemResolver(settings.timeoutMs, clock);
  }

  /**
   * Authenticates one raw message. Never throws: a message mailauth cannot read
   * is simply not authenticated. `prior` (a stored result without temporary
   * errors) is reused, so a replay months later does not fail on rotated keys.
   */
  async run(raw: Buffer, envelope: AuthEnvelope, prior: AuthResult | null = null): Promise<AuthResult> {
    const now = new Date(this.clock());
    if (prior && prior.checked && !prior.temporaryError) return reuseAuth(prior);
    if (!this.resolver) return emptyResult(false, now);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.settings.timeoutMs);
    });
    try {
      const res = await Promise.race([this.evaluate(raw, envelope, now), timeout]);
      if (res === 'timeout') {
        const t = { result: 'temperror', domain: null };
        return emptyResult(true, now, {
          temporaryError: true,
          error: `lookups exceeded ${this.settings.timeoutMs} ms`,
          spf: t,
          dmarc: { ...t, policy: null },
        });
      }
      return res;
    } catch (err) {
      return emptyResult(true, now, {
        error: String((err as Error)?.message ?? err).slice(0, 300),
        spf: { result: 'permerror', domain: null },
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private async evaluate(raw: Buffer, envelope: AuthEnvelope, now: Date): Promise<AuthResult> {
    const r = await authenticate(raw, {
      ip: envelope.clientIp,
      helo: envelope.helo ?? undefined,
      sender: envelope.mailFrom ?? undefined,
      mta: this.settings.mta,
      resolver: this.resolver! as never,
      disableBimi: true,
    });
    // mailauth reports an unsigned message as one domain-less `none` entry: keep real signatures only.
    const dkim: DkimSignatureResult[] = (r.dkim?.results ?? [])
      .filter((s) => s.signingDomain)
      .map((s) => {
        const x = s as typeof s & {
          canonBodyLengthLimited?: boolean;
          canonBodyLength?: number;
          canonBodyLengthTotal?: number;
        };
        return {
          domain: String(s.signingDomain ?? '').toLowerCase(),
          selector: s.selector ?? null,
          result: s.status?.result ?? 'none',
          fromAligned: Boolean(s.status?.aligned),
          partialBody: Boolean(x.canonBodyLengthLimited) && (x.canonBodyLengthTotal ?? 0) > (x.canonBodyLength ?? 0),
        };
      });
    const arcResult = r.arc || null;
    const rawChain = (arcResult as unknown as { chain?: ArcLink[] | false } | null)?.chain;
    const chain: ArcLink[] = Array.isArray(rawChain) ? rawChain : [];
    const sealers = chain.map((l) => String(l['arc-seal']?.parsed?.d?.value ?? '').toLowerCase());
    const arcPass = arcResult?.status?.result === 'pass';
    const trustedDkimPass: string[] = [];
    if (arcPass) {
      // From the newest set down, while the sealer is trusted: a set sealed by
      // anyone else vouches for nothing, and neither does anything below it.
      for (let k = chain.length - 1; k >= 0; k--) {
        if (!this.sealers.some((t) => within(sealers[k]!, t))) break;
        const aar =
          k === chain.length - 1 && arcResult?.authenticationResults
            ? (arcResult.authenticationResults as { dkim?: AarDkim[] })
            : chain[k]!['arc-authentication-results']?.parsed;
        for (const e of aar?.dkim ?? []) {
          const result = e.result ?? e.value;
          const d = domainOfIdentity(e.header);
          if (result === 'pass' && d && !trustedDkimPass.includes(d)) trustedDkimPass.push(d);
        }
      }
    }
    const spfStatus = r.spf ? (r.spf as { status?: { result?: string }; domain?: string }) : null;
    const dmarc = r.dmarc ? (r.dmarc as { status?: { result?: string }; domain?: string; policy?: string }) : null;
    const results = [
      spfStatus?.status?.result,
      dmarc?.status?.result,
      arcResult?.status?.result,
      ...dkim.map((d) => d.result),
    ];
    return {
      checked: true,
      temporaryError: results.some((x) => x !== undefined && TEMP_RESULTS.has(x)),
      error: null,
      spf: { result: spfStatus?.status?.result ?? 'none', domain: spfStatus?.domain ?? null },
      dkim,
      dmarc: { result: dmarc?.status?.result ?? 'none', domain: dmarc?.domain ?? null, policy: dmarc?.policy ?? null },
      arc: {
        result: arcResult?.status?.result ?? 'none',
        instance: Number(arcResult?.i || 0),
        sealers,
        trustedDkimPass,
      },
      dkimPass: [
        ...new Set(dkim.filter((d) => d.result === 'pass' && !d.partialBody && d.domain).map((d) => d.domain)),
      ],
      site: null,
      checkedAt: now.toISOString(),
    };
  }
}

interface AarDkim {
  result?: string;
  value?: string;
  header?: Record<string, unknown>;
}
interface ArcLink {
  'arc-seal'?: { parsed?: { d?: { value?: string } } };
  'arc-authentication-results'?: { parsed?: { dkim?: AarDkim[] } };
}

/**
 * The authentication fields of a parser task, from a message row: its SMTP
 * facts and the stored result (reused unless it had a temporary error).
 */
export function authTaskFields(row: {
  client_ip: string;
  helo: string | null;
  mail_from: string | null;
  auth?: string | null;
}): { envelope: AuthEnvelope; priorAuth: AuthResult | null } {
  let priorAuth: AuthResult | null = null;
  if (row.auth) {
    try {
      priorAuth = JSON.parse(row.auth) as AuthResult;
    } catch {
      priorAuth = null;
    }
  }
  return { envelope: { clientIp: row.client_ip, helo: row.helo, mailFrom: row.mail_from }, priorAuth };
}

/** A stored result as the starting point of a re-run (the site verdict is recomputed). */
export function reuseAuth(prior: AuthResult): AuthResult {
  return { ...prior, site: null };
}

/** The verdict for a site with these signing domains. */
export function verifySite(auth: AuthResult, source: string, dkimDomains: readonly string[]): SiteVerdict {
  if (!auth.checked) return { source, trusted: true, via: 'unchecked', domain: null };
  for (const d of auth.dkimPass) {
    const site = dkimDomains.find((s) => within(d, s));
    if (site) return { source, trusted: true, via: 'dkim', domain: d };
  }
  for (const d of auth.arc.trustedDkimPass) {
    const site = dkimDomains.find((s) => within(d, s));
    if (site) return { source, trusted: true, via: 'arc', domain: d };
  }
  return { source, trusted: false, via: null, domain: null };
}

/**
 * Records the site verdict in `auth` and, when a mail names a site but is not
 * authenticated for it, flags the extraction for review. Returns the extraction
 * (a new object when changed).
 */
export function applySiteVerdict(
  extraction: Extraction,
  auth: AuthResult,
  sites: readonly { source: string; dkimDomains: readonly string[] }[],
): Extraction {
  const source = extraction.source;
  if (!source) {
    auth.site = null;
    return extraction;
  }
  const site = sites.find((s) => s.source === source);
  auth.site = verifySite(auth, source, site?.dkimDomains ?? []);
  if (auth.site.trusted) return extraction;
  const reason = unauthenticatedReason(source);
  if (extraction.reviewReasons.includes(reason)) return extraction;
  return { ...extraction, needsReview: true, reviewReasons: [...extraction.reviewReasons, reason] };
}

/** Labels of `ota_inbound_sender_auth_total` for one processed message. */
export function authMetricLabels(
  source: string | null,
  auth: AuthResult | null | undefined,
): { source: string; result: 'dkim' | 'arc' | 'unauthenticated' | 'unchecked' | 'none' } {
  const label = source ?? 'none';
  if (!auth || !auth.checked) return { source: label, result: 'unchecked' };
  if (!source || !auth.site) return { source: label, result: 'none' };
  if (!auth.site.trusted) return { source: label, result: 'unauthenticated' };
  return { source: label, result: auth.site.via === 'arc' ? 'arc' : auth.site.via === 'dkim' ? 'dkim' : 'unchecked' };
}
