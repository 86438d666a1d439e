//! Domain types that are valid by construction.

pub mod audit;
pub mod change;
pub mod contact_set;
pub mod contact_set_advice;
pub mod contact_set_allowed;
pub mod contact_set_diff;
pub mod crm;
pub mod crm_batch;
pub mod crm_cursor;
pub mod crm_duplicates;
pub mod crm_patch;
pub mod crm_search;
pub mod customer;
pub mod privacy;
pub mod property;
