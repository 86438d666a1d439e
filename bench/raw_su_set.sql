-- pgbench: one SU set (POST /SUAPI/jservice/bdc/property/contact/set) on Postgres. su::set_contacts
-- first resolves the hotel with PgStore::get_property (load_property in src/store/sql.rs: one query on
-- the sqlx pool), then replaces the set as the Booking PUT does (src/store/pg_replace.rs), its six
-- statements pipelined in one round trip: so here the replace is pipelined too. Same variables and
-- the same differences as raw_put.sql.
\set p random(1, :properties)
SELECT p.id, p.name, p.contact_set_revision, p.created_at, p.updated_at, m.channel, m.channel_property_id FROM (SELECT id, name, contact_set_revision, created_at, updated_at FROM properties WHERE tenant_id = :tenant AND id = 'bp' || :p) p LEFT JOIN property_channel_mappings m ON m.tenant_id = :tenant AND m.property_id = p.id ORDER BY p.id, m.channel;
\startpipeline
BEGIN;
WITH bumped AS (UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = now() WHERE tenant_id = :tenant AND id = 'bp' || :p AND (NULL::int8 IS NULL OR contact_set_revision = NULL) RETURNING contact_set_revision) INSERT INTO contact_set_revisions (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts) VALUES (:tenant, 'bp' || :p, (SELECT contact_set_revision FROM bumped), now(), :author, :set_count, :set_json) RETURNING revision;
DELETE FROM property_contacts WHERE tenant_id = :tenant AND property_id = 'bp' || :p;
INSERT INTO property_contacts (tenant_id, property_id, position, profiles, is_general, person_name, person_gender, person_job_title, person_language, email, address_line, city_name, postal_code, country_code, address_language, state_prov_code) SELECT :tenant::text, ('bp' || :p)::text, c.* FROM unnest(:set_position::int4[], :set_profiles::text[], :set_general::bool[], :set_name::text[], :set_gender::text[], :set_job_title::text[], :set_language::text[], :set_email::text[], :set_address_line::text[], :set_city::text[], :set_postal_code::text[], :set_country::text[], :set_address_language::text[], :set_state::text[]) AS c;
INSERT INTO property_contact_phones (tenant_id, property_id, contact_position, position, phone_number, tech_type, extension) SELECT :tenant::text, ('bp' || :p)::text, p.* FROM unnest(:phone_contact::int4[], :phone_position::int4[], :phone_number::text[], :phone_tech_type::int4[], :phone_extension::text[]) AS p;
COMMIT;
\endpipeline
