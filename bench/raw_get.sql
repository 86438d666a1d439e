-- pgbench: the one query the service runs for one contact-set GET (CONTACT_SET_SELECT in
-- src/store/sql.rs), on a random property.
\set p random(1, :properties)
SELECT p.contact_set_revision, c.position, c.profiles, c.person_name, c.person_gender, c.person_job_title, c.person_language, c.email, c.address_line, c.city_name, c.postal_code, c.country_code, c.address_language, c.state_prov_code, ph.phone_number, ph.tech_type, ph.extension FROM properties p LEFT JOIN property_contacts c ON c.tenant_id = p.tenant_id AND c.property_id = p.id LEFT JOIN property_contact_phones ph ON ph.tenant_id = c.tenant_id AND ph.property_id = c.property_id AND ph.contact_position = c.position WHERE p.tenant_id = 'default' AND p.id = 'bp' || :p ORDER BY c.position, ph.position;
