-- pgbench: the statements the service runs for one contact-set PUT on Postgres (see
-- src/store/pg_replace.rs), for the same three-contact set, on a random property. The service sends
-- them pipelined (one round trip); pgbench sends one at a time.
\set p random(1, :properties)
BEGIN;
WITH bumped AS (UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = now() WHERE tenant_id = 'default' AND id = 'bp' || :p RETURNING contact_set_revision)
  INSERT INTO contact_set_revisions (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts)
  VALUES ('default', 'bp' || :p, (SELECT contact_set_revision FROM bumped), now(), 'bench', 3, :contacts_json) RETURNING revision;
DELETE FROM property_contacts WHERE tenant_id = 'default' AND property_id = 'bp' || :p;
INSERT INTO property_contacts (tenant_id, property_id, position, profiles, is_general, person_name, person_gender, person_job_title, person_language, email, address_line, city_name, postal_code, country_code, address_language, state_prov_code)
  SELECT 'default', 'bp' || :p, c.* FROM unnest(ARRAY[0, 1, 2], ARRAY['general', 'reservations,invoices,availability', 'requests'], ARRAY[true, false, false],
    ARRAY['Sarah Jansen', 'John Smith', 'Clare Bos'], ARRAY['female', 'male', NULL], ARRAY['General Manager', 'Reservations Manager', 'Front Office Manager'],
    ARRAY['en-gb', 'en-gb', 'nl'], ARRAY['sarah@hotel.example', 'john@hotel.example', 'clare@hotel.example'], ARRAY['Damrak 1', 'Damrak 1', NULL],
    ARRAY['Amsterdam', 'Amsterdam', NULL], ARRAY['1012 LG', '1012 LG', NULL], ARRAY['NL', 'NL', NULL], ARRAY['nl', 'nl', NULL], ARRAY[NULL, NULL, NULL]::text[]) AS c;
INSERT INTO property_contact_phones (tenant_id, property_id, contact_position, position, phone_number, tech_type, extension)
  SELECT 'default', 'bp' || :p, ph.* FROM unnest(ARRAY[0, 1, 2], ARRAY[0, 0, 0], ARRAY['+31201234567', '+31201234568', '+31612345678'], ARRAY[1, 1, 5], ARRAY['12', NULL, NULL]) AS ph;
COMMIT;
