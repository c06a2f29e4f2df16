-- One row per spooled message. The spool file is the source of truth; this is
-- its index and what processing made of it.
CREATE TABLE messages (
  id               TEXT PRIMARY KEY,               -- spool id
  received_at      INTEGER NOT NULL,               -- ms since epoch, when the 250 was earned
  spool_segment    INTEGER NOT NULL,
  spool_offset     INTEGER NOT NULL,
  header_length    INTEGER NOT NULL,
  size             INTEGER NOT NULL,               -- raw bytes
  mail_from        TEXT,
  rcpt_to          TEXT NOT NULL,                  -- JSON array
  client_ip        TEXT NOT NULL,
  helo             TEXT,
  tls              TEXT,                           -- JSON {protocol, cipher} or NULL
  store            TEXT,
  quarantined      INTEGER NOT NULL DEFAULT 0,
  -- pending | processed | duplicate | ignored | review | quarantined
  -- | failed (will be retried at next_attempt_at) | dead (retries exhausted or permanent)
  state            TEXT NOT NULL DEFAULT 'pending',
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL DEFAULT 0,
  error_code       TEXT,
  error            TEXT,
  message_id       TEXT,                           -- Message-ID header
  sent_at          INTEGER,                        -- Date header, ms
  content_hash     TEXT,                           -- sha256 of the normalised body text
  kind             TEXT,
  source           TEXT,
  event            TEXT,
  extraction       TEXT,                           -- extraction JSON
  meta             TEXT,                           -- digest / verification details
  duplicate_of     TEXT,
  processed_at     INTEGER,
  handled_at       INTEGER,                        -- a person marked it handled
  raw_path         TEXT,                           -- set when retention moved the raw bytes out of the journal
  raw_purged_at    INTEGER                         -- raw bytes deleted by retention
);
CREATE INDEX messages_state ON messages (state, received_at, id);
CREATE INDEX messages_retry ON messages (state, next_attempt_at);
CREATE INDEX messages_segment ON messages (spool_segment, state);
CREATE INDEX messages_received ON messages (received_at);
CREATE INDEX messages_message_id ON messages (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_hash ON messages (content_hash) WHERE content_hash IS NOT NULL;
CREATE INDEX messages_source ON messages (source, processed_at);
CREATE INDEX messages_processed ON messages (processed_at);

-- How far the pipeline has taken records from the spool journal. Moves in the
-- same transaction as the message rows it covers, so recovery neither skips
-- nor repeats a record.
CREATE TABLE spool_cursor (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  segment INTEGER NOT NULL,
  offset  INTEGER NOT NULL
);
INSERT INTO spool_cursor (id, segment, offset) VALUES (1, 0, 0);

-- Current state of each booking, keyed by the site's own id.
CREATE TABLE reservations (
  id               INTEGER PRIMARY KEY,
  source           TEXT NOT NULL,
  reservation_id   TEXT NOT NULL,
  store            TEXT,
  status           TEXT NOT NULL,                  -- booked | requested | cancelled
  visit_date       TEXT,
  visit_time       TEXT,
  party_size       INTEGER,
  guest_name       TEXT,
  guest_name_kana  TEXT,
  phone            TEXT,
  course           TEXT,
  seats            TEXT,
  notes            TEXT,
  store_name       TEXT,
  needs_review     INTEGER NOT NULL DEFAULT 0,
  review_reasons   TEXT NOT NULL DEFAULT '[]',     -- JSON array
  last_message     TEXT NOT NULL,                  -- messages.id that set this state
  last_sent_at     INTEGER,                        -- its Date header: older mail never rolls back
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  UNIQUE (source, reservation_id)
);
CREATE INDEX reservations_store ON reservations (store, visit_date);
CREATE INDEX reservations_visit ON reservations (visit_date);

-- Every new / change / cancel / request, with the message it came from.
CREATE TABLE reservation_events (
  id               INTEGER PRIMARY KEY,
  reservation      INTEGER NOT NULL REFERENCES reservations (id),
  message          TEXT NOT NULL REFERENCES messages (id),
  event            TEXT NOT NULL,
  sent_at          INTEGER,
  applied          INTEGER NOT NULL,               -- 0 when older than the current state
  changes          TEXT NOT NULL DEFAULT '{}',
  extraction       TEXT NOT NULL,
  reason           TEXT,                           -- e.g. 'replay: extraction changed'
  created_at       INTEGER NOT NULL
);
CREATE INDEX reservation_events_reservation ON reservation_events (reservation, id);
CREATE INDEX reservation_events_message ON reservation_events (message);
