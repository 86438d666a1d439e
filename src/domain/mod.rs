//! Domain types that are valid by construction.

pub mod change;
pub mod contact_set;
pub mod contact_set_advice;
pub mod contact_set_allowed;
pub mod contact_set_diff;
pub mod crm;
pub mod customer;
pub mod property;
