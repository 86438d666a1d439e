//! The values an enumerated contact-set field allows, for a 320's `details.allowed` (Booking.com
//! lists them for some fields; a channel manager can show them without a copy of the tables).

use serde_json::Value;

use super::contact_set::{Gender, PhoneTechType, ProfileType};
use crate::validation::codes;
use crate::validation::job_title::BOOKING_JOB_TITLES;
use crate::validation::text::{BOOKING_LANGUAGES, SPOKEN_ONLY_LANGUAGES};

/// The allowed values of the field an error with `code` at `pointer` is about; `None` when the
/// field is not enumerated.
pub fn allowed_values(code: &str, pointer: &str) -> Option<Vec<Value>> {
    let strings = |values: &mut dyn Iterator<Item = &'static str>| values.map(Value::from).collect();
    Some(match code {
        codes::PROFILE_TYPE_INVALID => strings(&mut ProfileType::ALL.iter().map(|t| t.as_str())),
        codes::JOB_TITLE_INVALID => strings(&mut BOOKING_JOB_TITLES.iter().copied()),
        codes::GENDER_INVALID => strings(&mut [Gender::Male, Gender::Female].iter().map(|g| g.as_str())),
        // A person's spoken language may also be one of the extra codes; an address's may not.
        codes::LANGUAGE_CODE_INVALID if pointer.contains("/contact_person/") => {
            strings(&mut BOOKING_LANGUAGES.iter().chain(SPOKEN_ONLY_LANGUAGES).copied())
        }
        codes::LANGUAGE_CODE_INVALID => strings(&mut BOOKING_LANGUAGES.iter().copied()),
        codes::PHONE_TECH_TYPE_INVALID => [PhoneTechType::Voice, PhoneTechType::Fax, PhoneTechType::Mobile]
            .iter()
            .map(|t| Value::from(t.code()))
            .collect(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerated_fields_list_their_values() {
        let len = |code, ptr| allowed_values(code, ptr).map(|v| v.len());
        assert_eq!(len(codes::PROFILE_TYPE_INVALID, "/contacts/0/contact_profiles/0/type"), Some(8));
        assert_eq!(len(codes::JOB_TITLE_INVALID, "/contacts/0/contact_person/job_title"), Some(17));
        assert_eq!(len(codes::LANGUAGE_CODE_INVALID, "/contacts/0/address/language_code"), Some(50));
        assert_eq!(len(codes::LANGUAGE_CODE_INVALID, "/contacts/0/contact_person/language_code"), Some(55));
        assert_eq!(
            allowed_values(codes::PHONE_TECH_TYPE_INVALID, "/contacts/0/phones/0/phone_tech_type"),
            Some(vec![1.into(), 3.into(), 5.into()])
        );
        assert_eq!(allowed_values(codes::GENDER_INVALID, "x"), Some(vec!["male".into(), "female".into()]));
        assert_eq!(allowed_values(codes::EMAIL_INVALID, "/contacts/0/email"), None);
    }
}
