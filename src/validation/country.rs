//! Countries (ISO 3166-1 alpha-2 via `celes`) and per-country postal-code formats.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// Longest postal code accepted for a country without a known format.
pub const POSTAL_CODE_MAX_CHARS: usize = 20;

/// The canonical upper-case alpha-2 code for `code` (any case), if ISO 3166-1 knows it.
///
/// Only two ASCII letters qualify, so celes' looser lookups (names, aliases) never apply.
pub fn iso_alpha2(code: &str) -> Option<&'static str> {
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    celes::Country::from_alpha2(code).ok().map(|c| c.alpha2)
}

/// Postal-code formats, matched against the trimmed, upper-cased code with runs of
/// whitespace collapsed to one space. Optional separators are allowed where locals write them.
const POSTAL_FORMATS: &[(&str, &str)] = &[
    // EU
    ("AT", r"\d{4}"),
    ("BE", r"\d{4}"),
    ("BG", r"\d{4}"),
    ("CY", r"\d{4}"),
    ("CZ", r"\d{3} ?\d{2}"),
    ("DE", r"\d{5}"),
    ("DK", r"\d{4}"),
    ("EE", r"\d{5}"),
    ("ES", r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}"),
    ("FI", r"\d{5}"),
    ("FR", r"\d{5}"),
    ("GR", r"\d{3} ?\d{2}"),
    ("HR", r"\d{5}"),
    ("HU", r"\d{4}"),
    ("IE", r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W) ?[0-9AC-FHKNPRTV-Y]{4}"),
    ("IT", r"\d{5}"),
    ("LT", r"(?:LT-?)?\d{5}"),
    ("LU", r"(?:L-?)?\d{4}"),
    ("LV", r"(?:LV-?)?\d{4}"),
    ("MT", r"[A-Z]{3} ?\d{2,4}"),
    ("NL", r"[1-9]\d{3} ?[A-Z]{2}"),
    ("PL", r"\d{2}-?\d{3}"),
    ("PT", r"\d{4}[- ]?\d{3}"),
    ("RO", r"\d{6}"),
    ("SE", r"\d{3} ?\d{2}"),
    ("SI", r"(?:SI-?)?\d{4}"),
    ("SK", r"\d{3} ?\d{2}"),
    // EEA and European microstates
    ("IS", r"\d{3}"),
    ("LI", r"94(?:8[5-9]|9[0-8])"),
    ("NO", r"\d{4}"),
    ("CH", r"\d{4}"),
    ("AD", r"AD ?\d{3}"),
    ("MC", r"980\d{2}"),
    ("SM", r"4789\d"),
    ("VA", r"00120"),
    ("FO", r"\d{3}"),
    ("GL", r"39\d{2}"),
    // Rest of Europe
    ("GB", r"GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"),
    ("AL", r"\d{4}"),
    ("AM", r"\d{4}"),
    ("BA", r"\d{5}"),
    ("BY", r"\d{6}"),
    ("GE", r"\d{4}"),
    ("MD", r"(?:MD-?)?\d{4}"),
    ("ME", r"\d{5}"),
    ("MK", r"\d{4}"),
    ("RS", r"\d{5}"),
    ("RU", r"\d{6}"),
    ("TR", r"\d{5}"),
    ("UA", r"\d{5}"),
    // Americas
    ("US", r"\d{5}(?:[- ]?\d{4})?"),
    ("CA", r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d"),
    ("MX", r"\d{5}"),
    ("BR", r"\d{5}-?\d{3}"),
    ("AR", r"[A-HJ-NP-Z]\d{4}[A-Z]{3}|\d{4}"),
    ("CL", r"\d{7}"),
    ("CO", r"\d{6}"),
    ("PE", r"\d{5}"),
    // Asia-Pacific
    ("AU", r"\d{4}"),
    ("NZ", r"\d{4}"),
    ("JP", r"\d{3}-?\d{4}"),
    ("CN", r"\d{6}"),
    ("IN", r"[1-9]\d{2} ?\d{3}"),
    ("KR", r"\d{5}"),
    ("TW", r"\d{3}(?:\d{2,3})?"),
    ("SG", r"\d{6}"),
    ("TH", r"\d{5}"),
    ("MY", r"\d{5}"),
    ("ID", r"\d{5}"),
    ("PH", r"\d{4}"),
    // Middle East and Africa
    ("IL", r"\d{7}"),
    ("SA", r"\d{5}(?:-?\d{4})?"),
    ("EG", r"\d{5}"),
    ("MA", r"\d{5}"),
    ("ZA", r"\d{4}"),
];

static POSTAL: LazyLock<HashMap<&'static str, Regex>> = LazyLock::new(|| {
    POSTAL_FORMATS
        .iter()
        .map(|&(country, pattern)| {
            let re = Regex::new(&format!("^(?:{pattern})$"))
                .unwrap_or_else(|e| panic!("postal pattern for {country}: {e}"));
            (country, re)
        })
        .collect()
});

/// Countries with a known postal-code format, upper-case alpha-2.
pub fn postal_countries() -> impl Iterator<Item = &'static str> {
    POSTAL_FORMATS.iter().map(|&(c, _)| c)
}

/// Why a postal code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostalError {
    /// It does not fit the country's known format.
    Format,
    /// The country has no known format and the code is longer than [`POSTAL_CODE_MAX_CHARS`].
    TooLong,
}

/// Checks a trimmed, non-empty postal code against `country` (canonical alpha-2).
pub fn check_postal_code(country: &str, code: &str) -> Result<(), PostalError> {
    match POSTAL.get(country) {
        Some(re) => {
            let normalised = code.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
            if re.is_match(&normalised) {
                Ok(())
            } else {
                Err(PostalError::Format)
            }
        }
        None if code.chars().count() > POSTAL_CODE_MAX_CHARS => Err(PostalError::TooLong),
        None => Ok(()),
    }
}

/// Forces the postal table to compile now rather than on the first request.
pub fn warm_up() {
    LazyLock::force(&POSTAL);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's number is this table's, so the two cannot drift apart.
    #[test]
    fn readme_counts_the_postal_formats() {
        let n = postal_countries().count();
        let readme = include_str!("../../README.md");
        assert!(readme.contains(&format!("checked for {n} countries")), "README.md should say {n} countries");
    }

    #[test]
    fn alpha2_via_celes() {
        assert_eq!(iso_alpha2("nl"), Some("NL"));
        assert_eq!(iso_alpha2("Gb"), Some("GB"));
        assert_eq!(iso_alpha2("US"), Some("US"));
        for bad in ["UK", "XX", "NLD", "N", "", "1A", "Netherlands", "ÑL"] {
            assert_eq!(iso_alpha2(bad), None, "{bad}");
        }
    }

    #[test]
    fn table_is_well_formed() {
        warm_up();
        let mut seen = std::collections::HashSet::new();
        for c in postal_countries() {
            assert!(seen.insert(c), "duplicate {c}");
            assert_eq!(iso_alpha2(c), Some(c), "{c} is not ISO alpha-2");
        }
        for eu_eea in [
            "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
            "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
        ] {
            assert!(seen.contains(eu_eea), "{eu_eea} missing");
        }
        assert!(seen.len() >= 40);
    }

    #[test]
    fn postal_codes_accepted() {
        for (c, code) in [
            ("NL", "1011 DL"),
            ("NL", "1011DL"),
            ("NL", "1011 dl"),
            ("NL", "1011   DL"),
            ("GB", "SW1A 1AA"),
            ("GB", "sw1a1aa"),
            ("GB", "M1 1AE"),
            ("GB", "EC1A 1BB"),
            ("US", "10001"),
            ("US", "10001-1234"),
            ("DE", "10115"),
            ("FR", "75008"),
            ("CA", "K1A 0B1"),
            ("CA", "k1a0b1"),
            ("JP", "100-0001"),
            ("BR", "01310-100"),
            ("PL", "00-950"),
            ("PT", "1000-001"),
            ("IE", "D02 X285"),
            ("IE", "D6W 1234"),
            ("AR", "C1425EID"),
            ("AR", "1425"),
            ("CZ", "110 00"),
            ("SE", "11455"),
            ("ES", "28013"),
            ("LV", "LV-1050"),
            ("MT", "VLT 1117"),
            ("ZZ", "anything at all"),
            ("AE", "00000"),
        ] {
            assert_eq!(check_postal_code(c, code), Ok(()), "{c} {code}");
        }
    }

    #[test]
    fn postal_codes_rejected() {
        for (c, code) in [
            ("NL", "0123 AB"),
            ("NL", "1011"),
            ("NL", "1011 D"),
            ("GB", "SW1A"),
            ("GB", "12345"),
            ("US", "1234"),
            ("US", "123456"),
            ("DE", "1011"),
            ("CA", "D1A 0B1"),
            ("ES", "53001"),
            ("JP", "1000001x"),
            ("FR", "75 008 0"),
        ] {
            assert_eq!(check_postal_code(c, code), Err(PostalError::Format), "{c} {code}");
        }
        assert_eq!(check_postal_code("AE", &"1".repeat(21)), Err(PostalError::TooLong));
    }
}
