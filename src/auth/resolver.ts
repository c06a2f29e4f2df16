/**
 * DNS for sender authentication, in the shape mailauth asks for
 * (`(name, rrtype) => Promise<records>`, errors carrying node:dns codes).
 *
 * - `system`: node:dns with a short per-query timeout and a small cache, so a
 *   parser worker does not ask for `tabelog.com`'s DKIM key once per mail.
 * - zone file (testing/offline): a JSON file `{"TXT": {"name": ["record"]}}`;
 *   names that are not in it do not exist.
 */
import fs from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { CodedError } from '../errors.ts';

export type DnsResolver = (name: string, rrtype: string) => Promise<unknown[]>;

/** How long a found record is reused (s); real TTLs are not exposed by resolve(). */
const POSITIVE_TTL_MS = 300_000;
/** How long "no such record" is reused: short, a site may publish a key any time. */
const NEGATIVE_TTL_MS = 60_000;
/** Cache entries per worker; beyond it the oldest go (a flood of random domains must not grow memory). */
const MAX_CACHE_ENTRIES = 10_000;
/** Answers that mean "does not exist" (cacheable), as opposed to a failed lookup. */
const NEGATIVE_CODES = new Set(['ENOTFOUND', 'ENODATA']);

function notFound(name: string, rrtype: string): Error {
  return Object.assign(new Error(`${rrtype} ${name}: not found`), { code: 'ENOTFOUND' });
}

/**
 * A resolver answering from a zone file (testing/offline). TXT values may be a
 * string or an array of strings (the 255-byte chunks of one record).
 */
export function zoneFileResolver(file: string): DnsResolver {
  let zone: Record<string, Record<string, unknown[]>>;
  try {
    zone = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof zone;
  } catch (err) {
    throw new CodedError('INTERNAL', `auth.dnsZoneFile ${file}: ${(err as Error).message}`);
  }
  const table = new Map<string, unknown[]>();
  for (const [rrtype, names] of Object.entries(zone)) {
    if (rrtype.startsWith('$') || !names || typeof names !== 'object') continue;
    for (const [name, records] of Object.entries(names)) {
      const list = Array.isArray(records) ? records : [records];
      table.set(
        `${rrtype.toUpperCase()} ${normaliseName(name)}`,
        rrtype.toUpperCase() === 'TXT'
          ? list.map((r: unknown) => (Array.isArray(r) ? (r as unknown[]) : [String(r)]))
          : list,
      );
    }
  }
  return async (name, rrtype) => {
    const hit = table.get(`${rrtype.toUpperCase()} ${normaliseName(name)}`);
    if (!hit) throw notFound(name, rrtype);
    return hit;
  };
}

/** The system resolver with a per-query timeout and a bounded cache. */
export function systemResolver(timeoutMs: number, clock: () => number = Date.now): DnsResolver {
  const dns = new Resolver({ timeout: Math.max(50, Math.floor(timeoutMs / 2)), tries: 2 });
  const cache = new Map<string, { expires: number; records?: unknown[]; code?: string }>();
  return async (name, rrtype) => {
    const key = `${rrtype.toUpperCase()} ${normaliseName(name)}`;
    const now = clock();
    const hit = cache.get(key);
    if (hit && hit.expires > now) {
      if (hit.records) return hit.records;
      throw Object.assign(new Error(`${rrtype} ${name}: ${hit.code}`), { code: hit.code });
    }
    if (cache.size >= MAX_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    try {
      const records = (await dns.resolve(name, rrtype)) as unknown[];
      cache.set(key, { expires: now + POSITIVE_TTL_MS, records });
      return records;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code && NEGATIVE_CODES.has(code)) cache.set(key, { expires: now + NEGATIVE_TTL_MS, code });
      throw err;
    }
  };
}

function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
