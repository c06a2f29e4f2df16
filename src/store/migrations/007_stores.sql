-- The store registry (docs/stores.md): restaurants registered by an operator,
-- each with an unguessable intake address. Mail keeps naming its store by id
-- (messages.store), so renaming a store or rotating its address changes no
-- message row.
CREATE TABLE stores (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'active',   -- active | revoked
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);

-- Every intake address a store has had, by its local part (`r-…`, lower case);
-- the domain is `registry.domain`. The current one has retired_at NULL; a
-- rotated one still delivers until valid_until (retired_at + registry.graceDays).
CREATE TABLE store_addresses (
  local_part  TEXT PRIMARY KEY,
  store       TEXT NOT NULL REFERENCES stores (id),
  created_at  INTEGER NOT NULL,
  retired_at  INTEGER,
  valid_until INTEGER
);
CREATE INDEX store_addresses_store ON store_addresses (store, created_at);

-- Sites an operator declared as set up for a store (forwarding configured
-- before any mail arrived); the site list state is "configured" from then on.
CREATE TABLE store_sites (
  store       TEXT NOT NULL REFERENCES stores (id),
  site        TEXT NOT NULL,
  declared_at INTEGER NOT NULL,
  PRIMARY KEY (store, site)
);

-- Why a message was quarantined, as decided at RCPT time (e.g. `revoked-store`).
ALTER TABLE messages ADD COLUMN quarantine_reason TEXT;

-- The per-store site status reads messages by store and source.
-- Partial, so that the time-window scans of the monitor (no store condition) keep their own index.
CREATE INDEX messages_store_source ON messages (store, source, received_at) WHERE store IS NOT NULL;
