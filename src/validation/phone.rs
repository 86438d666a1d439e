//! Phone numbers: Booking's `^\+[0-9]+$` pattern, then libphonenumber metadata (`phonenumber`).

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use phonenumber::metadata::{Database, Descriptor, DATABASE};
use phonenumber::{Metadata, Mode};
use regex::{Regex, RegexBuilder};

/// E.164 allows at most 15 digits after the `+`.
pub const E164_MAX_DIGITS: usize = 15;

/// Longest phone extension, in digits.
pub const EXTENSION_MAX_DIGITS: usize = 10;

static PATTERN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\+[0-9]+$").expect("static phone pattern"));

/// Anchored copies of the metadata patterns, keyed by the pattern text.
///
/// phonenumber 0.3 accepts a number when a type pattern matches only a *prefix* of it
/// (whisperfish/rust-phonenumber#31: `+97233142764978` passes), so validity is re-checked
/// against whole-string matches. The key space is bounded by the metadata, so the cache is too.
static ANCHORED: LazyLock<RwLock<HashMap<String, Regex>>> = LazyLock::new(|| RwLock::new(HashMap::new()));

/// Why a phone number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    /// Not `+` followed by digits.
    Pattern,
    /// Not a valid number of the requested country.
    InvalidForCountry,
    /// Not a valid international number.
    Invalid,
}

/// Loads phonenumber's metadata database (and the static pattern) so the first request does
/// not pay for it; the service should call this once at start-up.
pub fn warm_up() {
    LazyLock::force(&PATTERN);
    let _ = check_phone("+31243611111", Some("NL"));
}

/// True when `number` is `+` followed by one or more ASCII digits.
pub fn matches_pattern(number: &str) -> bool {
    PATTERN.is_match(number)
}

/// A phone extension: 1 to [`EXTENSION_MAX_DIGITS`] ASCII digits (contact sets, CRM telephones and
/// customers' work phones alike).
pub fn valid_extension(ext: &str) -> bool {
    (1..=EXTENSION_MAX_DIGITS).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_digit())
}

/// Checks `number` as Booking does.
///
/// With `country` (a canonical ISO alpha-2 code) the number must be valid and belong to that
/// country; without it, or when libphonenumber has no metadata for the country, it must be a
/// valid number of any country. The number must also already be in E.164 form: a trunk
/// prefix after the country code (`+4402071838750`) is refused rather than silently fixed.
pub fn check_phone(number: &str, country: Option<&str>) -> Result<(), PhoneError> {
    if !matches_pattern(number) {
        return Err(PhoneError::Pattern);
    }
    let country = country.filter(|c| DATABASE.by_id(*c).is_some());
    let failure = if country.is_some() { PhoneError::InvalidForCountry } else { PhoneError::Invalid };
    // Longer inputs cannot be E.164 and are not worth handing to the parser.
    if number.len() - 1 > E164_MAX_DIGITS {
        return Err(failure);
    }
    let parsed = phonenumber::parse(None, number).map_err(|_| failure)?;
    if !phonenumber::is_valid(&parsed) || parsed.format().mode(Mode::E164).to_string() != number {
        return Err(failure);
    }
    let national = parsed.national().to_string();
    let meta = region_of(parsed.code().value(), &national)
        .filter(|meta| strictly_valid(meta, &national))
        .ok_or(failure)?;
    match country {
        Some(c) if meta.id() != c => Err(PhoneError::InvalidForCountry),
        _ => Ok(()),
    }
}

/// The region a number belongs to, chosen as libphonenumber's `getRegionCodeForNumber` does.
///
/// `PhoneNumber::country().id()` cannot be used: phonenumber 0.3 drops the national number's
/// leading zeros there, so Italian numbers (`+39 06...`) get no region at all.
fn region_of(code: u16, national: &str) -> Option<&'static Metadata> {
    let db: &'static Database = &DATABASE;
    let regions = db.region(&code)?;
    if let [only] = regions.as_slice() {
        return if *only == "001" { db.by_code(&code)?.into_iter().next() } else { db.by_id(*only) };
    }
    regions.iter().filter_map(|r| db.by_id(*r)).find(|meta| match meta.leading_digits() {
        Some(re) => re.find(national).is_some_and(|m| m.start() == 0),
        None => matches_some_type(meta, national),
    })
}

fn strictly_valid(meta: &Metadata, national: &str) -> bool {
    full_match(meta.descriptors().general(), national) && matches_some_type(meta, national)
}

fn matches_some_type(meta: &Metadata, national: &str) -> bool {
    let d = meta.descriptors();
    [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
    .into_iter()
    .flatten()
    .any(|desc| full_match(desc, national))
}

fn full_match(desc: &Descriptor, national: &str) -> bool {
    let lengths = desc.possible_length();
    if !lengths.is_empty() && !lengths.iter().any(|&l| usize::from(l) == national.len()) {
        return false;
    }
    let pattern = desc.national_number().as_str();
    if let Some(re) = ANCHORED.read().unwrap_or_else(|p| p.into_inner()).get(pattern) {
        return re.is_match(national);
    }
    // Metadata patterns are written in extended syntax, hence ignore_whitespace.
    let Ok(re) = RegexBuilder::new(&format!("^(?:{pattern})$")).ignore_whitespace(true).build() else {
        return false;
    };
    let matched = re.is_match(national);
    ANCHORED.write().unwrap_or_else(|p| p.into_inner()).insert(pattern.to_owned(), re);
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_loads_metadata() {
        warm_up();
        assert_eq!(check_phone("+31243611111", Some("NL")), Ok(()));
    }

    #[test]
    fn pattern() {
        assert!(matches_pattern("+31243611111"));
        for bad in ["31243611111", "+31 243611111", "+", "+31-24", "++31", " +3124", "+３１"] {
            assert!(!matches_pattern(bad), "{bad}");
            assert_eq!(check_phone(bad, None), Err(PhoneError::Pattern), "{bad}");
        }
    }

    #[test]
    fn extensions() {
        for ok in ["1", "42", "1234567890"] {
            assert!(valid_extension(ok), "{ok}");
        }
        for bad in ["", "12345678901", "12a", " 1", "+1", "１"] {
            assert!(!valid_extension(bad), "{bad}");
        }
    }

    #[test]
    fn right_country() {
        for (country, number) in [
            ("NL", "+31243611111"),
            ("NL", "+31612345678"),
            ("GB", "+442071838750"),
            ("GB", "+447400123456"),
            ("US", "+12125551234"),
            ("DE", "+4930123456"),
            ("DE", "+4915123456789"),
            ("IT", "+390612345678"),
        ] {
            assert_eq!(check_phone(number, Some(country)), Ok(()), "{country} {number}");
            assert_eq!(check_phone(number, None), Ok(()), "{number}");
        }
    }

    #[test]
    fn wrong_country() {
        for (country, number) in [
            ("NL", "+442071838750"),
            ("GB", "+31243611111"),
            ("US", "+14165550123"), // Toronto shares +1 but is CA
            ("DE", "+12125551234"),
            ("NL", "+4930123456"),
        ] {
            assert_eq!(
                check_phone(number, Some(country)),
                Err(PhoneError::InvalidForCountry),
                "{country} {number}"
            );
        }
    }

    #[test]
    fn invalid_numbers() {
        for number in [
            "+97233142764978", // over-long, accepted by phonenumber 0.3 itself (#31)
            "+3124361111",     // NL one digit short
            "+312436111111",   // NL one digit long
            "+4402071838750",  // trunk prefix kept
            "+4930123456789012345",
            "+999123456",
            "+1",
        ] {
            assert_eq!(check_phone(number, None), Err(PhoneError::Invalid), "{number}");
        }
        assert_eq!(check_phone("+97233142764978", Some("IL")), Err(PhoneError::InvalidForCountry));
        assert_eq!(check_phone("+3124361111", Some("NL")), Err(PhoneError::InvalidForCountry));
        // A valid Israeli number still passes, so the over-long check is not too strict.
        assert_eq!(check_phone("+97231234567", Some("IL")), Ok(()));
    }

    #[test]
    fn country_without_metadata_falls_back_to_international() {
        // Antarctica has no libphonenumber region; any valid number is accepted.
        assert_eq!(check_phone("+31243611111", Some("AQ")), Ok(()));
        assert_eq!(check_phone("+3124361111", Some("AQ")), Err(PhoneError::Invalid));
    }
}
