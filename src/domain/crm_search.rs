//! Prefix search over CRM contacts (`GET /api/v3/contacts?q=`): how a contact turns into search
//! terms and a query into the words that must each prefix one of them. Pure; the store keeps the
//! terms in `crm_contact_terms`, rewritten in the transaction of every write.
//!
//! Terms are folded (Unicode decomposition, combining marks dropped, lowercased), so `Jäger` and
//! `jager` meet. Names, company and e-mail addresses are split into their alphanumeric words
//! (`ada.lovelace@example.com` gives `ada`, `lovelace`, `example`, `com`). A telephone gives three
//! digit strings: of its E.164 form, of the number as typed, and of its national form (with the
//! trunk prefix), so `+3120`, `3120` and `020 12` all find `+31 20 123 4567`.

use std::collections::BTreeSet;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Most words a query may have; more are refused (each costs an index range scan).
pub const MAX_WORDS: usize = 8;
/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Longest term stored; longer words are cut (a prefix of them still matches).
const MAX_TERM_CHARS: usize = 64;

/// Lowercased, accent-folded text: `Jäger` -> `jager`, `ÉLODIE` -> `elodie`.
pub fn fold(s: &str) -> String {
    s.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
}

/// The folded alphanumeric words of `s`, each cut to the longest term stored.
fn words(s: &str) -> Vec<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(MAX_TERM_CHARS).collect())
        .collect()
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The digits of the national form of an E.164 number (`+31201234567` -> `0201234567`).
fn national_digits(e164: &str) -> Option<String> {
    let parsed = phonenumber::parse(None, e164).ok()?;
    Some(digits(&parsed.format().mode(phonenumber::Mode::National).to_string()))
}

/// Every search term of a contact (see [`super::crm::Contact::search_terms`]), without repeats:
/// the words of `texts` (names, company, e-mail addresses) and the digit strings of `phones`
/// (each its E.164 form and the number as typed).
pub fn terms<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    phones: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeSet<String> {
    let mut terms = BTreeSet::new();
    for text in texts {
        terms.extend(words(text));
    }
    for (e164, typed) in phones {
        terms.insert(digits(e164));
        terms.insert(digits(typed));
        if let Some(national) = national_digits(e164) {
            terms.insert(national);
        }
    }
    terms.retain(|t| !t.is_empty());
    terms
}

/// One word of a query: terms from `word` (inclusive) up to `upper` (exclusive) match it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchWord {
    pub word: String,
    /// The least string greater than every string starting with `word`; `None` when there is
    /// none (a word of only `char::MAX`).
    pub upper: Option<String>,
}

/// A parsed `q`: every word must prefix some term of the contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchQuery {
    pub words: Vec<SearchWord>,
}

/// Why a `q` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchProblem {
    /// Nothing searchable in it (only punctuation).
    Empty,
    TooLong,
    TooManyWords,
}

/// Whether a whitespace-separated piece of a query is (part of) a telephone number: digits with
/// the punctuation people type in numbers.
fn is_phone_piece(piece: &str) -> bool {
    piece.chars().any(|c| c.is_ascii_digit())
        && piece.chars().all(|c| c.is_ascii_digit() || "+-().".contains(c))
}

impl SearchQuery {
    /// Parses `q`. Pieces that look like parts of one telephone number (`020 12`, `+31 20`) are
    /// joined into one digit string; every other piece is split into words as terms are.
    pub fn parse(q: &str) -> Result<SearchQuery, SearchProblem> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchProblem::TooLong);
        }
        let mut found: Vec<String> = Vec::new();
        let mut phone = String::new();
        for piece in q.split_whitespace() {
            if is_phone_piece(piece) {
                phone.push_str(&digits(piece));
                continue;
            }
            if !phone.is_empty() {
                found.push(std::mem::take(&mut phone));
            }
            found.extend(words(piece));
        }
        if !phone.is_empty() {
            found.push(phone);
        }
        let mut words: Vec<SearchWord> = Vec::new();
        for w in found {
            if !words.iter().any(|x| x.word == w) {
                words.push(SearchWord { upper: prefix_upper(&w), word: w });
            }
        }
        match words.len() {
            0 => Err(SearchProblem::Empty),
            n if n > MAX_WORDS => Err(SearchProblem::TooManyWords),
            _ => Ok(SearchQuery { words }),
        }
    }
}

/// The least string above every string that starts with `prefix`, in code point (= UTF-8 byte)
/// order: the last character that can be raised is raised and what follows it dropped.
pub fn prefix_upper(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(q: &str) -> Vec<String> {
        SearchQuery::parse(q).unwrap().words.into_iter().map(|w| w.word).collect()
    }

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(fold("Jäger"), "jager");
        assert_eq!(fold("ÉLODIE Çelik"), "elodie celik");
        assert_eq!(fold("jager"), fold("JÄGER"));
    }

    #[test]
    fn query_words_split_like_terms_and_phone_pieces_join() {
        assert_eq!(words_of("Ann  Jäns"), ["ann", "jans"]);
        assert_eq!(words_of("020 12"), ["02012"]);
        assert_eq!(words_of("+31 20 ann"), ["3120", "ann"]);
        assert_eq!(words_of("ada@exa"), ["ada", "exa"]);
        assert_eq!(words_of("ann ANN"), ["ann"]);
        assert_eq!(SearchQuery::parse(" -- "), Err(SearchProblem::Empty));
        assert_eq!(SearchQuery::parse("a b c d e f g h i"), Err(SearchProblem::TooManyWords));
    }

    #[test]
    fn upper_bound_is_the_next_prefix() {
        assert_eq!(prefix_upper("jan").as_deref(), Some("jao"));
        assert_eq!(prefix_upper("az").as_deref(), Some("a{"));
        let upper = prefix_upper("j\u{d7ff}").unwrap();
        assert_eq!(upper, "j\u{e000}");
        assert_eq!(prefix_upper(&char::MAX.to_string()), None);
        let upper = prefix_upper("jan").unwrap();
        assert!("jansen" < upper.as_str() && "jao" >= upper.as_str());
    }
}
