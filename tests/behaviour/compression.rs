//! Compression (gzip, br) of JSON answers above a small size and of the docs and spec, with
//! validators intact; `Cache-Control` and ETags on the docs assets and `/openapi.yaml`.

use std::io::Read;

use axum::body::Body;
use axum::http::{header, Method, Request};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::common::TestApp;
use crate::crm::create;
use crate::store_tests;

struct Raw {
    status: u16,
    headers: axum::http::HeaderMap,
    bytes: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as sent before compression.
    fn decoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.header("content-encoding") {
            Some("gzip") => {
                flate2::read::GzDecoder::new(&self.bytes[..]).read_to_end(&mut out).unwrap();
            }
            Some("br") => {
                brotli_decompressor::Decompressor::new(&self.bytes[..], 4096).read_to_end(&mut out).unwrap();
            }
            None => out.clone_from(&self.bytes),
            Some(other) => panic!("unexpected content-encoding {other}"),
        }
        out
    }
}

async fn raw(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut req = Request::builder().method(Method::GET).uri(path);
    req = req.header(header::AUTHORIZATION, format!("Bearer {}", app.admin));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Raw { status, headers, bytes }
}

async fn json_pages_are_compressed_with_their_validators(app: TestApp) {
    for i in 0..5 {
        create(
            &app,
            json!({"firstName": format!("Guest {i}"), "lastName": "Jansen",
            "emailAddresses": [{"emailAddress": format!("guest{i}@hotel.example")}]}),
        )
        .await;
    }
    let plain = raw(&app, "/api/v3/contacts", &[]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.bytes.len() > property_contacts::compression::MIN_SIZE as usize);
    for encoding in ["gzip", "br"] {
        let r = raw(&app, "/api/v3/contacts", &[("accept-encoding", encoding)]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(encoding));
        assert!(r.header("vary").unwrap_or_default().to_ascii_lowercase().contains("accept-encoding"));
        assert!(r.bytes.len() < plain.bytes.len(), "{encoding}: {} >= {}", r.bytes.len(), plain.bytes.len());
        assert_eq!(r.decoded(), plain.bytes);
        assert_eq!(r.header("etag"), plain.header("etag"));
        // The entity tag still revalidates: 304, nothing to compress.
        let etag = r.header("etag").unwrap();
        let not_modified =
            raw(&app, "/api/v3/contacts", &[("accept-encoding", encoding), ("if-none-match", etag)]).await;
        assert_eq!(not_modified.status, 304);
        assert_eq!(not_modified.header("content-encoding"), None);
        assert!(not_modified.bytes.is_empty());
        assert_eq!(not_modified.header("etag"), Some(etag));
    }
    // A small answer is sent as is.
    let small = raw(&app, "/api/v3/contacts/1", &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(small.status, 200);
    assert!(small.bytes.len() < property_contacts::compression::MIN_SIZE as usize);
    assert_eq!(small.header("content-encoding"), None);
}

async fn docs_and_spec_are_compressed_and_cached(app: TestApp) {
    let spec = raw(&app, "/openapi.yaml", &[]).await;
    assert_eq!(spec.status, 200);
    assert_eq!(spec.bytes, property_contacts::api::ops::OPENAPI_YAML.as_bytes());
    assert_eq!(spec.header("cache-control"), Some("no-cache"));
    let etag = spec.header("etag").expect("spec etag").to_owned();
    let gz = raw(&app, "/openapi.yaml", &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.decoded(), spec.bytes);
    assert_eq!(gz.header("etag"), Some(etag.as_str()));
    let again = raw(&app, "/openapi.yaml", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());

    let page = raw(&app, "/docs", &[]).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.bytes.clone()).unwrap();
    assert!(html.contains("<title>property-contacts API reference</title>"), "{html}");
    assert_eq!(page.header("cache-control"), Some("no-cache"));

    let script = raw(&app, "/docs/swagger-ui-bundle.js", &[]).await;
    assert_eq!(script.status, 200);
    assert!(script.header("cache-control").unwrap().contains("max-age="));
    let etag = script.header("etag").expect("asset etag").to_owned();
    let br = raw(&app, "/docs/swagger-ui-bundle.js", &[("accept-encoding", "br")]).await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert!(br.bytes.len() * 3 < script.bytes.len(), "{} vs {}", br.bytes.len(), script.bytes.len());
    assert_eq!(br.decoded(), script.bytes);
    let cached =
        raw(&app, "/docs/swagger-ui-bundle.js", &[("if-none-match", &etag), ("accept-encoding", "br")]).await;
    assert_eq!(cached.status, 304);
    assert!(cached.bytes.is_empty());
}

store_tests!(json_pages_are_compressed_with_their_validators, docs_and_spec_are_compressed_and_cached);
