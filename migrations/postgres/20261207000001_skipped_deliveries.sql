-- A delivery-log entry of outcome `skipped`: events pruned from the change feed (older than
-- CHANGES_RETENTION_DAYS) before a subscription could deliver them. Its event_id is the newest
-- pruned event's position and its event_type `feed.pruned`.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_outcome_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_outcome_check
    CHECK (outcome IN ('delivered', 'failed', 'retrying', 'abandoned', 'skipped'));
