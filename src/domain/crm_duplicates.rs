//! Duplicate suggestions (`GET /api/v3/contacts/{id}/duplicates`): how likely another contact is
//! the same person, and why. Pure; the store finds the candidates (contacts sharing an e-mail
//! address, an E.164 telephone, a postcode or a company with the contact) and this module scores
//! them.

use serde::Serialize;

use super::crm::Contact;
use super::crm_search::fold;

/// Most suggestions answered.
pub const MAX_DUPLICATES: usize = 20;
/// Names at least this similar (Jaro-Winkler over the folded full names) count as similar.
const SIMILAR_NAME: f64 = 0.88;

/// Why a contact may be a duplicate; each adds its weight to the score (at most 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DuplicateReason {
    /// An e-mail address in common, ignoring case.
    SameEmail,
    /// A telephone with the same E.164 form.
    SameTelephone,
    /// Similar names and an address with the same postcode (ignoring case and spaces).
    SimilarNameSamePostcode,
    /// Similar names and the same company (ignoring case and accents).
    SimilarNameSameCompany,
}

impl DuplicateReason {
    fn weight(self) -> u32 {
        match self {
            DuplicateReason::SameEmail => 60,
            DuplicateReason::SameTelephone => 50,
            DuplicateReason::SimilarNameSamePostcode => 40,
            DuplicateReason::SimilarNameSameCompany => 30,
        }
    }
}

/// A suggested duplicate of a contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Duplicate {
    /// 1 to 100; higher is likelier.
    pub score: u32,
    pub reasons: Vec<DuplicateReason>,
    pub contact: Contact,
}

/// The postcode as compared: lowercased, without spaces (what the store's index holds too).
pub fn postcode_key(postcode: &str) -> String {
    postcode.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

fn full_name(c: &Contact) -> Option<String> {
    let name = [&c.first_name, &c.last_name].into_iter().flatten().map(|n| fold(n)).collect::<Vec<_>>();
    let name = name.join(" ");
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

fn similar_names(a: &Contact, b: &Contact) -> bool {
    match (full_name(a), full_name(b)) {
        (Some(x), Some(y)) => x == y || strsim::jaro_winkler(&x, &y) >= SIMILAR_NAME,
        _ => false,
    }
}

/// Why `candidate` may be the same person as `contact`; empty when nothing suggests it.
pub fn reasons(contact: &Contact, candidate: &Contact) -> Vec<DuplicateReason> {
    let mut reasons = Vec::new();
    let emails =
        |c: &Contact| c.email_addresses.iter().map(|e| e.email_address.to_lowercase()).collect::<Vec<_>>();
    let theirs = emails(candidate);
    let same_email = emails(contact).iter().any(|e| theirs.contains(e));
    if same_email {
        reasons.push(DuplicateReason::SameEmail);
    }
    if contact.telephones.iter().any(|t| candidate.telephones.iter().any(|o| o.e164 == t.e164)) {
        reasons.push(DuplicateReason::SameTelephone);
    }
    if similar_names(contact, candidate) {
        let postcodes = |c: &Contact| {
            c.addresses.iter().filter_map(|a| a.postcode.as_deref()).map(postcode_key).collect::<Vec<_>>()
        };
        let theirs = postcodes(candidate);
        if postcodes(contact).iter().any(|p| !p.is_empty() && theirs.contains(p)) {
            reasons.push(DuplicateReason::SimilarNameSamePostcode);
        }
        let company = |c: &Contact| c.company_name.as_deref().map(fold).filter(|n| !n.trim().is_empty());
        if company(contact).is_some() && company(contact) == company(candidate) {
            reasons.push(DuplicateReason::SimilarNameSameCompany);
        }
    }
    reasons
}

/// Scores the candidates against `contact`: those with a reason, best first (score, then id),
/// at most [`MAX_DUPLICATES`].
pub fn rank(contact: &Contact, candidates: Vec<Contact>) -> Vec<Duplicate> {
    let mut found: Vec<Duplicate> = candidates
        .into_iter()
        .filter(|c| c.id != contact.id)
        .filter_map(|c| {
            let reasons = reasons(contact, &c);
            let score = reasons.iter().map(|r| r.weight()).sum::<u32>().min(100);
            (!reasons.is_empty()).then_some(Duplicate { score, reasons, contact: c })
        })
        .collect();
    found.sort_by(|a, b| b.score.cmp(&a.score).then(a.contact.id.cmp(&b.contact.id)));
    found.truncate(MAX_DUPLICATES);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: i64, first: &str, last: &str) -> Contact {
        Contact {
            id,
            contact_type: crate::domain::crm::ContactType::Contact,
            title: None,
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            company_name: None,
            account_id: None,
            job_title: None,
            gender: None,
            language: None,
            external_id: None,
            property_ids: vec![],
            order_references: vec![],
            email_addresses: vec![],
            telephones: vec![],
            addresses: vec![],
            custom_fields: vec![],
            version: 1,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn similar_names_need_a_postcode_or_company_in_common() {
        let mut a = contact(1, "Jan", "Jansen");
        let mut b = contact(2, "Jan", "Janssen");
        assert!(reasons(&a, &b).is_empty());
        a.company_name = Some("Hotel Ébène".into());
        b.company_name = Some("hotel ebene".into());
        assert_eq!(reasons(&a, &b), [DuplicateReason::SimilarNameSameCompany]);
        let c = contact(3, "Maria", "Lopez");
        let mut c2 = c.clone();
        c2.company_name = a.company_name.clone();
        assert!(reasons(&a, &c2).is_empty());
        assert_eq!(postcode_key("1012 AB"), "1012ab");
    }
}
