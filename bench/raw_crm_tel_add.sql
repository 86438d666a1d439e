-- pgbench: one CRM telephone add (POST /api/v3/contacts/{id}/telephones, an international number) on
-- Postgres, as add_contact_item in src/store/crm/contacts.rs runs it: BEGIN; lock (SELECT ... FOR
-- UPDATE); the count against the collection maximum; the insert; promote_oldest; finish in
-- src/store/crm/queries.rs (the version bump, load_contact's six queries, the revision insert, the
-- contact.updated event); COMMIT. The contacts are the tel_count seeded for it from tel_first, round
-- robin as in bench/crm_tel_add.lua (client_id + clients * n), so a point of n adds gives each
-- ceil(n / tel_count); run.sh deletes the added telephones before every point and checks none passed
-- the maximum (20) afterwards. NULL parameters are literals; the revision's contact JSON is crm_json
-- and the event's data is built by jsonb_build_object (see raw_crm_create.sql).
\set n :n + 1
\set id :tel_first + (:client_id + :clients * :n) % :tel_count
BEGIN;
SELECT version, merged_into FROM crm_contacts WHERE tenant_id = :tenant AND id = :id FOR UPDATE \gset
SELECT COUNT(*) FROM crm_contact_telephones WHERE contact_id = :id;
INSERT INTO crm_contact_telephones (tenant_id, contact_id, number, e164, type, extension, country_code, is_primary) VALUES (:tenant, :id, :crm_number, :crm_e164, :crm_add_phone_type, NULL, NULL, :no) RETURNING id;
UPDATE crm_contact_telephones SET is_primary = TRUE WHERE id = (SELECT MIN(id) FROM crm_contact_telephones WHERE contact_id = :id) AND NOT EXISTS (SELECT 1 FROM crm_contact_telephones WHERE contact_id = :id AND is_primary);
UPDATE crm_contacts SET version = version + 1, updated_at = :at WHERE tenant_id = :tenant AND id = :id;
SELECT c.id, c.contact_type, c.title, c.first_name, c.last_name, c.company_name, c.account_id, c.job_title, c.gender, c.language, c.order_references, c.version, c.created_at, c.updated_at, c.merged_into FROM crm_contacts c WHERE c.tenant_id = :tenant AND c.id IN (:id) ORDER BY c.id;
SELECT id, contact_id, email_address, type AS kind, is_primary FROM crm_contact_emails WHERE contact_id IN (:id) ORDER BY contact_id, id;
SELECT id, contact_id, number, e164, type AS kind, extension, country_code, is_primary FROM crm_contact_telephones WHERE contact_id IN (:id) ORDER BY contact_id, id;
SELECT id, contact_id, address_line1, address_line2, city, postcode, state_province, country_code, is_primary FROM crm_contact_addresses WHERE contact_id IN (:id) ORDER BY contact_id, id;
SELECT contact_id, property_id FROM crm_contact_properties WHERE contact_id IN (:id) ORDER BY contact_id, property_id;
SELECT contact_id, name, field_type, value FROM crm_contact_custom_fields WHERE contact_id IN (:id) ORDER BY contact_id, id;
\set v :version + 1
INSERT INTO crm_contact_revisions (tenant_id, contact_id, version, operation, changed_at, changed_by, contact) VALUES (:tenant, :id, :v, 'ADD_TELEPHONE', :at, :author, :crm_json);
INSERT INTO events (tenant_id, type, occurred_at, actor, data) VALUES (:tenant, :ev_contact_updated, :at, :author, jsonb_build_object('contact_id', :id::int8, 'version', :v::int8));
COMMIT;
