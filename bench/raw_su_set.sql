-- pgbench: one SU set (POST /SUAPI/jservice/bdc/property/contact/set) on Postgres. su::set_contacts
-- first resolves the hotel with PgStore::get_property (load_property in src/store/properties.rs:
-- one query on the sqlx pool), then replaces the set as the Booking PUT does
-- (src/store/postgres/replace.rs), its six statements pipelined in one round trip: so here the
-- replace is pipelined too. A different set every transaction, as bench/su_set.lua sends; same
-- variables and the same differences as raw_put.sql.
\set p random(1, :properties)
\set r random(100000000000000000, 999999999999999999)
SELECT p.id, p.name, p.contact_set_revision, p.created_at, p.updated_at, m.channel, m.channel_property_id FROM (SELECT id, name, contact_set_revision, created_at, updated_at FROM properties WHERE tenant_id = :tenant AND id = 'bp' || :p) p LEFT JOIN property_channel_mappings m ON m.tenant_id = :tenant AND m.property_id = p.id ORDER BY p.id, m.channel;
\startpipeline
BEGIN;
WITH bumped AS (UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = now(), contact_set_hash = :r::text WHERE tenant_id = :tenant AND id = 'bp' || :p AND (NULL::int8 IS NULL OR contact_set_revision = NULL) AND contact_set_hash IS DISTINCT FROM :r::text RETURNING contact_set_revision), recorded AS (INSERT INTO contact_set_revisions (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts) VALUES (:tenant, 'bp' || :p, (SELECT contact_set_revision FROM bumped), now(), :author, :set_count, replace(:set_json, '@N@', :r::text)::jsonb) RETURNING revision) INSERT INTO events (tenant_id, type, occurred_at, actor, data) SELECT :tenant, 'contact_set.replaced', now(), :author, jsonb_build_object('property_id', ('bp' || :p)::text, 'revision', revision) FROM recorded RETURNING (data->>'revision')::int8;
DELETE FROM property_contacts WHERE tenant_id = :tenant AND property_id = 'bp' || :p;
INSERT INTO property_contacts (tenant_id, property_id, position, profiles, is_general, person_name, person_gender, person_job_title, person_language, email, address_line, city_name, postal_code, country_code, address_language, state_prov_code) SELECT :tenant::text, ('bp' || :p)::text, c.* FROM unnest(:set_position::int4[], :set_profiles::text[], :set_general::bool[], replace(:set_name, '@N@', :r::text)::text[], :set_gender::text[], :set_job_title::text[], :set_language::text[], :set_email::text[], :set_address_line::text[], :set_city::text[], :set_postal_code::text[], :set_country::text[], :set_address_language::text[], :set_state::text[]) AS c;
INSERT INTO property_contact_phones (tenant_id, property_id, contact_position, position, phone_number, tech_type, extension) SELECT :tenant::text, ('bp' || :p)::text, p.* FROM unnest(:phone_contact::int4[], :phone_position::int4[], :phone_number::text[], :phone_tech_type::int4[], :phone_extension::text[]) AS p;
COMMIT;
\endpipeline
