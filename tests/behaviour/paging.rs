//! Every route that answers a collection answers a bounded page, however much the store holds:
//! CRM revisions and notes (`after` + `limit`, `Link: rel="next"`), `includeRevisions` (the newest
//! 10), the contact list (`size` clamped to 500), the property list and the contact-set history
//! (`limit` clamped).

use axum::http::Method;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::store_tests;

store_tests!(crm_revisions_are_paged, crm_notes_are_paged, lists_clamp_their_page_size,);

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let r = app.call(Method::POST, path).auth(&app.admin).json(&body).send().await;
    r.assert_status(201);
    r.body
}

/// The `after` of a `Link: <...after=N...>; rel="next"` header, if any.
fn next_after(link: Option<&str>) -> Option<i64> {
    let link = link?;
    assert!(link.ends_with("rel=\"next\""), "{link}");
    let after = link.split("after=").nth(1)?.split('&').next()?;
    Some(after.parse().unwrap())
}

async fn crm_revisions_are_paged(app: TestApp) {
    let c = post(&app, "/api/v3/contacts", json!({"lastName": "Pager"})).await;
    let base = format!("/api/v3/contacts/{}", c["id"]);
    // 55 more writes: 56 versions in all, more than two largest pages.
    for i in 0..55 {
        let r = app.put(&base, json!({"lastName": format!("Pager {i}")})).send().await;
        r.assert_status(200);
    }
    // Default page: 10, oldest first, with a link to the next page.
    let r = app.get(&format!("{base}/revisions")).send().await;
    r.assert_status(200);
    let versions = |body: &Value| {
        body.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(versions(&r.body), (1..=10).collect::<Vec<_>>());
    assert_eq!(next_after(r.header("link")), Some(10));
    // Following the links visits every version once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let url = match after {
            None => format!("{base}/revisions?limit=7"),
            Some(a) => format!("{base}/revisions?limit=7&after={a}"),
        };
        let r = app.get(&url).send().await;
        r.assert_status(200);
        let page = versions(&r.body);
        assert!(page.len() <= 7);
        seen.extend(page);
        match next_after(r.header("link")) {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    assert_eq!(seen, (1..=56).collect::<Vec<_>>());
    // A limit above the maximum is clamped to 10, never obeyed.
    let r = app.get(&format!("{base}/revisions?limit=100000")).send().await;
    assert_eq!(versions(&r.body), (1..=10).collect::<Vec<_>>());
    assert_eq!(next_after(r.header("link")), Some(10));
    // `includeRevisions` adds the newest 10 only, streamed into the contact's object.
    let r = app.get(&format!("{base}?includeRevisions=true")).send().await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["lastName"], "Pager 54");
    assert_eq!(versions(&r.body["revisions"]), (47..=56).collect::<Vec<_>>());
}

async fn crm_notes_are_paged(app: TestApp) {
    let c = post(&app, "/api/v3/contacts", json!({"lastName": "Notes"})).await;
    let base = format!("/api/v3/contacts/{}", c["id"]);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            post(&app, &format!("{base}/notes"), json!({"content": format!("note {i}")})).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let r = app.get(&format!("{base}/notes?limit=2")).send().await;
    r.assert_status(200);
    let got: Vec<i64> = r.body.as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
    assert_eq!(got, ids[..2]);
    assert_eq!(next_after(r.header("link")), Some(ids[1]));
    let r = app.get(&format!("{base}/notes?limit=2&after={}", ids[3])).send().await;
    let got: Vec<i64> = r.body.as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
    assert_eq!(got, ids[4..]);
    assert!(r.header("link").is_none(), "the last page has no next link");
    // One note by id still works, paged or not.
    let r = app.get(&format!("{base}/notes?noteId={}", ids[2])).send().await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
}

async fn lists_clamp_their_page_size(app: TestApp) {
    for i in 0..3 {
        app.put(&format!("/api/v1/properties/pg{i}"), json!({})).send().await.assert_status(201);
        post(&app, "/api/v3/contacts", json!({"lastName": format!("L{i}")})).await;
    }
    let r = app.get("/api/v3/contacts?size=100000").send().await;
    r.assert_status(200);
    assert_eq!(r.body["page"]["size"], 500, "the contact list's size is clamped");
    let r = app.get("/api/v1/properties?limit=100000").send().await;
    r.assert_status(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);
    let r = app.get("/api/v1/properties?limit=2").send().await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "a page holds at most `limit`");
}
