-- pgbench: one CRM create (POST /api/v3/contacts) of bench/crm_contact.json (one e-mail, telephone and
-- address) on Postgres, as create_contact in src/store/crm/contacts.rs runs it: BEGIN; the contact
-- insert; write_collections (each collection sent is inserted, RETURNING its ids: a new contact has
-- none to clear); record_loaded in src/store/crm/queries.rs (no read back: the contact is built from
-- the draft; the revision insert; the contact.created event, changes::record in
-- src/store/changes.rs); COMMIT. Same text; where
-- pgbench cannot bind what the service binds, NULL parameters are literals, the revision's contact
-- JSON is the one the service answered the first seeded create with (crm_json), and the event's data
-- ({"contact_id":..,"version":1}, JSON the service serialises and binds) is built by
-- jsonb_build_object. BEGIN/COMMIT go out prepared here, as simple queries from sqlx.
BEGIN;
INSERT INTO crm_contacts (tenant_id, contact_type, title, first_name, last_name, company_name, account_id, job_title, gender, language, order_references, version, created_at, updated_at) VALUES (:tenant, :crm_type, :crm_title, :crm_first_name, :crm_last_name, NULL, NULL, NULL, NULL, NULL, :crm_order_references, 1, :at, :at) RETURNING id \gset
INSERT INTO crm_contact_emails (tenant_id, contact_id, email_address, type, is_primary) VALUES (:tenant, :id, :crm_new_email, :crm_email_type, :yes) RETURNING id;
INSERT INTO crm_contact_telephones (tenant_id, contact_id, number, e164, type, extension, country_code, is_primary) VALUES (:tenant, :id, :crm_number, :crm_e164, :crm_phone_type, NULL, NULL, :yes) RETURNING id;
INSERT INTO crm_contact_addresses (tenant_id, contact_id, address_line1, address_line2, city, postcode, state_province, country_code, is_primary) VALUES (:tenant, :id, :crm_address_line1, NULL, :crm_city, :crm_postcode, NULL, :crm_country, :yes) RETURNING id;
INSERT INTO crm_contact_revisions (tenant_id, contact_id, version, operation, changed_at, changed_by, contact) VALUES (:tenant, :id, 1, 'CREATE', :at, :author, :crm_json);
INSERT INTO events (tenant_id, type, occurred_at, actor, data) VALUES (:tenant, :ev_contact_created, :at, :author, jsonb_build_object('contact_id', :id::int8, 'version', 1));
COMMIT;
