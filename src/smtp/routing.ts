/**
 * Recipient policy: which addresses we accept (no open relay) and which store
 * each one belongs to — from the registry's `r-…` addresses (docs/stores.md),
 * the configured route rules, and what to do with everything else.
 */
import type { Config, Route } from '../config/index.ts';
import type { AddressVerdict, InactiveReason, StoreStatus } from '../store/index.ts';

/** Why a recipient of an accepted domain is quarantined (stored as the message's quarantine reason). */
export type QuarantineReason = InactiveReason | 'unknown-recipient' | 'postmaster';

export type RouteResult =
  | { kind: 'store'; store: string }
  /** Accepted, kept visible in quarantine, not imported. */
  | { kind: 'quarantine'; reason: QuarantineReason }
  /** Refused with 550: `unknownRecipient` (5.1.1) or `inactiveAddress` (5.1.6). */
  | { kind: 'reject'; reason: QuarantineReason; reply: 'unknownRecipient' | 'inactiveAddress' }
  | { kind: 'relay'; domain: string }; // not our domain

/** What routing needs from the store registry (src/store/stores.ts). */
export interface RegistryLookup {
  lookup(localPart: string): AddressVerdict;
  status(id: string): StoreStatus | null;
}

export interface RoutingPolicy {
  domains: readonly string[];
  routes: readonly Route[];
  stores: readonly string[];
  smtp: Pick<Config['smtp'], 'unknownRecipient'>;
  registry: Pick<Config['registry'], 'domain' | 'inactiveAddress'>;
}

const STORE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const REGISTRY_LOCAL_RE = /^r-[a-z2-7]{20}$/;

/** Which store a local part names by the route rules, or null. */
function byRules(local: string, domain: string, lower: string, policy: RoutingPolicy): string | null {
  for (const r of policy.routes) {
    if (r.address !== undefined) {
      if (r.address === lower) return r.store!;
      continue;
    }
    if (r.domain !== '*' && r.domain !== domain) continue;
    const prefix = r.localPrefix ?? '';
    const suffix = r.localSuffix ?? '';
    if (local.length <= prefix.length + suffix.length || !local.startsWith(prefix) || !local.endsWith(suffix)) continue;
    const store = local.slice(prefix.length, local.length - suffix.length);
    if (!STORE_RE.test(store)) continue;
    if (policy.stores.length > 0 && !policy.stores.includes(store)) continue;
    return store;
  }
  return null;
}

/**
 * Decides what to do with one RCPT TO address. Registry addresses come first
 * (they are unguessable and name their store exactly); then the route rules.
 * A store the registry knows as revoked receives nothing, whichever way it was
 * addressed.
 */
export function routeRecipient(address: string, policy: RoutingPolicy, registry?: RegistryLookup): RouteResult {
  const lower = address.toLowerCase();
  const at = lower.lastIndexOf('@');
  const local = lower.slice(0, at);
  const domain = lower.slice(at + 1);
  // RFC 5321 §4.5.1: every domain we accept mail for must accept postmaster, whatever the routes, the
  // stores and smtp.unknownRecipient say; it goes to quarantine, for a person.
  if (lower === 'postmaster' || (local === 'postmaster' && policy.domains.includes(domain)))
    return { kind: 'quarantine', reason: 'postmaster' };
  if (at <= 0 || !policy.domains.includes(domain)) return { kind: 'relay', domain: domain || address };
  const inactive = (reason: InactiveReason): RouteResult =>
    policy.registry.inactiveAddress === 'reject'
      ? { kind: 'reject', reason, reply: reason === 'unknown-address' ? 'unknownRecipient' : 'inactiveAddress' }
      : { kind: 'quarantine', reason };
  if (registry && domain === policy.registry.domain && REGISTRY_LOCAL_RE.test(local)) {
    const v = registry.lookup(local);
    return v.kind === 'store' ? { kind: 'store', store: v.store } : inactive(v.reason);
  }
  const store = byRules(local, domain, lower, policy);
  if (store !== null) {
    if (registry?.status(store) === 'revoked') return inactive('revoked-store');
    return { kind: 'store', store };
  }
  return policy.smtp.unknownRecipient === 'reject'
    ? { kind: 'reject', reason: 'unknown-recipient', reply: 'unknownRecipient' }
    : { kind: 'quarantine', reason: 'unknown-recipient' };
}

/** What the start-up check found: accepted domains no route reaches, routes for domains we do not accept. */
export interface RouteCoverage {
  uncoveredDomains: string[];
  foreignRoutes: string[];
}

/**
 * Compares routes with the accepted domains. A domain is covered when a route
 * names it (or `*`), an exact-address rule is at it, or it is the registry's
 * domain. A route at a domain that is not accepted can never match: mail for
 * it is refused as relaying (550 5.7.1) before routing is asked.
 */
export function routeCoverage(policy: Pick<RoutingPolicy, 'domains' | 'routes' | 'registry'>): RouteCoverage {
  const covered = new Set<string>([policy.registry.domain]);
  const foreignRoutes: string[] = [];
  let wildcard = false;
  for (const r of policy.routes) {
    const d = r.address !== undefined ? r.address.slice(r.address.lastIndexOf('@') + 1) : r.domain!;
    if (d === '*') wildcard = true;
    else if (policy.domains.includes(d)) covered.add(d);
    else foreignRoutes.push(r.rule);
  }
  return { uncoveredDomains: wildcard ? [] : policy.domains.filter((d) => !covered.has(d)), foreignRoutes };
}

/** The coverage findings as sentences (start-up warning, `/readyz` detail); empty when all is well. */
export function describeCoverage(c: RouteCoverage): string[] {
  return [
    ...c.uncoveredDomains.map(
      (d) =>
        `accepted domain ${d} has no route and is not the registry domain: no mail to it reaches a store, all of it is quarantined or refused (smtp.unknownRecipient); add a route such as {store}@${d}, or remove it from domains`,
    ),
    ...c.foreignRoutes.map(
      (r) =>
        `route ${r} names a domain that is not accepted: it never matches (mail for it is refused as relaying); add its domain to domains or remove the route`,
    ),
  ];
}
