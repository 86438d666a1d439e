//! Privacy requests: who a subject export or erasure is about, parsed from the query
//! (`?email=|phone=|contact_id=`) or the erasure body, with every violation reported.

use crate::validation::codes;
use crate::validation::text::is_valid_email;
use crate::validation::{ErrorKind, Errors, FieldError};

/// The person a request is about: one identifier, as the tenant holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Compared without case.
    Email(String),
    /// E.164: `+` and 7 to 15 digits.
    Phone(String),
    /// A CRM contact: its e-mail addresses and telephones then find the rest.
    ContactId(i64),
}

impl Subject {
    /// Which kind of identifier names the subject: the audit log records this, never the value.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Email(_) => "email",
            Subject::Phone(_) => "phone",
            Subject::ContactId(_) => "contact_id",
        }
    }

    /// Exactly one of the three identifiers. `pointer` turns a member name into the place it is
    /// reported at (`email` for a query parameter, `/email` in a body).
    pub fn parse(
        email: Option<&str>,
        phone: Option<&str>,
        contact_id: Option<&str>,
        pointer: impl Fn(&str) -> String,
    ) -> Result<Subject, Vec<FieldError>> {
        let mut errors = Errors::new();
        let given: Vec<&str> = [("email", email), ("phone", phone), ("contact_id", contact_id)]
            .into_iter()
            .filter_map(|(name, v)| v.map(|_| name))
            .collect();
        if given.is_empty() {
            errors.push(
                pointer("email"),
                ErrorKind::Missing,
                codes::REQUIRED,
                "one of email, phone or contact_id is required",
            );
            return Err(errors.into_vec());
        }
        for extra in &given[1..] {
            errors.invalid(
                pointer(extra),
                codes::TOO_MANY_ITEMS,
                "give only one of email, phone or contact_id",
            );
        }
        let mut subject = None;
        if let Some(email) = email {
            let email = email.trim();
            if is_valid_email(email) {
                subject = Some(Subject::Email(email.to_lowercase()));
            } else {
                errors.push(
                    pointer("email"),
                    ErrorKind::InvalidEmail,
                    codes::EMAIL_INVALID,
                    "not a valid e-mail address",
                );
            }
        }
        if let Some(phone) = phone {
            let phone = phone.trim();
            let digits = phone.strip_prefix('+').unwrap_or_default();
            if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                subject.get_or_insert(Subject::Phone(phone.to_owned()));
            } else {
                errors.invalid(
                    pointer("phone"),
                    codes::PHONE_PATTERN,
                    "must be E.164: `+` and 7 to 15 digits",
                );
            }
        }
        if let Some(id) = contact_id {
            match id.trim().parse::<i64>() {
                Ok(id) if id > 0 => {
                    subject.get_or_insert(Subject::ContactId(id));
                }
                _ => errors.invalid(pointer("contact_id"), codes::INVALID_TYPE, "must be a positive integer"),
            }
        }
        errors.finish_some(subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(
        e: Option<&str>,
        p: Option<&str>,
        c: Option<&str>,
    ) -> Result<Subject, Vec<(String, &'static str)>> {
        Subject::parse(e, p, c, str::to_owned)
            .map_err(|errs| errs.into_iter().map(|e| (e.pointer, e.code)).collect())
    }

    #[test]
    fn one_identifier_is_parsed() {
        assert_eq!(
            query(Some(" Anna@Example.COM "), None, None),
            Ok(Subject::Email("anna@example.com".into()))
        );
        assert_eq!(query(None, Some("+4930123456"), None), Ok(Subject::Phone("+4930123456".into())));
        assert_eq!(query(None, None, Some("12")), Ok(Subject::ContactId(12)));
    }

    #[test]
    fn every_violation_is_reported() {
        assert_eq!(query(None, None, None), Err(vec![("email".into(), codes::REQUIRED)]));
        assert_eq!(
            query(Some("nope"), Some("0301234"), None),
            Err(vec![
                ("phone".into(), codes::TOO_MANY_ITEMS),
                ("email".into(), codes::EMAIL_INVALID),
                ("phone".into(), codes::PHONE_PATTERN)
            ])
        );
        assert_eq!(query(None, None, Some("x")), Err(vec![("contact_id".into(), codes::INVALID_TYPE)]));
    }
}
