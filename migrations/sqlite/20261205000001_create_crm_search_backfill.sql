-- How far the start-up backfill of search terms must look (`SqlStore::backfill_search`): contacts
-- up to `upto` may have been stored before search existed; every later write indexes its own
-- contact. The row is deleted when the backfill has finished, so later starts scan nothing.
CREATE TABLE crm_search_backfill (upto BIGINT NOT NULL);
INSERT INTO crm_search_backfill (upto) SELECT COALESCE(max(id), 0) FROM crm_contacts;
