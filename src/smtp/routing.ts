/**
 * Recipient policy: which addresses we accept (no open relay) and which store
 * each one belongs to, from the configured domains and route rules.
 */
import type { Route } from '../config/index.ts';

export type RouteResult =
  | { kind: 'store'; store: string }
  | { kind: 'unknown' } // accepted domain, but no known store
  | { kind: 'postmaster' } // postmaster@ an accepted domain, or the bare <postmaster> (RFC 5321 §4.5.1): always accepted
  | { kind: 'relay'; domain: string }; // not our domain

export interface RoutingPolicy {
  domains: readonly string[];
  routes: readonly Route[];
  stores: readonly string[];
}

const STORE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Decides what to do with one RCPT TO address. */
export function routeRecipient(address: string, policy: RoutingPolicy): RouteResult {
  const lower = address.toLowerCase();
  const at = lower.lastIndexOf('@');
  const local = lower.slice(0, at);
  const domain = lower.slice(at + 1);
  // RFC 5321 §4.5.1: every domain we accept mail for must accept postmaster, whatever the routes and stores say.
  if (lower === 'postmaster' || (local === 'postmaster' && policy.domains.includes(domain)))
    return { kind: 'postmaster' };
  if (at <= 0 || !policy.domains.includes(domain)) return { kind: 'relay', domain: domain || address };
  for (const r of policy.routes) {
    if (r.address !== undefined) {
      if (r.address === lower) return { kind: 'store', store: r.store! };
      continue;
    }
    if (r.domain !== '*' && r.domain !== domain) continue;
    const prefix = r.localPrefix ?? '';
    const suffix = r.localSuffix ?? '';
    if (local.length <= prefix.length + suffix.length || !local.startsWith(prefix) || !local.endsWith(suffix)) continue;
    const store = local.slice(prefix.length, local.length - suffix.length);
    if (!STORE_RE.test(store)) continue;
    if (policy.stores.length > 0 && !policy.stores.includes(store)) continue;
    return { kind: 'store', store };
  }
  return { kind: 'unknown' };
}
