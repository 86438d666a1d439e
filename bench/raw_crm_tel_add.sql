-- pgbench: one CRM telephone add (POST /api/v3/contacts/{id}/telephones, an international number) on
-- Postgres, as add_contact_item in src/store/crm/contacts.rs runs it: BEGIN; lock (SELECT ... FOR
-- UPDATE); the count against the collection maximum; the insert; promote_oldest; finish in
-- src/store/crm/queries.rs (the version bump, load_contact's one query, the revision insert, the
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
SELECT c.id, c.contact_type, c.title, c.first_name, c.last_name, c.company_name, c.account_id, c.job_title, c.gender, c.language, c.order_references, c.version, c.created_at, c.updated_at, c.merged_into, c.external_id, (SELECT CAST(json_agg(json_build_object('id', x.id, 'contact_id', x.contact_id, 'email_address', x.email_address, 'kind', x.type, 'is_primary', x.is_primary) ORDER BY x.contact_id, x.id) AS TEXT) FROM crm_contact_emails x WHERE x.contact_id = c.id) AS emails, (SELECT CAST(json_agg(json_build_object('id', x.id, 'contact_id', x.contact_id, 'number', x.number, 'e164', x.e164, 'kind', x.type, 'extension', x.extension, 'country_code', x.country_code, 'is_primary', x.is_primary) ORDER BY x.contact_id, x.id) AS TEXT) FROM crm_contact_telephones x WHERE x.contact_id = c.id) AS telephones, (SELECT CAST(json_agg(json_build_object('id', x.id, 'contact_id', x.contact_id, 'address_line1', x.address_line1, 'address_line2', x.address_line2, 'city', x.city, 'postcode', x.postcode, 'state_province', x.state_province, 'country_code', x.country_code, 'is_primary', x.is_primary) ORDER BY x.contact_id, x.id) AS TEXT) FROM crm_contact_addresses x WHERE x.contact_id = c.id) AS addresses, (SELECT CAST(json_agg(json_build_object('contact_id', x.contact_id, 'property_id', x.property_id) ORDER BY x.contact_id, x.property_id) AS TEXT) FROM crm_contact_properties x WHERE x.contact_id = c.id) AS properties, (SELECT CAST(json_agg(json_build_object('contact_id', x.contact_id, 'name', x.name, 'field_type', x.field_type, 'value', x.value) ORDER BY x.contact_id, x.id) AS TEXT) FROM crm_contact_custom_fields x WHERE x.contact_id = c.id) AS custom_fields FROM crm_contacts c WHERE c.tenant_id = :tenant AND c.id IN (:id) ORDER BY c.id;
\set v :version + 1
INSERT INTO crm_contact_revisions (tenant_id, contact_id, version, operation, changed_at, changed_by, contact) VALUES (:tenant, :id, :v, 'ADD_TELEPHONE', :at, :author, :crm_json);
INSERT INTO events (tenant_id, type, occurred_at, actor, data) VALUES (:tenant, :ev_contact_updated, :at, :author, jsonb_build_object('contact_id', :id::int8, 'version', :v::int8));
COMMIT;
