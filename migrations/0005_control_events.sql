-- Event controls (issue 14): one row per change made through the Worker's admin API, so the event
-- report can show the timeline of interventions. Written by the Worker (worker/src/admin/audit.ts);
-- never holds a secret or a key.
CREATE TABLE control_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at TEXT NOT NULL,   -- 'YYYY-MM-DD HH:MM:SS.sss' UTC, like requests.created_at after migration 0002
  action TEXT NOT NULL,       -- e.g. 'maintenance', 'limit_per_minute', 'models', 'max_tokens', 'budget', 'tier', 'reissue', 'revoke'
  target TEXT,                -- a user id for per-user actions, else NULL
  detail TEXT,                -- JSON of the new value; never a secret or a key
  source TEXT                 -- keyed hash of the caller's IP (like ip_hash) or 'admin'
);
