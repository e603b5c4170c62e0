-- created_at in SQLite's own date-time text, UTC with milliseconds: "2026-11-28 09:10:49.123".
-- Rows were written as ISO 8601 "2026-11-28T09:10:49.123Z", and text comparison put every one of
-- them after datetime('now', '-5 minutes') ("2026-11-28 09:05:49": 'T' sorts after ' '), so the
-- operator's manual's "last 5 minutes" queries returned the whole day. The Worker now writes the new
-- form; this converts the rows already written (strftime reads the old form, 'T' and 'Z' included).
-- On D1 each converted row costs written rows (the row and its two indexes): run it before the
-- event, while the log is small.
UPDATE requests
SET created_at = strftime('%Y-%m-%d %H:%M:%f', created_at)
WHERE created_at LIKE '%T%';
