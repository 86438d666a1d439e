-- pgbench: one contact-set PUT on Postgres, as PgStore::replace_set sends it
-- (src/store/postgres/replace.rs, replace_once): BEGIN, BUMP_AND_RECORD (the bump, which also
-- compares and sets properties.contact_set_hash, the history row and the contact_set.replaced event
-- in one statement), DELETE_CONTACTS, INSERT_CONTACTS, INSERT_PHONES, COMMIT, the same text with the
-- same parameters, for the three-contact set of bench/contact_set.json (its columns come as arrays,
-- set_* variables from run.sh) on a random property. Every transaction stores another set, as
-- bench/put.lua sends: the first contact's name is "Sarah Jansen <r>" with a random r, so the bump
-- never finds the set equal to the stored one (it would then bump nothing and the script would fail).
-- The service sends the six statements pipelined (one round trip); this script sends one per round
-- trip, and run.sh derives the pipelined put* script from it. Where pgbench cannot bind what the
-- service binds, this differs: the If-Match revision ($3, none) is the literal NULL; the property id
-- is 'bp' || :p; the names array and the history JSON ($6) are run.sh's with @N@ replaced by r
-- (replace(), one call each); the fingerprint ($7) is r as text, where the service binds the
-- SHA-256 (64 hex digits) of the set it computed itself.
\set p random(1, :properties)
\set r random(100000000000000000, 999999999999999999)
BEGIN;
WITH bumped AS (UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = now(), contact_set_hash = :r::text WHERE tenant_id = :tenant AND id = 'bp' || :p AND (NULL::int8 IS NULL OR contact_set_revision = NULL) AND contact_set_hash IS DISTINCT FROM :r::text RETURNING contact_set_revision), recorded AS (INSERT INTO contact_set_revisions (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts) VALUES (:tenant, 'bp' || :p, (SELECT contact_set_revision FROM bumped), now(), :author, :set_count, replace(:set_json, '@N@', :r::text)::jsonb) RETURNING revision) INSERT INTO events (tenant_id, type, occurred_at, actor, data) SELECT :tenant, 'contact_set.replaced', now(), :author, jsonb_build_object('property_id', ('bp' || :p)::text, 'revision', revision) FROM recorded RETURNING (data->>'revision')::int8;
DELETE FROM property_contacts WHERE tenant_id = :tenant AND property_id = 'bp' || :p;
INSERT INTO property_contacts (tenant_id, property_id, position, profiles, is_general, person_name, person_gender, person_job_title, person_language, email, address_line, city_name, postal_code, country_code, address_language, state_prov_code) SELECT :tenant::text, ('bp' || :p)::text, c.* FROM unnest(:set_position::int4[], :set_profiles::text[], :set_general::bool[], replace(:set_name, '@N@', :r::text)::text[], :set_gender::text[], :set_job_title::text[], :set_language::text[], :set_email::text[], :set_address_line::text[], :set_city::text[], :set_postal_code::text[], :set_country::text[], :set_address_language::text[], :set_state::text[]) AS c;
INSERT INTO property_contact_phones (tenant_id, property_id, contact_position, position, phone_number, tech_type, extension) SELECT :tenant::text, ('bp' || :p)::text, p.* FROM unnest(:phone_contact::int4[], :phone_position::int4[], :phone_number::text[], :phone_tech_type::int4[], :phone_extension::text[]) AS p;
COMMIT;
