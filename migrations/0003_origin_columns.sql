-- Origin pool and gate (issue 13): which origin served each request and how long it waited at the
-- origin gate. Both NULL on rows written before this migration and on requests that never
-- reached the origin stage.
-- origin:       index of the origin in OPENCLAW_URL's comma-separated list, as text ("0", "1", …);
--               never the URL itself, which may carry credentials.
-- gate_wait_ms: milliseconds spent queueing at the gate (ORIGIN_MAX_CONCURRENCY set), summed over
--               the retry; NULL when no gate is configured.
ALTER TABLE requests ADD COLUMN origin TEXT;
ALTER TABLE requests ADD COLUMN gate_wait_ms INTEGER;
