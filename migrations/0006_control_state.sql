-- Event controls (issue 14): the published copy of the controls that every request reads. The
-- EventControls Durable Object stays the authority (every write, validation and audit goes through
-- it); after each change it publishes its new state here, so a Worker isolate refreshes its cached
-- controls with one D1 row read instead of one Durable Object request (worker/src/controls/mirror.ts).
-- One row (id = 1). A publish never replaces a newer version with an older one. Never a secret.
CREATE TABLE control_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL,     -- the controls object's version, bumped on every real change
  snapshot TEXT NOT NULL,       -- JSON of the controls, budgetSince and the per-user directory (ControlsSnapshot)
  published_at TEXT NOT NULL    -- 'YYYY-MM-DD HH:MM:SS.sss' UTC, like control_events.created_at
);
