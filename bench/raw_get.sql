-- pgbench: the two queries the service runs for one contact-set GET (see get_contact_set in
-- src/store/sql.rs), on a random property.
\set p random(1, :properties)
SELECT p.contact_set_revision, c.position, c.profiles, c.person_name, c.person_gender, c.person_job_title, c.person_language, c.email, c.address_line, c.city_name, c.postal_code, c.country_code, c.address_language, c.state_prov_code FROM properties p LEFT JOIN property_contacts c ON c.tenant_id = p.tenant_id AND c.property_id = p.id WHERE p.tenant_id = 'default' AND p.id = 'bp' || :p ORDER BY c.position;
SELECT contact_position, phone_number, tech_type, extension FROM property_contact_phones WHERE tenant_id = 'default' AND property_id = 'bp' || :p ORDER BY contact_position, position;
