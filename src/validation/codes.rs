//! The machine-readable `code` strings carried by [`FieldError`](super::FieldError).
//!
//! These strings are part of the public API (they appear in every error body), so they are
//! stable, snake_case and specific. Each constant documents the [`ErrorKind`](super::ErrorKind)
//! it is emitted with.
//!
//! | code | kind | meaning |
//! |---|---|---|
//! | `required` | Missing | a required member is absent or `null` |
//! | `unknown_member` | UnknownMember | a JSON member this API does not define |
//! | `invalid_type` | Invalid | wrong JSON type (e.g. a number where a string belongs) |
//! | `empty` | Invalid | a required string is empty or only whitespace |
//! | `string_too_long` | Invalid | a string exceeds its maximum length in characters |
//! | `too_few_items` | Invalid | an array has fewer items than allowed |
//! | `too_many_items` | Invalid | an array has more items than allowed |
//! | `general_missing` | Missing | no contact carries the `general` profile |
//! | `general_duplicated` | Invalid | a second (third...) contact carries `general` |
//! | `profile_type_invalid` | InvalidProfileType | not one of the eight profile types |
//! | `profile_type_contract` | Unprocessable | the legacy XML type `contract` |
//! | `profile_type_repeated` | Invalid | the same profile type twice in one contact |
//! | `phone_pattern` | Invalid | `phone_number` does not match `^\+[0-9]+$` |
//! | `phone_invalid_for_country` | Invalid | not a valid number of the address country |
//! | `phone_invalid` | Invalid | not a valid international number (no usable address country) |
//! | `phone_tech_type_invalid` | Invalid | `phone_tech_type` is not 1, 3 or 5 |
//! | `phone_tech_type_limit` | Invalid | more phones of one tech type than the route allows |
//! | `extension_not_allowed` | Invalid | `extension` on a fax or mobile phone |
//! | `extension_invalid` | Invalid | `extension` is not 1 to 10 digits |
//! | `email_invalid` | InvalidEmail | not a syntactically valid address, or over 254 characters |
//! | `gender_invalid` | Invalid | not `male` or `female` |
//! | `job_title_invalid` | Invalid | not one of the 17 Booking job titles |
//! | `language_code_invalid` | Invalid | not a Booking language code |
//! | `country_code_invalid` | Invalid | not an ISO 3166-1 alpha-2 code |
//! | `postal_code_invalid` | Invalid | does not fit the country's postal-code format |
//! | `cjk_not_allowed` | Invalid | CJK ideographs in `address_line` or `city_name` |
//! | `nul_character` | Invalid | NUL (U+0000) in a string, query value or path id |
//! | `control_character` | Invalid | a C0/C1 control or DEL; a tab or line break outside note content |
//! | `noncharacter` | Invalid | a Unicode noncharacter (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF) |
//! | `bidi_control` | Invalid | a bidirectional embedding, override or isolate (U+202A..E, U+2066..9) |
//! | `if_match_invalid` | Invalid | `If-Match` is neither `*` nor a list of entity tags |

/// Missing: a required member is absent or `null`.
pub const REQUIRED: &str = "required";
/// UnknownMember: a JSON member this API does not define.
pub const UNKNOWN_MEMBER: &str = "unknown_member";
/// Invalid: the JSON value has the wrong type.
pub const INVALID_TYPE: &str = "invalid_type";
/// Invalid: a required string is empty after trimming.
pub const EMPTY: &str = "empty";
/// Invalid: a string is longer than its limit (in Unicode scalar values).
pub const STRING_TOO_LONG: &str = "string_too_long";
/// Invalid: an array is shorter than its minimum.
pub const TOO_FEW_ITEMS: &str = "too_few_items";
/// Invalid: an array is longer than its maximum.
pub const TOO_MANY_ITEMS: &str = "too_many_items";
/// Missing: no contact in the set carries `general`.
pub const GENERAL_MISSING: &str = "general_missing";
/// Invalid: more than one contact carries `general`.
pub const GENERAL_DUPLICATED: &str = "general_duplicated";
/// InvalidProfileType: unknown `contact_profiles` type.
pub const PROFILE_TYPE_INVALID: &str = "profile_type_invalid";
/// Unprocessable: the legacy type `contract`, which Booking answers with 450.
pub const PROFILE_TYPE_CONTRACT: &str = "profile_type_contract";
/// Invalid: the same type twice in one contact's `contact_profiles`.
pub const PROFILE_TYPE_REPEATED: &str = "profile_type_repeated";
/// Invalid: `phone_number` does not match `^\+[0-9]+$`.
pub const PHONE_PATTERN: &str = "phone_pattern";
/// Invalid: the number is not a valid number of the address country.
pub const PHONE_INVALID_FOR_COUNTRY: &str = "phone_invalid_for_country";
/// Invalid: the number is not a valid international number.
pub const PHONE_INVALID: &str = "phone_invalid";
/// Invalid: `phone_tech_type` is not 1, 3 or 5.
pub const PHONE_TECH_TYPE_INVALID: &str = "phone_tech_type_invalid";
/// Invalid: too many phones of one tech type in a contact.
pub const PHONE_TECH_TYPE_LIMIT: &str = "phone_tech_type_limit";
/// Invalid: `extension` given on a phone that is not voice.
pub const EXTENSION_NOT_ALLOWED: &str = "extension_not_allowed";
/// Invalid: `extension` is not 1 to 10 ASCII digits.
pub const EXTENSION_INVALID: &str = "extension_invalid";
/// InvalidEmail: the email address is not valid.
pub const EMAIL_INVALID: &str = "email_invalid";
/// Invalid: gender is not `male` or `female`.
pub const GENDER_INVALID: &str = "gender_invalid";
/// Invalid: job title is not a Booking job title.
pub const JOB_TITLE_INVALID: &str = "job_title_invalid";
/// Invalid: language code is not a Booking language code.
pub const LANGUAGE_CODE_INVALID: &str = "language_code_invalid";
/// Invalid: country code is not ISO 3166-1 alpha-2.
pub const COUNTRY_CODE_INVALID: &str = "country_code_invalid";
/// Invalid: postal code does not fit the country's format.
pub const POSTAL_CODE_INVALID: &str = "postal_code_invalid";
/// Invalid: CJK ideographs where Booking forbids them.
pub const CJK_NOT_ALLOWED: &str = "cjk_not_allowed";
/// Invalid: NUL in a string (see [`check_text`](super::text::check_text)).
pub const NUL_CHARACTER: &str = "nul_character";
/// Invalid: a control character, or a tab or line break in one-line text.
pub const CONTROL_CHARACTER: &str = "control_character";
/// Invalid: a Unicode noncharacter.
pub const NONCHARACTER: &str = "noncharacter";
/// Invalid: an explicit bidirectional formatting control.
pub const BIDI_CONTROL: &str = "bidi_control";
/// Invalid: a malformed `If-Match` header (the pointer is the header name).
pub const IF_MATCH_INVALID: &str = "if_match_invalid";

/// Every code above, so tests (and the OpenAPI document) can check the list is complete.
pub const ALL: &[&str] = &[
    REQUIRED,
    UNKNOWN_MEMBER,
    INVALID_TYPE,
    EMPTY,
    STRING_TOO_LONG,
    TOO_FEW_ITEMS,
    TOO_MANY_ITEMS,
    GENERAL_MISSING,
    GENERAL_DUPLICATED,
    PROFILE_TYPE_INVALID,
    PROFILE_TYPE_CONTRACT,
    PROFILE_TYPE_REPEATED,
    PHONE_PATTERN,
    PHONE_INVALID_FOR_COUNTRY,
    PHONE_INVALID,
    PHONE_TECH_TYPE_INVALID,
    PHONE_TECH_TYPE_LIMIT,
    EXTENSION_NOT_ALLOWED,
    EXTENSION_INVALID,
    EMAIL_INVALID,
    GENDER_INVALID,
    JOB_TITLE_INVALID,
    LANGUAGE_CODE_INVALID,
    COUNTRY_CODE_INVALID,
    POSTAL_CODE_INVALID,
    CJK_NOT_ALLOWED,
    NUL_CHARACTER,
    CONTROL_CHARACTER,
    NONCHARACTER,
    BIDI_CONTROL,
    IF_MATCH_INVALID,
];

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ALL {
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code} is not snake_case");
        }
        assert_eq!(ALL.len(), 31);
    }
}
