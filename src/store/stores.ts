/**
 * The store registry (docs/stores.md): restaurants an operator registered, each
 * with an unguessable intake address `r-<random>@<registry.domain>`. Rotation
 * issues a new address and keeps the previous one delivering for a grace
 * period; revocation stops every address of the store. Routing asks
 * {@link StoreRegistry.lookup} at RCPT time; reads never wait on a writer
 * (WAL), so an SMTP session is not held up by the pipeline's commits.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from './db.ts';
import { DAY_MS } from '../shared/time.ts';

/** Random bytes of an intake address: 96 bits, written as 20 base32 characters (RFC 4648, lower case). */
const ADDRESS_RANDOM_BYTES = 12;
/** Every registry address starts with this, so routing can tell it from a `{store}` pattern at a glance. */
export const REGISTRY_PREFIX = 'r-';
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** Store ids: what the `{store}` routes, webhooks and the API use (same rule as the config's store ids). */
export const STORE_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** A registry address local part: the prefix and 20 base32 characters. */
const ADDRESS_RE = /^r-[a-z2-7]{20}$/;
const NAME_MAX = 200;

export type StoreStatus = 'active' | 'revoked';
/** Why an `r-…` address does not deliver; stored as the message's quarantine reason. */
export type InactiveReason = 'unknown-address' | 'expired-address' | 'revoked-store';

export interface StoreAddress {
  /** Local part, e.g. `r-abcd…`; the domain is `registry.domain`. */
  localPart: string;
  createdAt: number;
  retiredAt: number | null;
  validUntil: number | null;
}

export interface StoreRecord {
  id: string;
  name: string;
  status: StoreStatus;
  createdAt: number;
  updatedAt: number;
  revokedAt: number | null;
  /** The address handed out now (for a revoked store: the last one it had). */
  current: StoreAddress;
  /** Earlier addresses, newest first, with the end of their grace period. */
  previous: StoreAddress[];
}

/** What an `r-…` local part means right now. */
export type AddressVerdict =
  | { kind: 'store'; store: string; current: boolean }
  | { kind: 'inactive'; reason: InactiveReason; store: string | null };

/** One site as seen at one store, from the messages routed to it. */
export interface SiteActivity {
  site: string;
  lastMailAt: number | null;
  lastReservationAt: number | null;
  declaredAt: number | null;
  verification: PendingVerification | null;
}

/** A forwarding-confirmation mail waiting for a person (state `review`, not marked handled). */
export interface PendingVerification {
  /** Spool id (`/api/messages/:id`). */
  messageId: string;
  receivedAt: number;
  code: string | null;
  link: string | null;
}

/** A registry request that cannot be done; `code` is stable for the API and the CLI. */
export class RegistryError extends Error {
  constructor(
    readonly code: 'STORE_NOT_FOUND' | 'STORE_EXISTS' | 'INVALID_STORE_ID' | 'INVALID_NAME' | 'STORE_REVOKED',
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

interface StoreRow {
  id: string;
  name: string;
  status: StoreStatus;
  created_at: number;
  updated_at: number;
  revoked_at: number | null;
}
interface AddressRow {
  local_part: string;
  store: string;
  created_at: number;
  retired_at: number | null;
  valid_until: number | null;
}

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** A fresh intake local part: `r-` and 96 random bits (never guessed, never derived from the store). */
export function newAddressLocalPart(random: (n: number) => Buffer = randomBytes): string {
  return REGISTRY_PREFIX + base32(random(ADDRESS_RANDOM_BYTES));
}

/** True when a local part has the shape of a registry address. */
export function isRegistryLocalPart(local: string): boolean {
  return ADDRESS_RE.test(local);
}

/** A store id from a name: its ASCII words, lower case, joined by `-`; empty when the name has none. */
function slug(name: string): string {
  return name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
}

function toAddress(r: AddressRow): StoreAddress {
  return { localPart: r.local_part, createdAt: r.created_at, retiredAt: r.retired_at, validUntil: r.valid_until };
}

export interface RegistryOptions {
  clock?: () => number;
  /** `registry.graceDays`. */
  graceDays: number;
  /** Random source of the addresses (tests). */
  random?: (n: number) => Buffer;
}

export class StoreRegistry {
  private readonly clock: () => number;
  private readonly random: (n: number) => Buffer;
  private readonly graceMs: number;
  private readonly stmts;

  constructor(
    private readonly db: Db,
    opts: RegistryOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.random = opts.random ?? randomBytes;
    this.graceMs = opts.graceDays * DAY_MS;
    this.stmts = {
      all: db.prepare('SELECT * FROM stores ORDER BY created_at, id'),
      one: db.prepare('SELECT * FROM stores WHERE id = ?'),
      addressesOf: db.prepare('SELECT * FROM store_addresses WHERE store = ? ORDER BY created_at DESC, rowid DESC'),
      address: db.prepare(
        'SELECT a.*, s.status FROM store_addresses a JOIN stores s ON s.id = a.store WHERE a.local_part = ?',
      ),
      insertStore: db.prepare(
        `INSERT INTO stores (id, name, status, created_at, updated_at) VALUES (@id, @name, 'active', @now, @now)`,
      ),
      insertAddress: db.prepare(
        'INSERT INTO store_addresses (local_part, store, created_at) VALUES (@local, @store, @now)',
      ),
      rename: db.prepare('UPDATE stores SET name = @name, updated_at = @now WHERE id = @id'),
      retireCurrent: db.prepare(
        'UPDATE store_addresses SET retired_at = @now, valid_until = @until WHERE store = @store AND retired_at IS NULL',
      ),
      touch: db.prepare('UPDATE stores SET updated_at = @now WHERE id = @id'),
      revoke: db.prepare(`UPDATE stores SET status = 'revoked', revoked_at = @now, updated_at = @now WHERE id = @id`),
      // A revoked store's previous addresses end now too (their grace is over).
      endGrace: db.prepare(
        'UPDATE store_addresses SET valid_until = @now WHERE store = @store AND retired_at IS NOT NULL AND valid_until > @now',
      ),
      declare: db.prepare(
        'INSERT INTO store_sites (store, site, declared_at) VALUES (?, ?, ?) ON CONFLICT (store, site) DO NOTHING',
      ),
      undeclare: db.prepare('DELETE FROM store_sites WHERE store = ? AND site = ?'),
      declared: db.prepare('SELECT site, declared_at FROM store_sites WHERE store = ?'),
      activity: db.prepare(
        `SELECT source AS site, MAX(received_at) AS last_mail_at,
                MAX(CASE WHEN kind = 'reservation' AND state IN ('processed', 'review') THEN received_at END) AS last_reservation_at
           FROM messages WHERE store = ? AND source IS NOT NULL GROUP BY source`,
      ),
      verifications: db.prepare(
        // By store, not by the review state: the review queue of a whole node may be long.
        `SELECT id, received_at, source, meta FROM messages INDEXED BY messages_store_source
          WHERE store = ? AND kind = 'verification' AND state = 'review' AND handled_at IS NULL
          ORDER BY received_at DESC, id DESC`,
      ),
    };
  }

  private record(row: StoreRow): StoreRecord {
    const addresses = (this.stmts.addressesOf.all(row.id) as AddressRow[]).map(toAddress);
    const current = addresses.find((a) => a.retiredAt === null) ?? addresses[0]!;
    return {
      id: row.id,
      name: row.name,
      status: row.status,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      revokedAt: row.revoked_at,
      current,
      previous: addresses.filter((a) => a !== current),
    };
  }

  /** Every registered store, oldest first. */
  list(): StoreRecord[] {
    return (this.stmts.all.all() as StoreRow[]).map((r) => this.record(r));
  }

  get(id: string): StoreRecord | undefined {
    const row = this.stmts.one.get(id) as StoreRow | undefined;
    return row ? this.record(row) : undefined;
  }

  private must(id: string): StoreRecord {
    const s = this.get(id);
    if (!s) throw new RegistryError('STORE_NOT_FOUND', `no store ${JSON.stringify(id)}`);
    return s;
  }

  private mustActive(id: string, action: string): StoreRecord {
    const s = this.must(id);
    if (s.status === 'revoked')
      throw new RegistryError('STORE_REVOKED', `store ${id} is revoked; it cannot be ${action} (create a new store)`);
    return s;
  }

  private static checkName(name: unknown): string {
    const n = typeof name === 'string' ? name.trim() : '';
    if (n === '' || n.length > NAME_MAX)
      throw new RegistryError('INVALID_NAME', `a store name is 1–${NAME_MAX} characters`);
    return n;
  }

  /**
   * Registers a store with a fresh intake address. The id is the given one, or
   * derived from the name's ASCII words (`Sakura Ginza` → `sakura-ginza`), or
   * random (`s-…`) for a name without any (さくら食堂).
   */
  create(input: { name: string; id?: string }): StoreRecord {
    const name = StoreRegistry.checkName(input.name);
    let id = input.id?.trim().toLowerCase();
    if (id !== undefined && !STORE_ID_RE.test(id))
      throw new RegistryError('INVALID_STORE_ID', `store id ${JSON.stringify(input.id)} must match ${STORE_ID_RE}`);
    if (id !== undefined && this.stmts.one.get(id))
      throw new RegistryError('STORE_EXISTS', `store ${id} already exists`);
    if (id === undefined) {
      const base = slug(name);
      id = base && !this.stmts.one.get(base) ? base : undefined;
      for (let n = 2; id === undefined && base && n < 100; n++)
        if (!this.stmts.one.get(`${base}-${n}`)) id = `${base}-${n}`;
      id ??= `s-${base32(this.random(5))}`;
    }
    const now = this.clock();
    const storeId = id;
    this.db.transaction(() => {
      this.stmts.insertStore.run({ id: storeId, name, now });
      this.stmts.insertAddress.run({ local: newAddressLocalPart(this.random), store: storeId, now });
    })();
    return this.must(storeId);
  }

  rename(id: string, name: string): StoreRecord {
    const n = StoreRegistry.checkName(name);
    this.must(id);
    this.stmts.rename.run({ id, name: n, now: this.clock() });
    return this.must(id);
  }

  /** A new intake address; the current one keeps delivering for `registry.graceDays`. */
  rotate(id: string): StoreRecord {
    this.mustActive(id, 'rotated');
    const now = this.clock();
    this.db.transaction(() => {
      this.stmts.retireCurrent.run({ store: id, now, until: now + this.graceMs });
      this.stmts.insertAddress.run({ local: newAddressLocalPart(this.random), store: id, now });
      this.stmts.touch.run({ id, now });
    })();
    return this.must(id);
  }

  /** Stops every address of the store at once; its mail from now on is quarantined or refused. Idempotent. */
  revoke(id: string): StoreRecord {
    const s = this.must(id);
    if (s.status === 'revoked') return s;
    const now = this.clock();
    this.db.transaction(() => {
      this.stmts.revoke.run({ id, now });
      this.stmts.endGrace.run({ store: id, now });
    })();
    return this.must(id);
  }

  /** The operator says forwarding from `site` is set up (or, with `declared=false`, takes it back). */
  declareSite(id: string, site: string, declared = true): StoreRecord {
    this.must(id);
    if (declared) this.stmts.declare.run(id, site, this.clock());
    else this.stmts.undeclare.run(id, site);
    return this.must(id);
  }

  /** What a registry local part (`r-…`) delivers to now. */
  lookup(localPart: string, now = this.clock()): AddressVerdict {
    const row = this.stmts.address.get(localPart.toLowerCase()) as (AddressRow & { status: StoreStatus }) | undefined;
    if (!row) return { kind: 'inactive', reason: 'unknown-address', store: null };
    if (row.status === 'revoked') return { kind: 'inactive', reason: 'revoked-store', store: row.store };
    if (row.retired_at === null) return { kind: 'store', store: row.store, current: true };
    if (row.valid_until !== null && now < row.valid_until) return { kind: 'store', store: row.store, current: false };
    return { kind: 'inactive', reason: 'expired-address', store: row.store };
  }

  /** A registered store's status, or null when the id is not in the registry (pattern routes ask this). */
  status(id: string): StoreStatus | null {
    return (this.stmts.one.get(id) as StoreRow | undefined)?.status ?? null;
  }

  /**
   * Per site: the last mail and the last imported reservation routed to the
   * store, whether the operator declared it, and the newest verification mail
   * waiting. `general` holds a waiting verification no site claims (a Gmail or
   * Outlook forwarding confirmation).
   */
  activity(id: string): { sites: Map<string, SiteActivity>; general: PendingVerification | null } {
    const sites = new Map<string, SiteActivity>();
    const site = (name: string): SiteActivity => {
      let a = sites.get(name);
      if (!a) {
        a = { site: name, lastMailAt: null, lastReservationAt: null, declaredAt: null, verification: null };
        sites.set(name, a);
      }
      return a;
    };
    for (const r of this.stmts.activity.all(id) as {
      site: string;
      last_mail_at: number;
      last_reservation_at: number | null;
    }[]) {
      const a = site(r.site);
      a.lastMailAt = r.last_mail_at;
      a.lastReservationAt = r.last_reservation_at;
    }
    for (const r of this.stmts.declared.all(id) as { site: string; declared_at: number }[])
      site(r.site).declaredAt = r.declared_at;
    let general: PendingVerification | null = null;
    for (const r of this.stmts.verifications.all(id) as {
      id: string;
      received_at: number;
      source: string | null;
      meta: string | null;
    }[]) {
      const v = verificationOf(r);
      if (r.source === null) general ??= v;
      else {
        const a = site(r.source);
        a.verification ??= v;
      }
    }
    return { sites, general };
  }
}

function verificationOf(r: { id: string; received_at: number; meta: string | null }): PendingVerification {
  let code: string | null = null;
  let link: string | null = null;
  try {
    const meta = JSON.parse(r.meta ?? '{}') as { verification?: { code?: string | null; url?: string | null } };
    code = meta.verification?.code ?? null;
    link = meta.verification?.url ?? null;
  } catch {
    // unreadable meta: the mail is still listed, without its code
  }
  return { messageId: r.id, receivedAt: r.received_at, code, link };
}
