-- Prefix search on CRM contacts (`q`): every searchable word of a live contact (names, company,
-- e-mail words, telephone digits), lowercased and accent-folded by the service, one row per word.
-- Rewritten in the transaction of every write that can change them. COLLATE "C" compares bytes, so
-- the B-tree serves `term >= 'jan' AND term < 'jao'` whatever the database's collation.
CREATE TABLE crm_contact_terms (
    tenant_id   TEXT NOT NULL,
    contact_id  BIGINT NOT NULL,
    term        TEXT COLLATE "C" NOT NULL,
    CONSTRAINT crm_contact_terms_pkey PRIMARY KEY (contact_id, term),
    CONSTRAINT crm_contact_terms_contact_fkey FOREIGN KEY (tenant_id, contact_id)
        REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contact_terms_prefix_idx ON crm_contact_terms (tenant_id, term, contact_id);

-- The integration's own id of a contact: unique per tenant, makes a batch item an upsert.
ALTER TABLE crm_contacts ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX crm_contacts_external_id_key ON crm_contacts (tenant_id, external_id);

-- Duplicate suggestions look contacts up by company and by postcode.
CREATE INDEX crm_contacts_company_idx ON crm_contacts (tenant_id, lower(company_name));
CREATE INDEX crm_contact_addresses_postcode_idx
    ON crm_contact_addresses (tenant_id, lower(replace(postcode, ' ', '')));
