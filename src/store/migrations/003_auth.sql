-- Sender authentication (issue 8): SPF, DKIM, DMARC and ARC results and the
-- verdict for the site a mail claims to be from, as one JSON document
-- (src/auth/index.ts AuthResult). Computed by the parser worker on first
-- processing and reused on replay, so rotated DKIM keys do not turn old mail
-- into forgeries.
ALTER TABLE messages ADD COLUMN auth TEXT;
