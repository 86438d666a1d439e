//! Non-fatal advice on an accepted contact set: the Booking route's `warnings`.
//!
//! Computed after a successful parse, from the body as sent and the set as it will be stored, so
//! it can never reject a set or change what is stored. Both walk the contacts, profiles and phones
//! in the same order (the parser keeps request order and refuses duplicates), so index `i` of the
//! body is index `i` of the set.

use serde_json::Value;

use super::contact_set::{Contact, ContactSet, ProfileType};
use crate::validation::Pointer;

/// One piece of advice, in Booking's entry terms (`code`, `message`, `details.fields`,
/// `details.reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// Stable snake_case code of the kind of advice.
    pub code: &'static str,
    pub message: String,
    /// JSON pointer of the member concerned.
    pub field: String,
    /// Finer stable snake_case reason.
    pub reason: &'static str,
}

/// A value was accepted in another spelling and stored in its canonical one.
pub const VALUE_NORMALISED: &str = "value_normalised";
/// `state_prov_code` is stored here, but Booking.com's own GET does not return it.
pub const STATE_PROV_CODE_NOT_RETURNED: &str = "state_prov_code_not_returned";
/// No contact serves `invoices`, so Booking.com has no one to send invoices to.
pub const INVOICES_CONTACT_MISSING: &str = "invoices_contact_missing";

/// Every piece of advice on `set`, parsed from `body`, in body order; the set-wide ones last.
pub fn advise(body: &Value, set: &ContactSet) -> Vec<Advice> {
    let mut out = Vec::new();
    let raw_contacts = body.get("contacts").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let at = Pointer::root().key("contacts");
    for (i, (raw, contact)) in raw_contacts.iter().zip(&set.contacts).enumerate() {
        contact_advice(raw, contact, &at.index(i), &mut out);
    }
    if !set.contacts.iter().any(|c| c.profiles.contains(&ProfileType::Invoices)) {
        out.push(Advice {
            code: INVOICES_CONTACT_MISSING,
            message: "no contact has the invoices profile type: Booking.com sends invoices to the general \
                      contact then"
                .into(),
            field: at.to_string(),
            reason: "no_invoices_profile",
        });
    }
    out
}

fn contact_advice(raw: &Value, contact: &Contact, at: &Pointer, out: &mut Vec<Advice>) {
    let profiles = raw.get("contact_profiles").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    for (j, (raw, profile)) in profiles.iter().zip(&contact.profiles).enumerate() {
        let at = at.key("contact_profiles").index(j).key("type");
        normalised(raw.get("type"), profile.as_str(), &at, "profile_type_normalised", out);
    }
    let person = raw.get("contact_person");
    let person_at = at.key("contact_person");
    let field = |name: &str| person.and_then(|p| p.get(name));
    if let Some(gender) = contact.person.gender {
        normalised(field("gender"), gender.as_str(), &person_at.key("gender"), "gender_normalised", out);
    }
    let job_title = contact.person.job_title.as_str();
    normalised(field("job_title"), job_title, &person_at.key("job_title"), "job_title_normalised", out);
    let language = contact.person.language_code.as_str();
    let language_at = person_at.key("language_code");
    normalised(field("language_code"), language, &language_at, "language_code_normalised", out);

    let raw_phones = raw.get("phones").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    for (k, (raw, phone)) in raw_phones.iter().zip(&contact.phones).enumerate() {
        if let Some(Value::String(s)) = raw.get("phone_tech_type") {
            let at = at.key("phones").index(k).key("phone_tech_type");
            out.push(Advice {
                code: VALUE_NORMALISED,
                message: format!("phone_tech_type {s:?} is stored as the number {}", phone.tech_type.code()),
                field: at.to_string(),
                reason: "phone_tech_type_string",
            });
        }
    }

    if let (Some(address), Some(raw)) = (&contact.address, raw.get("address")) {
        let address_at = at.key("address");
        let country = address.country_code.as_str();
        normalised(
            raw.get("country_code"),
            country,
            &address_at.key("country_code"),
            "country_code_normalised",
            out,
        );
        let language = address.language_code.as_str();
        let language_at = address_at.key("language_code");
        normalised(raw.get("language_code"), language, &language_at, "language_code_normalised", out);
        if address.state_prov_code.is_some() {
            out.push(Advice {
                code: STATE_PROV_CODE_NOT_RETURNED,
                message: "state_prov_code is stored and returned here, but Booking.com's own GET does not \
                          return it"
                    .into(),
                field: address_at.key("state_prov_code").to_string(),
                reason: "not_returned_by_booking",
            });
        }
    }
}

/// Advice when the string sent differs from the canonical value stored.
fn normalised(raw: Option<&Value>, stored: &str, at: &Pointer, reason: &'static str, out: &mut Vec<Advice>) {
    if let Some(Value::String(sent)) = raw {
        if sent != stored {
            out.push(Advice {
                code: VALUE_NORMALISED,
                message: format!("{sent:?} is stored as {stored:?}"),
                field: at.to_string(),
                reason,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validation::ParseOptions;

    fn advice(body: &Value) -> Vec<(&'static str, String, &'static str)> {
        let set = ContactSet::parse(body, &ParseOptions::BOOKING).expect("valid");
        advise(body, &set).into_iter().map(|a| (a.code, a.field, a.reason)).collect()
    }

    fn contact(types: &[&str], person: Value, phones: Value, address: Option<Value>) -> Value {
        let mut c = json!({
            "contact_profiles": types.iter().map(|t| json!({"type": t})).collect::<Vec<_>>(),
            "contact_person": person,
            "phones": phones,
            "email": "a@hotel.example",
        });
        if let Some(a) = address {
            c["address"] = a;
        }
        c
    }

    #[test]
    fn canonical_input_with_invoices_gets_no_advice() {
        let person = json!({"name": "A", "gender": "female", "job_title": "Owner", "language_code": "en-gb"});
        let phones = json!([{"phone_number": "+31201234567", "phone_tech_type": 1}]);
        let body = json!({"contacts": [contact(&["general", "invoices"], person, phones, None)]});
        assert_eq!(advice(&body), vec![]);
    }

    #[test]
    fn every_normalised_value_is_named_and_invoices_last() {
        let person = json!({"name": "A", "gender": "Female", "job_title": "owner", "language_code": "EN-GB"});
        let phones = json!([{"phone_number": "+31201234567", "phone_tech_type": "1"}]);
        let address = json!({"address_line": "Damrak 1", "city_name": "Amsterdam", "postal_code": "1012 LG",
                             "country_code": "nl", "language_code": "NL", "state_prov_code": "NH"});
        let body = json!({"contacts": [contact(&["General"], person, phones, Some(address))]});
        let p = "/contacts/0";
        assert_eq!(
            advice(&body),
            vec![
                (VALUE_NORMALISED, format!("{p}/contact_profiles/0/type"), "profile_type_normalised"),
                (VALUE_NORMALISED, format!("{p}/contact_person/gender"), "gender_normalised"),
                (VALUE_NORMALISED, format!("{p}/contact_person/job_title"), "job_title_normalised"),
                (VALUE_NORMALISED, format!("{p}/contact_person/language_code"), "language_code_normalised"),
                (VALUE_NORMALISED, format!("{p}/phones/0/phone_tech_type"), "phone_tech_type_string"),
                (VALUE_NORMALISED, format!("{p}/address/country_code"), "country_code_normalised"),
                (VALUE_NORMALISED, format!("{p}/address/language_code"), "language_code_normalised"),
                (
                    STATE_PROV_CODE_NOT_RETURNED,
                    format!("{p}/address/state_prov_code"),
                    "not_returned_by_booking"
                ),
                (INVOICES_CONTACT_MISSING, "/contacts".into(), "no_invoices_profile"),
            ]
        );
    }
}
