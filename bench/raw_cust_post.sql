-- pgbench: one customers POST (/api/v1/customers/{id}/contacts) of bench/customer_billing.json on
-- Postgres, as upsert_customer_contacts in src/store/customers.rs runs it: BEGIN; one statement of
-- writable CTEs: the customer upsert (UPSERT_CUSTOMER, RETURNING created_at), the batched contact
-- upsert (INSERT_CONTACTS + ON_CONFLICT_REPLACE, one row: billing), the customer_contacts.replaced
-- event and its audit entry (changes::push_record in src/store/changes.rs), answering created_at;
-- COMMIT; on a random one of the seeded customers (cust1..). The customer id is 'cust' || :k, a
-- parameter in the service, and the event's data ({"customer_id":..,"types":["billing"]}, JSON the
-- service serialises and binds) is built by jsonb_build_object, and so is the audit entry's detail
-- ({"types": [..]}); its key id and request id are constants shaped as the service's.
\set k random(1, :customers)
BEGIN;
WITH customer AS (INSERT INTO customers (tenant_id, id, created_at, updated_at) VALUES (:tenant, 'cust' || :k, :at, :at) ON CONFLICT (tenant_id, id) DO UPDATE SET updated_at = excluded.updated_at RETURNING created_at), contacts AS (INSERT INTO customer_contacts (tenant_id, customer_id, type, name, work_phone, work_phone_extension, mobile_phone, fax, email, organization_name, updated_at) VALUES (:tenant, 'cust' || :k, :cust_type, :cust_name, :cust_work_phone, :cust_work_phone_extension, :cust_mobile_phone, :cust_fax, :cust_email, :cust_organization, :at) ON CONFLICT (tenant_id, customer_id, type) DO UPDATE SET name = excluded.name, work_phone = excluded.work_phone, work_phone_extension = excluded.work_phone_extension, mobile_phone = excluded.mobile_phone, fax = excluded.fax, email = excluded.email, organization_name = excluded.organization_name, updated_at = excluded.updated_at), event AS (INSERT INTO events (tenant_id, type, occurred_at, actor, data) VALUES (:tenant, :ev_customer_contacts, :at, :author, jsonb_build_object('customer_id', 'cust' || :k, 'types', :cust_types::jsonb))), audit AS (INSERT INTO audit_entries (tenant_id, occurred_at, key_id, key_name, operation, resource_type, resource_id, request_id, detail) VALUES (:tenant, :at, :audit_key_id, :author, :ev_customer_contacts, 'customer', 'cust' || :k, :audit_request_id, jsonb_build_object('types', :cust_types::jsonb))) SELECT created_at FROM customer;
COMMIT;
