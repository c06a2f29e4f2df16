-- The webhook outbox: one row per (reservation event × endpoint), written in
-- the same transaction as the reservation event, so an event is never
-- recorded without its deliveries nor delivered without being recorded.
CREATE TABLE deliveries (
  seq              INTEGER PRIMARY KEY,            -- enqueue order: per reservation+endpoint, lower goes first
  id               TEXT NOT NULL UNIQUE,           -- delivery id (X-OTA-Delivery-Id, payload "id")
  event_id         INTEGER NOT NULL REFERENCES reservation_events (id),
  reservation      INTEGER NOT NULL REFERENCES reservations (id),
  message          TEXT NOT NULL REFERENCES messages (id),
  endpoint         TEXT NOT NULL,                  -- endpoint key: 'default' or 'store:<id>' (URL resolved from config at send time)
  event            TEXT NOT NULL,                  -- reservation.new | .change | .cancel | .request
  idempotency_key  TEXT NOT NULL,                  -- same across retries and across nodes for the same mail
  payload          TEXT NOT NULL,                  -- the exact JSON body, fixed at enqueue time
  -- pending (waiting or retrying) | delivered | dead (permanent failure or expired; redeliverable)
  state            TEXT NOT NULL DEFAULT 'pending',
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,              -- ms; pushed forward while an attempt is in flight (a lease)
  expires_at       INTEGER NOT NULL,               -- ms; retries stop here (webhook.maxAgeHours after enqueue or redeliver)
  last_attempt_at  INTEGER,
  last_status      INTEGER,                        -- HTTP status of the last attempt, NULL when none came back
  last_error_code  TEXT,
  last_error       TEXT,
  last_duration_ms INTEGER,
  delivered_at     INTEGER,
  dead_at          INTEGER,
  created_at       INTEGER NOT NULL,
  UNIQUE (event_id, endpoint)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_chain ON deliveries (reservation, endpoint, state, seq);
CREATE INDEX deliveries_message ON deliveries (message);
