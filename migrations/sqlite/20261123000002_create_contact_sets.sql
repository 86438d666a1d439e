-- The current contact set of each property, one row per contact in the order sent.
CREATE TABLE property_contacts (
    tenant_id         TEXT NOT NULL,
    property_id       TEXT NOT NULL,
    position          INTEGER NOT NULL,
    profiles          TEXT NOT NULL,            -- canonical profile types, comma-separated, in order sent
    is_general        BOOLEAN NOT NULL,
    person_name       TEXT NOT NULL,
    person_gender     TEXT,
    person_job_title  TEXT NOT NULL,
    person_language   TEXT NOT NULL,
    email             TEXT NOT NULL,
    address_line      TEXT,
    city_name         TEXT,
    postal_code       TEXT,
    country_code      TEXT,
    address_language  TEXT,
    state_prov_code   TEXT,
    PRIMARY KEY (tenant_id, property_id, position),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id) ON DELETE CASCADE
);
-- Backs the validator's rule in the database: one general contact per property.
CREATE UNIQUE INDEX property_contacts_one_general ON property_contacts (tenant_id, property_id) WHERE is_general;

CREATE TABLE property_contact_phones (
    tenant_id         TEXT NOT NULL,
    property_id       TEXT NOT NULL,
    contact_position  INTEGER NOT NULL,
    position          INTEGER NOT NULL,
    phone_number      TEXT NOT NULL,
    tech_type         INTEGER NOT NULL,
    extension         TEXT,
    PRIMARY KEY (tenant_id, property_id, contact_position, position),
    FOREIGN KEY (tenant_id, property_id, contact_position)
        REFERENCES property_contacts (tenant_id, property_id, position) ON DELETE CASCADE
);

-- Every accepted set, whole, for the revision history.
CREATE TABLE contact_set_revisions (
    tenant_id      TEXT NOT NULL,
    property_id    TEXT NOT NULL,
    revision       BIGINT NOT NULL,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    contact_count  INTEGER NOT NULL,
    contacts       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, property_id, revision),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id) ON DELETE CASCADE
);
