//! Signatures as the Standard Webhooks specification defines them: `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

use base64::Engine;
use rand::RngCore;

/// Prefix of every signing secret, as the specification writes them.
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes of a secret: 256 bits, the size of the HMAC-SHA256 key.
const SECRET_BYTES: usize = 32;

/// A new signing secret, `whsec_` + standard base64 of 32 random bytes.
pub fn generate_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// The three headers of one signed delivery.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
}

/// Signs `body` for message `id` at `timestamp` (Unix seconds) with `secret`. The id is the
/// event's, the same on every retry, so that receivers can recognise a re-send.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<SignedHeaders, String> {
    let webhook = standardwebhooks::Webhook::new(secret).map_err(|e| format!("bad signing secret: {e}"))?;
    let signature = webhook.sign(id, timestamp, body).map_err(|e| format!("cannot sign: {e}"))?;
    Ok(SignedHeaders { id: id.to_owned(), timestamp, signature })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_usable() {
        let a = generate_secret();
        assert!(a.starts_with(SECRET_PREFIX));
        assert_ne!(a, generate_secret());
        let body = br#"{"id":"1-2"}"#;
        let now = chrono::Utc::now().timestamp();
        let signed = sign(&a, "1-2", now, body).unwrap();
        assert!(signed.signature.starts_with("v1,"));
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "1-2".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        headers.insert("webhook-signature", signed.signature.parse().unwrap());
        let verifier = standardwebhooks::Webhook::new(&a).unwrap();
        verifier.verify(body, &headers).unwrap();
        assert!(verifier.verify(br#"{"id":"1-3"}"#, &headers).is_err(), "another body fails");
    }

    #[test]
    fn signs_like_the_specification() {
        // The specification's reference vector.
        let signed = sign(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        )
        .unwrap();
        assert_eq!(signed.signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }
}
