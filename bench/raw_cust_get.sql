-- pgbench: one customers GET (/api/v1/customers/{id}/contacts) on Postgres: SELECT_CUSTOMER of
-- get_customer_contacts in src/store/customers_sql.rs, on a random seeded customer.
\set k random(1, :customers)
SELECT c.id AS customer_id, c.created_at, c.updated_at, cc.type AS contact_type, cc.name, cc.work_phone, cc.work_phone_extension, cc.mobile_phone, cc.fax, cc.email, cc.organization_name, cc.updated_at AS contact_updated_at FROM customers c LEFT JOIN customer_contacts cc ON cc.tenant_id = c.tenant_id AND cc.customer_id = c.id WHERE c.tenant_id = :tenant AND c.id = 'cust' || :k ORDER BY cc.type;
