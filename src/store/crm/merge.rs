//! Merging two CRM contacts: everything of the secondary moves to the primary, which survives;
//! the secondary stays as a tombstone.

use sqlx::types::Json;

use super::queries::{clear_collection, fetch_contacts, insert_revisions, promote_oldest};
use super::MergeOutcome;
use crate::domain::change::Change;
use crate::domain::crm::{Operation, MAX_ITEMS, MAX_LIST};
use crate::store::changes;
use crate::store::error::{StoreError, StoreResult};
use crate::store::query::{query, SqlConn};
use crate::store::write::now;

/// The merge, inside the caller's write transaction. A `NoOp` may come after rows were moved: the
/// caller must roll it back.
pub(super) async fn merge<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    primary: i64,
    secondary: i64,
    author: &str,
) -> StoreResult<MergeOutcome> {
    // Both rows, locked in id order so two opposite merges cannot deadlock.
    let rows: Vec<(i64, Option<i64>, Json<Vec<String>>)> = query(format!(
        "SELECT id, merged_into, order_references FROM crm_contacts \
         WHERE tenant_id = $1 AND id IN ($2, $3) ORDER BY id{}",
        C::LOCK_ROWS
    ))
    .bind(tenant)
    .bind(primary)
    .bind(secondary)
    .fetch_all(&mut *conn)
    .await?;
    let find = |id: i64| rows.iter().find(|r| r.0 == id);
    let (Some(p), Some(s)) = (find(primary), find(secondary)) else {
        let missing = if find(primary).is_none() { primary } else { secondary };
        return Ok(MergeOutcome::NoOp { message: format!("contact {missing} does not exist") });
    };
    for (id, merged_into, _) in [p, s] {
        if merged_into.is_some() {
            return Ok(MergeOutcome::NoOp { message: format!("contact {id} is already merged") });
        }
    }
    let mut order_references = p.2 .0.clone();
    for r in &s.2 .0 {
        if !order_references.contains(r) {
            order_references.push(r.clone());
        }
    }
    // Exact duplicates stay behind and are dropped; moved items are never primary,
    // so the primary keeps its primaries. E-mail addresses are duplicates ignoring case and
    // type, as the e-mail filter treats them.
    move_rows(
        conn,
        "crm_contact_emails",
        ", is_primary = FALSE",
        "lower(p.email_address) = lower(crm_contact_emails.email_address)",
        primary,
        secondary,
    )
    .await?;
    // The secondary's own addresses may differ only in case among themselves: keep the
    // primary one, else the oldest.
    query(
        "DELETE FROM crm_contact_emails WHERE contact_id = $1 AND NOT is_primary AND EXISTS \
         (SELECT 1 FROM crm_contact_emails o WHERE o.contact_id = $1 AND o.id <> crm_contact_emails.id \
         AND lower(o.email_address) = lower(crm_contact_emails.email_address) \
         AND (o.is_primary OR o.id < crm_contact_emails.id))",
    )
    .bind(primary)
    .execute(&mut *conn)
    .await?;
    move_rows(
        conn,
        "crm_contact_telephones",
        ", is_primary = FALSE",
        "p.e164 = crm_contact_telephones.e164 AND p.type IS NOT DISTINCT FROM crm_contact_telephones.type \
         AND p.extension IS NOT DISTINCT FROM crm_contact_telephones.extension",
        primary,
        secondary,
    )
    .await?;
    move_rows(
        conn,
        "crm_contact_addresses",
        ", is_primary = FALSE",
        "p.address_line1 = crm_contact_addresses.address_line1 \
         AND p.address_line2 IS NOT DISTINCT FROM crm_contact_addresses.address_line2 \
         AND p.city = crm_contact_addresses.city \
         AND p.postcode IS NOT DISTINCT FROM crm_contact_addresses.postcode \
         AND p.state_province IS NOT DISTINCT FROM crm_contact_addresses.state_province \
         AND p.country_code = crm_contact_addresses.country_code",
        primary,
        secondary,
    )
    .await?;
    move_rows(
        conn,
        "crm_contact_custom_fields",
        "",
        "p.name = crm_contact_custom_fields.name",
        primary,
        secondary,
    )
    .await?;
    move_rows(
        conn,
        "crm_contact_properties",
        "",
        "p.property_id = crm_contact_properties.property_id",
        primary,
        secondary,
    )
    .await?;
    query("UPDATE crm_contact_notes SET contact_id = $1 WHERE contact_id = $2")
        .bind(primary)
        .bind(secondary)
        .execute(&mut *conn)
        .await?;
    // The merged collections must respect the per-contact maximums; if one would
    // not, the merge is refused and rolled back (see below).
    if let Some(message) = over_cap(&mut *conn, primary, order_references.len()).await? {
        return Ok(MergeOutcome::NoOp { message });
    }
    // A primary that had none of a collection gets the oldest moved item as primary.
    for table in ["crm_contact_emails", "crm_contact_telephones", "crm_contact_addresses"] {
        promote_oldest(&mut *conn, table, primary).await?;
    }
    let at = now();
    query(
        "UPDATE crm_contacts SET order_references = $3, version = version + 1, updated_at = $4 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(primary)
    .bind(Json(&order_references))
    .bind(at)
    .execute(&mut *conn)
    .await?;
    query(
        "UPDATE crm_contacts SET merged_into = $3, order_references = $4, version = version + 1, \
         updated_at = $5 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(secondary)
    .bind(primary)
    .bind(Json(Vec::<String>::new()))
    .bind(at)
    .execute(&mut *conn)
    .await?;
    let both = fetch_contacts(&mut *conn, tenant, &[primary, secondary]).await?;
    let get = |id: i64| {
        both.iter()
            .find(|(c, _)| c.id == id)
            .map(|(c, _)| c)
            .ok_or_else(|| StoreError::Other("merged contact vanished".into()))
    };
    let (p, s) = (get(primary)?, get(secondary)?);
    super::search::reindex_contact(&mut *conn, tenant, p).await?;
    super::search::drop_terms(&mut *conn, &[secondary]).await?;
    insert_revisions(&mut *conn, tenant, &[(p, Operation::Merge), (s, Operation::MergedInto)], author)
        .await?;
    changes::record(&mut *conn, tenant, author, at, &Change::merge(primary, secondary, p.version)).await?;
    let primary_contact = p.clone();
    Ok(MergeOutcome::Merged {
        primary: Box::new(primary_contact),
        message: format!("contact {secondary} was merged into contact {primary}"),
    })
}

/// Moves the secondary's rows of `table` to the primary unless an equal row (`same`,
/// comparing `p` with the row being moved) is there already; drops the rest.
async fn move_rows<C: SqlConn>(
    conn: &mut C,
    table: &str,
    set_extra: &str,
    same: &str,
    primary: i64,
    secondary: i64,
) -> StoreResult<()> {
    query(format!(
        "UPDATE {table} SET contact_id = $1{set_extra} WHERE contact_id = $2 AND NOT EXISTS \
         (SELECT 1 FROM {table} p WHERE p.contact_id = $1 AND {same})"
    ))
    .bind(primary)
    .bind(secondary)
    .execute(&mut *conn)
    .await?;
    clear_collection(conn, table, secondary).await
}

/// Why the merged primary `id` breaks a per-contact maximum, if it does: at most
/// [`MAX_ITEMS`] addresses, emails and telephones, [`MAX_LIST`] custom fields, property
/// links and order references (`order_references` of them after the merge). One query.
async fn over_cap<C: SqlConn>(conn: &mut C, id: i64, order_references: usize) -> StoreResult<Option<String>> {
    let counts: (i64, i64, i64, i64, i64) = query(
        "SELECT (SELECT COUNT(*) FROM crm_contact_emails WHERE contact_id = $1), \
         (SELECT COUNT(*) FROM crm_contact_telephones WHERE contact_id = $1), \
         (SELECT COUNT(*) FROM crm_contact_addresses WHERE contact_id = $1), \
         (SELECT COUNT(*) FROM crm_contact_custom_fields WHERE contact_id = $1), \
         (SELECT COUNT(*) FROM crm_contact_properties WHERE contact_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let checks = [
        ("emailAddresses", counts.0, MAX_ITEMS),
        ("telephones", counts.1, MAX_ITEMS),
        ("addresses", counts.2, MAX_ITEMS),
        ("customFields", counts.3, MAX_LIST),
        ("propertyIds", counts.4, MAX_LIST),
        ("orderReferences", i64::try_from(order_references).unwrap_or(i64::MAX), MAX_LIST),
    ];
    Ok(checks.into_iter().find(|(_, n, max)| *n > *max as i64).map(|(what, n, max)| {
        format!(
            "the merged contact {id} would have {n} {what}, more than the {max} allowed; \
             nothing was changed"
        )
    }))
}
