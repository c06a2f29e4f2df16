-- Damaged spans of the spool journal: bytes between valid records that no
-- longer frame as a record (a flipped byte in a frame or a header). The bytes
-- stay in their segment for forensics; the span is reported here, with the
-- spool id when one could still be read from it. Retention keeps a segment
-- with an unresolved span (resolved_at IS NULL).
CREATE TABLE spool_damage (
  segment     INTEGER NOT NULL,
  offset      INTEGER NOT NULL,
  end_offset  INTEGER NOT NULL,
  spool_id    TEXT,
  detected_at INTEGER NOT NULL,
  resolved_at INTEGER,
  PRIMARY KEY (segment, offset)
);

