//! RFC 6901 JSON pointers: where in a body a [`FieldError`](super::FieldError) belongs.

use std::borrow::Cow;
use std::fmt;

/// An RFC 6901 JSON pointer, built one reference token at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Pointer(String);

impl Pointer {
    /// The whole document (the empty pointer).
    pub fn root() -> Self {
        Pointer(String::new())
    }

    /// The pointer to member `name` of the object this pointer designates.
    pub fn key(&self, name: &str) -> Self {
        let escaped = escape_token(name);
        let mut s = String::with_capacity(self.0.len() + 1 + escaped.len());
        s.push_str(&self.0);
        s.push('/');
        s.push_str(&escaped);
        Pointer(s)
    }

    /// The pointer to item `index` of the array this pointer designates.
    pub fn index(&self, index: usize) -> Self {
        Pointer(format!("{}/{}", self.0, index))
    }

    /// The pointer as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Pointer> for String {
    fn from(p: Pointer) -> String {
        p.0
    }
}

impl From<&Pointer> for String {
    fn from(p: &Pointer) -> String {
        p.0.clone()
    }
}

/// Escapes one reference token per RFC 6901 §3 (`~` -> `~0`, then `/` -> `~1`).
pub fn escape_token(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Undoes [`escape_token`] (`~1` -> `/`, then `~0` -> `~`), for renderers that show a pointer's
/// tokens as names.
pub fn unescape_token(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_tilde_before_slash() {
        let p = Pointer::root().key("contacts").index(0).key("a/b~c");
        assert_eq!(p.as_str(), "/contacts/0/a~1b~0c");
        // `~1` in the input must not turn into `/` when read back, so `~` is escaped first.
        assert_eq!(Pointer::root().key("~1").as_str(), "/~01");
        assert_eq!(Pointer::root().as_str(), "");
        assert_eq!(Pointer::root().key("").as_str(), "/");
    }

    #[test]
    fn unescape_inverts_escape() {
        for token in ["plain", "a/b~c", "~1", "~0", "/~", ""] {
            assert_eq!(unescape_token(&escape_token(token)), token, "{token}");
        }
    }
}
