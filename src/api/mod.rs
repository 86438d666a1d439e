//! The route table: every route of the service is registered here, in one place.
//!
//! Routes are added through [`Routes`], which also records `(method, path)` so the OpenAPI document
//! can be checked against the real router (see `tests/behaviour/ops.rs`).

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;

use crate::state::AppState;
use crate::store::Store;

pub mod audit;
pub mod booking_headers;
pub mod changes;
pub mod contact_sets;
pub mod crm;
pub mod customers;
pub mod dry_run;
pub mod json_stream;
pub mod ops;
pub mod privacy;
pub mod properties;
pub mod revision_diff;
pub mod revisions;
pub mod su;
pub mod webhooks;

/// A router under construction plus the inventory of what it serves.
pub struct Routes<S> {
    router: Router<AppState<S>>,
    inventory: Vec<(Method, &'static str)>,
}

impl<S: Store> Routes<S> {
    fn new() -> Self {
        Routes { router: Router::new(), inventory: Vec::new() }
    }

    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState<S>>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("standard method");
        self.router = self.router.route(path, on(filter, handler));
        self.inventory.push((method, path));
        self
    }

    /// A second spelling of a documented route (a redirect to it): served, but no operation of its
    /// own, so it stays out of the inventory the OpenAPI document is checked against.
    fn alias<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState<S>>,
        T: 'static,
    {
        self.router = self.router.route(path, axum::routing::get(handler));
        self
    }

    pub fn into_parts(self) -> (Router<AppState<S>>, Vec<(Method, &'static str)>) {
        (self.router, self.inventory)
    }
}

/// Every route, with its handler.
pub fn routes<S: Store>() -> Routes<S> {
    use Method as M;
    Routes::new()
        // ops
        .add(M::GET, "/livez", ops::livez)
        .add(M::GET, "/readyz", ops::readyz::<S>)
        .add(M::GET, "/openapi.yaml", ops::openapi_yaml)
        .add(M::GET, "/metrics", crate::observability::metrics_endpoint::<S>)
        .add(M::GET, "/docs", ops::docs_index)
        .alias("/docs/", ops::docs_redirect)
        .add(M::GET, "/docs/{*file}", ops::docs_asset)
        // property registry and contact-set history (native)
        .add(M::GET, "/api/v1/properties", properties::list_properties::<S>)
        .add(M::GET, "/api/v1/properties/{property_id}", properties::get_property::<S>)
        .add(M::PUT, "/api/v1/properties/{property_id}", properties::put_property::<S>)
        .add(M::DELETE, "/api/v1/properties/{property_id}", properties::delete_property::<S>)
        .add(
            M::GET,
            "/api/v1/properties/{property_id}/contacts/revisions",
            revisions::list_contact_set_revisions::<S>,
        )
        .add(
            M::GET,
            "/api/v1/properties/{property_id}/contacts/revisions/{revision}",
            revisions::get_contact_set_revision::<S>,
        )
        .add(
            M::GET,
            "/api/v1/properties/{property_id}/contacts/revisions/{from}/diff/{to}",
            revision_diff::diff_contact_set_revisions::<S>,
        )
        .add(
            M::POST,
            "/api/v1/properties/{property_id}/contacts/revisions/{revision}/restore",
            revision_diff::restore_contact_set_revision::<S>,
        )
        // change feed
        .add(M::GET, "/api/v1/changes", changes::list_changes::<S>)
        // audit log (admin)
        .add(M::GET, "/api/v1/audit", audit::list_audit::<S>)
        // privacy requests (admin)
        .add(M::GET, "/api/v1/privacy/subjects", privacy::export_subject::<S>)
        .add(M::POST, "/api/v1/privacy/erasures", privacy::erase_subject::<S>)
        // webhooks (admin)
        .add(M::POST, "/api/v1/webhooks", webhooks::create_webhook::<S>)
        .add(M::GET, "/api/v1/webhooks", webhooks::list_webhooks::<S>)
        .add(M::DELETE, "/api/v1/webhooks/{webhook_id}", webhooks::delete_webhook::<S>)
        .add(M::GET, "/api/v1/webhooks/{webhook_id}/deliveries", webhooks::list_deliveries::<S>)
        .add(
            M::POST,
            "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
            webhooks::retry_delivery::<S>,
        )
        // Booking.com-compatible contact sets
        .add(M::GET, "/contacts-api/properties/{property_id}/contacts", contact_sets::get_contact_set::<S>)
        .add(
            M::PUT,
            "/contacts-api/properties/{property_id}/contacts",
            contact_sets::replace_contact_set::<S>,
        )
        // SU-compatible contact sets
        .add(M::POST, "/SUAPI/jservice/bdc/property/contact/set", su::set_contacts::<S>)
        .add(M::POST, "/SUAPI/jservice/bdc/property/contact/retrieve", su::retrieve_contacts::<S>)
        // CRM contacts (Resharmonics v3 shape)
        .add(M::GET, "/api/v3/contacts", crm::contacts::list_contacts::<S>)
        .add(M::POST, "/api/v3/contacts", crm::contacts::create_contact::<S>)
        .add(M::POST, "/api/v3/contacts/merge", crm::contacts::merge_contacts::<S>)
        .add(M::POST, "/api/v3/contacts/merge/preview", crm::duplicates::preview_merge::<S>)
        .add(M::POST, "/api/v3/contacts/batch", crm::batch::batch_contacts::<S>)
        .add(M::GET, "/api/v3/contacts/{id}/duplicates", crm::duplicates::list_duplicates::<S>)
        .add(M::GET, "/api/v3/contacts/{id}", crm::contacts::get_contact::<S>)
        .add(M::PUT, "/api/v3/contacts/{id}", crm::contacts::replace_contact::<S>)
        .add(M::PATCH, "/api/v3/contacts/{id}", crm::patch::patch_contact::<S>)
        .add(M::DELETE, "/api/v3/contacts/{id}", crm::contacts::delete_contact::<S>)
        .add(M::GET, "/api/v3/contacts/{id}/revisions", crm::contacts::list_contact_revisions::<S>)
        .add(M::GET, "/api/v3/contacts/{id}/notes", crm::notes::list_notes::<S>)
        .add(M::POST, "/api/v3/contacts/{id}/notes", crm::notes::add_note::<S>)
        .add(M::GET, "/api/v3/contacts/{id}/customFields", crm::notes::get_custom_fields::<S>)
        .add(M::PUT, "/api/v3/contacts/{id}/customFields", crm::notes::replace_custom_fields::<S>)
        .add(
            M::POST,
            "/api/v3/contacts/{id}/addresses",
            crm::subresources::add_item::<S, crm::subresources::Addresses>,
        )
        .add(
            M::PUT,
            "/api/v3/contacts/{id}/addresses/{addressId}",
            crm::subresources::update_item::<S, crm::subresources::Addresses>,
        )
        .add(
            M::DELETE,
            "/api/v3/contacts/{id}/addresses/{addressId}",
            crm::subresources::delete_item::<S, crm::subresources::Addresses>,
        )
        .add(
            M::PUT,
            "/api/v3/contacts/{id}/addresses/{addressId}/primary",
            crm::subresources::set_primary_item::<S, crm::subresources::Addresses>,
        )
        .add(
            M::POST,
            "/api/v3/contacts/{id}/emailAddresses",
            crm::subresources::add_item::<S, crm::subresources::EmailAddresses>,
        )
        .add(
            M::PUT,
            "/api/v3/contacts/{id}/emailAddresses/{emailId}",
            crm::subresources::update_item::<S, crm::subresources::EmailAddresses>,
        )
        .add(
            M::DELETE,
            "/api/v3/contacts/{id}/emailAddresses/{emailId}",
            crm::subresources::delete_item::<S, crm::subresources::EmailAddresses>,
        )
        .add(
            M::PUT,
            "/api/v3/contacts/{id}/emailAddresses/{emailId}/primary",
            crm::subresources::set_primary_item::<S, crm::subresources::EmailAddresses>,
        )
        .add(
            M::POST,
            "/api/v3/contacts/{id}/telephones",
            crm::subresources::add_item::<S, crm::subresources::Telephones>,
        )
        .add(
            M::PUT,
            "/api/v3/contacts/{id}/telephones/{phoneId}",
            crm::subresources::update_item::<S, crm::subresources::Telephones>,
        )
        .add(
            M::DELETE,
            "/api/v3/contacts/{id}/telephones/{phoneId}",
            crm::subresources::delete_item::<S, crm::subresources::Telephones>,
        )
        .add(
            M::PUT,
            "/api/v3/contacts/{id}/telephones/{phoneId}/primary",
            crm::subresources::set_primary_item::<S, crm::subresources::Telephones>,
        )
        // Customer billing/service contacts (seed 002)
        .add(M::POST, "/api/v1/customers/{customer_id}/contacts", customers::upsert_customer_contacts::<S>)
        .add(M::GET, "/api/v1/customers/{customer_id}/contacts", customers::get_customer_contacts::<S>)
}

/// The route families whose envelopes differ; errors raised outside a handler (the request timeout)
/// are rendered in the family's own envelope, since a route never mixes envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Booking,
    Su,
    Customers,
    /// Native, CRM and ops routes: problem+json.
    Problem,
}

impl Family {
    pub fn of(path: &str) -> Family {
        if path.starts_with("/contacts-api/") {
            Family::Booking
        } else if path.starts_with("/SUAPI/") {
            Family::Su
        } else if path.starts_with("/api/v1/customers/") {
            Family::Customers
        } else {
            Family::Problem
        }
    }

    /// `e` in this family's envelope; `tracking_header` is the request's `Request-Tracking-Id`.
    pub fn render(
        self,
        e: crate::error::ApiError,
        tracking_header: Option<&axum::http::HeaderValue>,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        match self {
            Family::Booking => contact_sets::render_error(e),
            Family::Su => su::render_error(e),
            Family::Customers => customers::render_error(e, tracking_header),
            Family::Problem => e.into_response(),
        }
    }
}

/// `(METHOD, path)` of every route the service serves, paths in OpenAPI `{param}` form.
pub fn route_inventory() -> Vec<(String, String)> {
    // The inventory does not depend on the backend; any store type builds the same table.
    let (_, inventory) = routes::<crate::store::SqliteStore>().into_parts();
    // axum's catch-all `{*file}` is OpenAPI's `{file}`.
    inventory.into_iter().map(|(m, p)| (m.to_string(), p.replace("{*", "{"))).collect()
}
