//! Placeholder until the validation layer lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Missing,
    Invalid,
    UnknownMember,
    Unprocessable,
    InvalidProfileType,
    InvalidEmail,
}
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub pointer: String,
    pub code: &'static str,
    pub detail: String,
    #[serde(skip)]
    pub kind: ErrorKind,
}
impl FieldError {
    pub fn new(
        pointer: &str,
        kind: ErrorKind,
        code: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            pointer: pointer.to_owned(),
            code,
            detail: detail.into(),
            kind,
        }
    }
}
/// Placeholder.
pub fn warm_up() {}
