//! Candidates for duplicate suggestions: the ids of contacts sharing something with a contact,
//! found through indexes led by tenant; [`crate::domain::crm_duplicates`] scores them.

use crate::domain::crm::Contact;
use crate::domain::crm_duplicates::postcode_key;
use crate::domain::crm_search::{fold, prefix_upper};
use crate::store::error::StoreResult;
use crate::store::query::{query, SqlConn};

/// Most candidates scored per lookup, so a lookup stays bounded however common a postcode or
/// company is.
const MAX_CANDIDATES: i64 = 200;
/// Characters of the name that a postcode or company candidate must share as a term prefix.
const NAME_PREFIX: usize = 3;

/// Ids of other contacts of the tenant with an e-mail address (ignoring case) or E.164 telephone
/// of `c`, or with its postcode or company and a name starting like its name. One query.
pub(super) async fn duplicate_candidates<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    c: &Contact,
) -> StoreResult<Vec<i64>> {
    let emails: Vec<String> = c.email_addresses.iter().map(|e| e.email_address.to_lowercase()).collect();
    let phones: Vec<&str> = c.telephones.iter().map(|t| t.e164.as_str()).collect();
    let postcodes: Vec<String> = c
        .addresses
        .iter()
        .filter_map(|a| a.postcode.as_deref())
        .map(postcode_key)
        .filter(|p| !p.is_empty())
        .collect();
    let company = c.company_name.as_deref().map(|n| n.to_lowercase());
    // The name a similar name must start like: the last name, else the first.
    let name_prefix: Option<String> = c
        .last_name
        .as_deref()
        .or(c.first_name.as_deref())
        .map(|n| fold(n).chars().filter(|ch| ch.is_alphanumeric()).take(NAME_PREFIX).collect::<String>())
        .filter(|p| !p.is_empty());
    let mut branches = 0;
    let mut qb = query("SELECT DISTINCT x.id FROM (");
    let mut union = |qb: &mut crate::store::query::Sql<'_>| {
        if branches > 0 {
            qb.push(" UNION ");
        }
        branches += 1;
    };
    if !emails.is_empty() {
        union(&mut qb);
        qb.push("SELECT e.contact_id AS id FROM crm_contact_emails e WHERE e.tenant_id = ")
            .push_bind(tenant)
            .push(" AND lower(e.email_address) IN (")
            .push_bind_list(emails.iter().map(|e| e.as_str().to_owned()))
            .push(")");
    }
    if !phones.is_empty() {
        union(&mut qb);
        qb.push("SELECT t.contact_id AS id FROM crm_contact_telephones t WHERE t.tenant_id = ")
            .push_bind(tenant)
            .push(" AND t.e164 IN (")
            .push_bind_list(phones.iter().map(|p| p.to_string()))
            .push(")");
    }
    if let Some(prefix) = &name_prefix {
        let upper = prefix_upper(prefix);
        let name_like = |qb: &mut crate::store::query::Sql<'_>, column: &str| {
            qb.push(format!(
                " AND EXISTS (SELECT 1 FROM crm_contact_terms n WHERE n.contact_id = {column} AND n.term >= "
            ))
            .push_bind(prefix.clone());
            if let Some(upper) = &upper {
                qb.push(" AND n.term < ").push_bind(upper.clone());
            }
            qb.push(")");
        };
        if !postcodes.is_empty() {
            union(&mut qb);
            qb.push("SELECT a.contact_id AS id FROM crm_contact_addresses a WHERE a.tenant_id = ")
                .push_bind(tenant)
                .push(" AND lower(replace(a.postcode, ' ', '')) IN (")
                .push_bind_list(postcodes.iter().cloned())
                .push(")");
            name_like(&mut qb, "a.contact_id");
        }
        if let Some(company) = &company {
            union(&mut qb);
            qb.push("SELECT o.id AS id FROM crm_contacts o WHERE o.tenant_id = ")
                .push_bind(tenant)
                .push(" AND lower(o.company_name) = ")
                .push_bind(company.clone());
            name_like(&mut qb, "o.id");
        }
    }
    if branches == 0 {
        return Ok(Vec::new());
    }
    qb.push(") x WHERE x.id <> ").push_bind(c.id).push(" ORDER BY x.id LIMIT ").push_bind(MAX_CANDIDATES);
    let rows: Vec<(i64,)> = qb.fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
