/**
 * Abuse limits per client address: token buckets for new connections and for
 * transactions, and a cooling-off refusal for repeat offenders. Pure state and
 * arithmetic on an injected clock (tests advance it instead of sleeping); the
 * SMTP front end turns the verdicts into replies (replies.ts) and metrics.
 *
 * Addresses are keyed per host for IPv4 and per /64 for IPv6 (one customer
 * usually gets a whole /64, so per-address buckets would be free to dodge).
 * The table is bounded: idle entries are swept, then the oldest dropped.
 */
import net from 'node:net';
import type { Config } from '../config/index.ts';
import { MINUTE_MS } from '../shared/index.ts';

/** The `smtp.abuse.*` settings. */
export type AbuseLimits = Readonly<Config['smtp']['abuse']>;

export type RefusalReason = 'cooling_off' | 'connection_rate' | 'message_rate' | 'too_many_errors' | 'header_too_big';

export type Verdict = { ok: true } | { ok: false; reason: RefusalReason; retryAfterSeconds: number };

/** Addresses tracked at most; past it idle entries are swept, then the oldest dropped (memory stays bounded under a spray of sources). */
const MAX_TRACKED_ADDRESSES = 50_000;

interface Bucket {
  tokens: number;
  at: number;
}

interface Entry {
  conn: Bucket;
  msg: Bucket;
  /** Times of recent offences (ms), oldest first. */
  offences: number[];
  coolUntil: number;
}

const OK: Verdict = { ok: true };

/** IPv4 as is (also when IPv4-mapped), IPv6 as its /64 prefix. */
export function addressKey(address: string): string {
  const a = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  if (net.isIPv6(a)) return `${expandIpv6(a).slice(0, 4).join(':')}::/64`;
  return a;
}

function expandIpv6(a: string): string[] {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  // An embedded IPv4 tail counts as two groups.
  const groups = (xs: string[]) => xs.flatMap((x) => (x.includes('.') ? ['0', '0'] : [x]));
  const hh = groups(h);
  const tt = groups(t);
  const zeros = tail === undefined ? [] : new Array<string>(Math.max(0, 8 - hh.length - tt.length)).fill('0');
  return [...hh, ...zeros, ...tt].map((x) => x.replace(/^0+(?=.)/, ''));
}

function exemptList(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const e of entries) {
    const [ip, bits] = e.split('/');
    const type = net.isIPv6(ip!) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip!, type);
    else list.addSubnet(ip!, Number(bits), type);
  }
  return list;
}

export class AbuseGuard {
  private readonly entries = new Map<string, Entry>();
  private readonly exempt: net.BlockList;

  constructor(
    private readonly limits: AbuseLimits,
    private readonly clock: () => number = Date.now,
  ) {
    this.exempt = exemptList(limits.exempt);
  }

  /** Exempt addresses skip the rate limits and the cooling-off refusal. */
  isExempt(address: string): boolean {
    const a = addressKey(address).replace(/::\/64$/, '');
    if (net.isIPv4(a)) return this.exempt.check(a, 'ipv4');
    return net.isIPv6(address) && this.exempt.check(address, 'ipv6');
  }

  /** A new connection: refused while cooling off or past the connection rate. */
  connection(address: string): Verdict {
    if (this.isExempt(address)) return OK;
    const now = this.clock();
    const e = this.entry(address, now);
    if (e.coolUntil > now)
      return { ok: false, reason: 'cooling_off', retryAfterSeconds: Math.ceil((e.coolUntil - now) / 1000) };
    const wait = take(e.conn, now, this.limits.connectionsPerMinute, this.limits.connectionBurst);
    if (wait === 0) return OK;
    this.offence(address, now);
    return { ok: false, reason: 'connection_rate', retryAfterSeconds: wait };
  }

  /** A new transaction (MAIL FROM): refused past the message rate. */
  transaction(address: string): Verdict {
    if (this.isExempt(address)) return OK;
    const now = this.clock();
    const e = this.entry(address, now);
    const wait = take(e.msg, now, this.limits.messagesPerMinute, this.limits.messageBurst);
    if (wait === 0) return OK;
    this.offence(address, now);
    return { ok: false, reason: 'message_rate', retryAfterSeconds: wait };
  }

  /**
   * Records an offence (a refusal the client provoked, a session closed for
   * errors). Returns true when it starts a cooling-off period.
   */
  offence(address: string, now = this.clock()): boolean {
    if (this.isExempt(address)) return false;
    const e = this.entry(address, now);
    const since = now - this.limits.offenceWindowSeconds * 1000;
    while (e.offences.length > 0 && e.offences[0]! <= since) e.offences.shift();
    e.offences.push(now);
    if (e.offences.length < this.limits.offenceLimit || e.coolUntil > now) return false;
    e.coolUntil = now + this.limits.coolOffSeconds * 1000;
    e.offences = [];
    return true;
  }

  /** Addresses refused right now (a gauge). */
  coolingOff(): number {
    const now = this.clock();
    let n = 0;
    for (const e of this.entries.values()) if (e.coolUntil > now) n++;
    return n;
  }

  get tracked(): number {
    return this.entries.size;
  }

  private entry(address: string, now: number): Entry {
    const key = addressKey(address);
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= MAX_TRACKED_ADDRESSES) this.sweep(now);
      e = {
        conn: { tokens: this.limits.connectionBurst, at: now },
        msg: { tokens: this.limits.messageBurst, at: now },
        offences: [],
        coolUntil: 0,
      };
      this.entries.set(key, e);
    }
    return e;
  }

  /** Drops entries that remember nothing (full buckets, no recent offence, not cooling off); then the oldest. */
  private sweep(now: number): void {
    const since = now - this.limits.offenceWindowSeconds * 1000;
    for (const [key, e] of this.entries) {
      const idle =
        e.coolUntil <= now &&
        (e.offences.at(-1) ?? 0) <= since &&
        refilled(e.conn, now, this.limits.connectionsPerMinute) >= this.limits.connectionBurst &&
        refilled(e.msg, now, this.limits.messagesPerMinute) >= this.limits.messageBurst;
      if (idle) this.entries.delete(key);
    }
    const excess = this.entries.size - Math.floor(MAX_TRACKED_ADDRESSES * 0.9);
    if (excess > 0) {
      let n = 0;
      for (const key of this.entries.keys()) {
        if (n++ >= excess) break;
        this.entries.delete(key);
      }
    }
  }
}

function refilled(b: Bucket, now: number, perMinute: number): number {
  return b.tokens + (Math.max(0, now - b.at) * perMinute) / MINUTE_MS;
}

/** Takes one token; returns 0 when granted, else the seconds until one is available. A rate of 0 means no limit. */
function take(b: Bucket, now: number, perMinute: number, burst: number): number {
  if (perMinute === 0) return 0;
  b.tokens = Math.min(burst, refilled(b, now, perMinute));
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return Math.max(1, Math.ceil(((1 - b.tokens) * MINUTE_MS) / perMinute / 1000));
}
