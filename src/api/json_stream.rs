//! JSON answers written one item at a time. A history page at the documented maxima is 20 snapshots
//! of ~155 kB: built whole, the page's text (grown by doubling) sits beside the items, about three
//! times the page in memory per request. Streamed, each item is serialised when the connection
//! takes it and dropped, so a request holds at most the items not yet sent.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};

/// `[item, item, ...]` as an `application/json` answer, serialised item by item.
pub fn array<T: Serialize + Send + 'static>(items: Vec<T>) -> Response {
    wrapped(Bytes::from_static(b"["), items, Bytes::from_static(b"]"))
}

/// `value` with one more member, `name`, holding `items` as an array: `{...value's members...,
/// "name": [item, ...]}`. `value` must serialise to a JSON object (a struct or map).
pub fn object_with_array<V: Serialize, T: Serialize + Send + 'static>(
    value: &V,
    name: &str,
    items: Vec<T>,
) -> ApiResult<Response> {
    let mut head = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()))?;
    if head.last() != Some(&b'}') {
        return Err(ApiError::Internal("streamed JSON: the head is not an object".into()));
    }
    head.pop();
    if head.len() > 1 {
        head.push(b',');
    }
    // A member name is a JSON string; serde_json escapes it.
    head.extend_from_slice(&serde_json::to_vec(name).unwrap_or_default());
    head.extend_from_slice(b":[");
    Ok(wrapped(Bytes::from(head), items, Bytes::from_static(b"]}")))
}

fn wrapped<T: Serialize + Send + 'static>(head: Bytes, items: Vec<T>, tail: Bytes) -> Response {
    let body = stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| {
            let mut chunk = Vec::with_capacity(256);
            if i > 0 {
                chunk.push(b',');
            }
            // Cannot fail for the types streamed here (strings, numbers, stored JSON text); if it
            // did, the answer is cut off and the client sees a broken body, never a wrong one.
            serde_json::to_writer(&mut chunk, &item)?;
            Ok::<_, serde_json::Error>(Bytes::from(chunk))
        })
        .map(|chunk| chunk.inspect_err(|e| tracing::error!(error = %e, "streamed JSON item failed")));
    let chunks = stream::once(async { Ok(head) }).chain(body).chain(stream::once(async { Ok(tail) }));
    let mut resp = Body::from_stream(chunks).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(resp: Response) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn arrays_are_valid_json() {
        assert_eq!(text(array(Vec::<i32>::new())).await, "[]");
        assert_eq!(text(array(vec!["a\"b", "c"])).await, r#"["a\"b","c"]"#);
    }

    #[tokio::test]
    async fn the_array_joins_the_object() {
        #[derive(Serialize)]
        struct V {
            id: i64,
        }
        #[derive(Serialize)]
        struct Empty {}
        let resp = object_with_array(&V { id: 7 }, "revisions", vec![1, 2]).unwrap();
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(text(resp).await, r#"{"id":7,"revisions":[1,2]}"#);
        assert_eq!(text(object_with_array(&Empty {}, "r", vec![1]).unwrap()).await, r#"{"r":[1]}"#);
        assert!(object_with_array(&[1], "r", vec![1]).is_err(), "an array head is refused");
    }
}
