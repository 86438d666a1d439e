//! Contact-set bodies shared by the contact-set tests.

use serde_json::{json, Value};

use crate::common::TestApp;

/// A valid contact in Amsterdam serving `types`.
pub fn contact(types: &[&str], name: &str, email: &str, phone: &str) -> Value {
    json!({
        "contact_profiles": types.iter().map(|t| json!({"type": t})).collect::<Vec<_>>(),
        "contact_person": {"name": name, "gender": "female", "job_title": "Reservations Manager", "language_code": "en-gb"},
        "phones": [{"phone_number": phone, "phone_tech_type": 1, "extension": "12"}],
        "email": email,
        "address": {
            "address_line": "Damrak 1", "city_name": "Amsterdam", "postal_code": "1012 LG",
            "country_code": "NL", "language_code": "nl"
        }
    })
}

pub fn sarah() -> Value {
    contact(&["general"], "Sarah Jansen", "sarah@hotel.example", "+31201234567")
}

pub fn set(contacts: Vec<Value>) -> Value {
    json!({ "contacts": contacts })
}

/// Registers property `id` with a Booking listing `channel_id`.
pub async fn property(app: &TestApp, id: &str, channel_id: &str) {
    let r = app
        .put(
            &format!("/api/v1/properties/{id}"),
            json!({"name": id, "channel_mappings": [{"channel": "booking", "channel_property_id": channel_id}]}),
        )
        .send()
        .await;
    r.assert_status(201);
}

pub fn contacts_path(id: &str) -> String {
    format!("/contacts-api/properties/{id}/contacts")
}
