-- Pruning finds old events and audit entries in id order (ids follow time), so the indexes on
-- `occurred_at` only cost every write two more index pages.
DROP INDEX IF EXISTS events_occurred_idx;
DROP INDEX IF EXISTS audit_entries_occurred_idx;
