-- pgbench: one CRM get by id (GET /api/v3/contacts/{id}) on Postgres, as get_contact in
-- src/store/crm_sql.rs runs it: begin_read (BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY),
-- load_contact (fetch_contacts: the row, then fetch_children: its five collections), COMMIT; on a
-- random one of the crm_contacts seeded contacts (ids 1..crm_contacts).
\set id random(1, :crm_contacts)
BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT c.id, c.contact_type, c.title, c.first_name, c.last_name, c.company_name, c.account_id, c.job_title, c.gender, c.language, c.order_references, c.version, c.created_at, c.updated_at, c.merged_into FROM crm_contacts c WHERE c.tenant_id = :tenant AND c.id IN (:id) ORDER BY c.id;
SELECT id, contact_id, email_address, type AS kind, is_primary FROM crm_contact_emails WHERE contact_id IN (:id) ORDER BY contact_id, id;
SELECT id, contact_id, number, e164, type AS kind, extension, country_code, is_primary FROM crm_contact_telephones WHERE contact_id IN (:id) ORDER BY contact_id, id;
SELECT id, contact_id, address_line1, address_line2, city, postcode, state_province, country_code, is_primary FROM crm_contact_addresses WHERE contact_id IN (:id) ORDER BY contact_id, id;
SELECT contact_id, property_id FROM crm_contact_properties WHERE contact_id IN (:id) ORDER BY contact_id, property_id;
SELECT contact_id, name, field_type, value FROM crm_contact_custom_fields WHERE contact_id IN (:id) ORDER BY contact_id, id;
COMMIT;
