-- SQLite copy of the Postgres schema: TIMESTAMPTZ and JSONB as TEXT, identities as rowid aliases.
-- CRM contacts (API.md section 6). Ids are global identities, so they are also unique per tenant;
-- every query still filters by tenant, and children carry tenant_id so their filter indexes can
-- lead with it.
CREATE TABLE crm_contacts (
    -- AUTOINCREMENT: a deleted contact's id is never handed out again.
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    contact_type      TEXT NOT NULL,
    title             TEXT,
    first_name        TEXT,
    last_name         TEXT,
    company_name      TEXT,
    account_id        TEXT,
    job_title         TEXT,
    gender            TEXT,
    language          TEXT,
    order_references  TEXT NOT NULL,
    version           BIGINT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    -- Set on the secondary of a merge: the row stays as a tombstone that answers 410.
    merged_into       BIGINT,
    CONSTRAINT crm_contacts_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT crm_contacts_has_name CHECK (
        first_name IS NOT NULL OR last_name IS NOT NULL OR company_name IS NOT NULL)
);
CREATE INDEX crm_contacts_first_name_idx ON crm_contacts (tenant_id, lower(first_name));
CREATE INDEX crm_contacts_last_name_idx ON crm_contacts (tenant_id, lower(last_name));
CREATE INDEX crm_contacts_account_idx ON crm_contacts (tenant_id, account_id);
CREATE INDEX crm_contacts_type_idx ON crm_contacts (tenant_id, contact_type);
CREATE INDEX crm_contacts_updated_idx ON crm_contacts (tenant_id, updated_at);

CREATE TABLE crm_contact_emails (
    id             INTEGER PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    contact_id     BIGINT NOT NULL,
    email_address  TEXT NOT NULL,
    type           TEXT,
    is_primary     BOOLEAN NOT NULL,
    CONSTRAINT crm_contact_emails_contact_fkey FOREIGN KEY (tenant_id, contact_id)
        REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contact_emails_contact_idx ON crm_contact_emails (contact_id);
CREATE INDEX crm_contact_emails_address_idx ON crm_contact_emails (tenant_id, lower(email_address));
CREATE UNIQUE INDEX crm_contact_emails_one_primary ON crm_contact_emails (contact_id) WHERE is_primary;

CREATE TABLE crm_contact_telephones (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    contact_id    BIGINT NOT NULL,
    number        TEXT NOT NULL,
    e164          TEXT NOT NULL,
    type          TEXT,
    extension     TEXT,
    country_code  TEXT,
    is_primary    BOOLEAN NOT NULL,
    CONSTRAINT crm_contact_telephones_contact_fkey FOREIGN KEY (tenant_id, contact_id)
        REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contact_telephones_contact_idx ON crm_contact_telephones (contact_id);
CREATE INDEX crm_contact_telephones_e164_idx ON crm_contact_telephones (tenant_id, e164);
CREATE UNIQUE INDEX crm_contact_telephones_one_primary ON crm_contact_telephones (contact_id) WHERE is_primary;

CREATE TABLE crm_contact_addresses (
    id              INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    contact_id      BIGINT NOT NULL,
    address_line1   TEXT NOT NULL,
    address_line2   TEXT,
    city            TEXT NOT NULL,
    postcode        TEXT,
    state_province  TEXT,
    country_code    TEXT NOT NULL,
    is_primary      BOOLEAN NOT NULL,
    CONSTRAINT crm_contact_addresses_contact_fkey FOREIGN KEY (tenant_id, contact_id)
        REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contact_addresses_contact_idx ON crm_contact_addresses (contact_id);
CREATE UNIQUE INDEX crm_contact_addresses_one_primary ON crm_contact_addresses (contact_id) WHERE is_primary;

-- Links to the tenant's property registry; deleting a property drops its links.
CREATE TABLE crm_contact_properties (
    tenant_id    TEXT NOT NULL,
    contact_id   BIGINT NOT NULL,
    property_id  TEXT NOT NULL,
    CONSTRAINT crm_contact_properties_pkey PRIMARY KEY (contact_id, property_id),
    CONSTRAINT crm_contact_properties_contact_fkey FOREIGN KEY (tenant_id, contact_id)
        REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT crm_contact_properties_property_fkey FOREIGN KEY (tenant_id, property_id)
        REFERENCES properties (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contact_properties_property_idx ON crm_contact_properties (tenant_id, property_id);

CREATE TABLE crm_contact_custom_fields (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    contact_id  BIGINT NOT NULL,
    name        TEXT NOT NULL,
    field_type  TEXT NOT NULL,
    value       TEXT NOT NULL,
    CONSTRAINT crm_contact_custom_fields_name_key UNIQUE (contact_id, name),
    CONSTRAINT crm_contact_custom_fields_contact_fkey FOREIGN KEY (tenant_id, contact_id)
        REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE crm_contact_notes (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    contact_id  BIGINT NOT NULL,
    content     TEXT NOT NULL,
    author      TEXT NOT NULL,
    tags        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    CONSTRAINT crm_contact_notes_contact_fkey FOREIGN KEY (tenant_id, contact_id)
        REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contact_notes_contact_idx ON crm_contact_notes (contact_id);

-- Every version of every contact, whole, written in the transaction that made it.
CREATE TABLE crm_contact_revisions (
    tenant_id   TEXT NOT NULL,
    contact_id  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    operation   TEXT NOT NULL,
    changed_at  TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    contact     TEXT NOT NULL,
    CONSTRAINT crm_contact_revisions_pkey PRIMARY KEY (contact_id, version),
    CONSTRAINT crm_contact_revisions_contact_fkey FOREIGN KEY (tenant_id, contact_id)
        REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
