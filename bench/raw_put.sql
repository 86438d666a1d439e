-- pgbench: the statements the service runs for one contact-set PUT (see replace_contact_set in
-- src/store/sql.rs), for the same three-contact set, on a random property.
\set p random(1, :properties)
BEGIN;
UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = now() WHERE tenant_id = 'default' AND id = 'bp' || :p RETURNING contact_set_revision \gset
DELETE FROM property_contacts WHERE tenant_id = 'default' AND property_id = 'bp' || :p;
INSERT INTO property_contacts (tenant_id, property_id, position, profiles, is_general, person_name, person_gender, person_job_title, person_language, email, address_line, city_name, postal_code, country_code, address_language, state_prov_code) VALUES
  ('default', 'bp' || :p, 0, 'general', true, 'Sarah Jansen', 'female', 'General Manager', 'en-gb', 'sarah@hotel.example', 'Damrak 1', 'Amsterdam', '1012 LG', 'NL', 'nl', NULL),
  ('default', 'bp' || :p, 1, 'reservations,invoices,availability', false, 'John Smith', 'male', 'Reservations Manager', 'en-gb', 'john@hotel.example', 'Damrak 1', 'Amsterdam', '1012 LG', 'NL', 'nl', NULL),
  ('default', 'bp' || :p, 2, 'requests', false, 'Clare Bos', NULL, 'Front Office Manager', 'nl', 'clare@hotel.example', NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO property_contact_phones (tenant_id, property_id, contact_position, position, phone_number, tech_type, extension) VALUES
  ('default', 'bp' || :p, 0, 0, '+31201234567', 1, '12'),
  ('default', 'bp' || :p, 1, 0, '+31201234568', 1, NULL),
  ('default', 'bp' || :p, 2, 0, '+31612345678', 5, NULL);
INSERT INTO contact_set_revisions (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts) VALUES ('default', 'bp' || :p, :contact_set_revision, now(), 'bench', 3, :contacts_json);
COMMIT;
