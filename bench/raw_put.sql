-- pgbench: one contact-set PUT on Postgres, as PgStore::replace_set sends it (src/store/pg_replace.rs,
-- replace): BEGIN, BUMP_AND_RECORD, DELETE_CONTACTS, INSERT_CONTACTS, INSERT_PHONES, COMMIT, the same
-- text with the same parameters, for the three-contact set of bench/contact_set.json (its columns come
-- as arrays, set_* variables from run.sh) on a random property. The service sends the six statements
-- pipelined (one round trip); this script sends one per round trip, and run.sh derives the pipelined
-- put* script from it. Where pgbench cannot bind what the service binds, this differs: the If-Match
-- revision ($3, none) is the literal NULL, and the property id is 'bp' || :p.
\set p random(1, :properties)
BEGIN;
WITH bumped AS (UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = now() WHERE tenant_id = :tenant AND id = 'bp' || :p AND (NULL::int8 IS NULL OR contact_set_revision = NULL) RETURNING contact_set_revision) INSERT INTO contact_set_revisions (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts) VALUES (:tenant, 'bp' || :p, (SELECT contact_set_revision FROM bumped), now(), :author, :set_count, :set_json) RETURNING revision;
DELETE FROM property_contacts WHERE tenant_id = :tenant AND property_id = 'bp' || :p;
INSERT INTO property_contacts (tenant_id, property_id, position, profiles, is_general, person_name, person_gender, person_job_title, person_language, email, address_line, city_name, postal_code, country_code, address_language, state_prov_code) SELECT :tenant::text, ('bp' || :p)::text, c.* FROM unnest(:set_position::int4[], :set_profiles::text[], :set_general::bool[], :set_name::text[], :set_gender::text[], :set_job_title::text[], :set_language::text[], :set_email::text[], :set_address_line::text[], :set_city::text[], :set_postal_code::text[], :set_country::text[], :set_address_language::text[], :set_state::text[]) AS c;
INSERT INTO property_contact_phones (tenant_id, property_id, contact_position, position, phone_number, tech_type, extension) SELECT :tenant::text, ('bp' || :p)::text, p.* FROM unnest(:phone_contact::int4[], :phone_position::int4[], :phone_number::text[], :phone_tech_type::int4[], :phone_extension::text[]) AS p;
COMMIT;
