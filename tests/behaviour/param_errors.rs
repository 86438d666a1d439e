//! Bad path parameters and query values: a 400 that names the parameter and says what it takes,
//! in words, never a Rust type (`Cannot parse 'abc' to a 'i64'`).

use axum::http::Method;

use crate::common::TestApp;
use crate::store_tests;

/// Type names serde and axum would leak.
const RUST_WORDS: [&str; 8] =
    ["i64", "u32", "u64", "usize", "bool", "Cannot parse", "invalid digit", "DecimalId"];

async fn messages_name_the_parameter_and_what_it_takes(app: TestApp) {
    let cases = [
        ("/api/v3/contacts/abc", "id", "path parameter `id` must be"),
        ("PUT /api/v3/contacts/1/telephones/x/primary", "phoneId", "path parameter `phoneId` must be"),
        ("DELETE /api/v3/contacts/01/addresses/1", "id", "path parameter `id` must be"),
        ("/api/v1/properties/NT7/contacts/revisions/1.5", "revision", "path parameter `revision` must be"),
        ("/api/v3/contacts/1/revisions?limit=abc", "limit", "query parameter `limit` must be a whole number"),
        ("/api/v3/contacts/1/notes?after=-x", "after", "query parameter `after` must be a whole number"),
        ("/api/v1/changes?limit=-1", "limit", "query parameter `limit` must be a whole number, 0 or more"),
        (
            "/api/v1/properties?limit=99999999999",
            "limit",
            "query parameter `limit` must be a whole number within range",
        ),
        (
            "/api/v3/contacts/1?includeRevisions=yes",
            "includeRevisions",
            "query parameter `includeRevisions` must be true or false",
        ),
    ];
    for (uri, param, start) in cases {
        let (method, uri) = match uri.split_once(' ') {
            Some((m, u)) => (Method::from_bytes(m.as_bytes()).unwrap(), u),
            None => (Method::GET, uri),
        };
        let r = app.call(method, uri).auth(&app.admin).send().await;
        r.assert_problem(400);
        let errors = r.problem_errors();
        assert_eq!(errors.len(), 1, "{uri}: {}", r.body);
        assert_eq!(errors[0].0, param, "{uri}: {}", r.body);
        let detail = r.body["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.starts_with(start), "{uri}: {detail}");
        for word in RUST_WORDS {
            assert!(!r.body.to_string().contains(word), "{uri} leaks `{word}`: {}", r.body);
        }
    }
}

store_tests!(messages_name_the_parameter_and_what_it_takes);
