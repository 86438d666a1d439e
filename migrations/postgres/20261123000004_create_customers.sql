-- Customers and their billing/service contacts (API.md section 7, seed 002). A customer is created
-- by its first contact write; it holds at most one contact per type, replaced whole on each write.
CREATE TABLE customers (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT customers_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT customers_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

CREATE TABLE customer_contacts (
    tenant_id             TEXT NOT NULL,
    customer_id           TEXT NOT NULL,
    type                  TEXT NOT NULL,
    name                  TEXT NOT NULL,
    work_phone            TEXT,
    work_phone_extension  TEXT,
    mobile_phone          TEXT,
    fax                   TEXT,
    email                 TEXT,
    organization_name     TEXT,
    updated_at            TIMESTAMPTZ NOT NULL,
    CONSTRAINT customer_contacts_pkey PRIMARY KEY (tenant_id, customer_id, type),
    CONSTRAINT customer_contacts_customer_fkey FOREIGN KEY (tenant_id, customer_id)
        REFERENCES customers (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT customer_contacts_type_check CHECK (type IN ('billing', 'service'))
);
