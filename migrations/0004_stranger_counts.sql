-- Strangers' traffic (issue 12): requests whose identity was never verified — no or an invalid
-- X-User-ID, a missing or wrong X-User-Key, an unknown path — get no `requests` row each (a
-- scanner would spend the D1 write quota and could log activity under any attendee's id). Each
-- Worker isolate counts them in memory and upserts one row per (minute, error_class, status) at
-- most once per flush interval (STRANGER_FLUSH_MS, default 20 s). No user id, path or IP is kept.
-- minute:      start of the UTC minute, in created_at's format (2026-11-28T09:10:00.000Z)
-- error_class: why the request was refused (missing_user, invalid_user, bad_user_key, not_found, …)
-- status:      the status the stranger received
-- requests:    how many such requests, summed over every isolate's flushes
-- WITHOUT ROWID: the primary key is the table, so an upsert writes one row (no separate index).
CREATE TABLE IF NOT EXISTS stranger_counts (
  minute      TEXT    NOT NULL,
  error_class TEXT    NOT NULL,
  status      INTEGER NOT NULL,
  requests    INTEGER NOT NULL,
  PRIMARY KEY (minute, error_class, status)
) WITHOUT ROWID;
