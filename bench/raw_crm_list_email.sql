-- pgbench: one CRM list with an e-mail filter (GET /api/v3/contacts?emailAddress=...) on Postgres, as
-- list_contacts in src/store/crm/ runs it: begin_read; stamp_query (count, newest update, ETag
-- material); page_query (default sort c.id ASC, size 20, page 0); fetch_children of the page (five
-- queries; the seeded e-mails guest<k>@bench.example match one contact each); COMMIT. The e-mail is
-- 'guest' || :k || '@bench.example' here, a parameter in the service.
\set k random(1, :crm_contacts)
BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT COUNT(*) AS total, MAX(c.updated_at) AS last_modified, CAST(COALESCE(SUM(c.version), 0) AS BIGINT) AS version_sum, CAST(COALESCE(SUM(c.id), 0) AS BIGINT) AS id_sum FROM crm_contacts c WHERE c.tenant_id = :tenant AND c.merged_into IS NULL AND c.id IN (SELECT x.contact_id FROM crm_contact_emails x WHERE x.tenant_id = :tenant AND lower(x.email_address) = lower('guest' || :k || '@bench.example'));
SELECT c.id, c.contact_type, c.title, c.first_name, c.last_name, c.company_name, c.account_id, c.job_title, c.gender, c.language, c.order_references, c.version, c.created_at, c.updated_at, c.merged_into FROM crm_contacts c WHERE c.tenant_id = :tenant AND c.merged_into IS NULL AND c.id IN (SELECT x.contact_id FROM crm_contact_emails x WHERE x.tenant_id = :tenant AND lower(x.email_address) = lower('guest' || :k || '@bench.example')) ORDER BY c.id ASC LIMIT :page_size OFFSET :page_offset \gset page_
SELECT id, contact_id, email_address, type AS kind, is_primary FROM crm_contact_emails WHERE contact_id IN (:page_id) ORDER BY contact_id, id;
SELECT id, contact_id, number, e164, type AS kind, extension, country_code, is_primary FROM crm_contact_telephones WHERE contact_id IN (:page_id) ORDER BY contact_id, id;
SELECT id, contact_id, address_line1, address_line2, city, postcode, state_province, country_code, is_primary FROM crm_contact_addresses WHERE contact_id IN (:page_id) ORDER BY contact_id, id;
SELECT contact_id, property_id FROM crm_contact_properties WHERE contact_id IN (:page_id) ORDER BY contact_id, property_id;
SELECT contact_id, name, field_type, value FROM crm_contact_custom_fields WHERE contact_id IN (:page_id) ORDER BY contact_id, id;
COMMIT;
