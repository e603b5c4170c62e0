-- The access log: one row per request the Worker answered, whatever its status.
-- Written once per request, off the response path; read by dashboards, reports and load-test checks.
CREATE TABLE IF NOT EXISTS requests (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- monotonic: dashboards read "rows after id N"
  request_id  TEXT    NOT NULL,                   -- also returned to the client as X-Request-ID
  user_id     TEXT    NOT NULL,                   -- X-User-ID, or a "~…" placeholder when missing/invalid
  method      TEXT    NOT NULL,
  endpoint    TEXT    NOT NULL,                   -- path only, never the query string
  model       TEXT,                               -- from the JSON body, when there is one
  status      INTEGER NOT NULL,                   -- the status the client received
  latency_ms  INTEGER NOT NULL,                   -- request start to last byte sent
  ttfb_ms     INTEGER,                            -- request start to upstream response headers
  tokens_est  INTEGER,                            -- usage.total_tokens reported by the origin
  stream      INTEGER NOT NULL DEFAULT 0,         -- 1 when the client asked for "stream": true
  error_class TEXT,                               -- NULL on success, e.g. rate_limited, upstream_timeout
  ip_hash     TEXT,                               -- HMAC-SHA256(IP_HASH_SALT, client IP), truncated
  created_at  TEXT    NOT NULL                    -- ISO 8601 UTC with milliseconds, e.g. 2026-11-28T09:10:49.123Z
);

-- The only two indexes: each index is one more written row per insert on D1.
CREATE INDEX IF NOT EXISTS idx_requests_user_time   ON requests (user_id, created_at);
CREATE INDEX IF NOT EXISTS idx_requests_status_time ON requests (status, created_at);

-- Per-user totals for dashboards and reports.
CREATE VIEW IF NOT EXISTS user_summary AS
SELECT
  user_id,
  COUNT(*)                                            AS requests,
  SUM(CASE WHEN status BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS ok,
  SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END)      AS rate_limited,
  SUM(CASE WHEN status >= 500 THEN 1 ELSE 0 END)     AS errors,
  COALESCE(SUM(tokens_est), 0)                        AS tokens,
  CAST(AVG(latency_ms) AS INTEGER)                    AS avg_latency_ms,
  MIN(created_at)                                     AS first_seen,
  MAX(created_at)                                     AS last_seen
FROM requests
GROUP BY user_id;
