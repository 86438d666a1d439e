//! Response compression: gzip or br, as the client's `Accept-Encoding` prefers (tower-http).
//!
//! Only bodies of a known size of at least [`MIN_SIZE`] bytes are compressed: a short JSON answer
//! gains nothing, and an empty one (204, 304, HEAD) has nothing to compress, so its validators stay
//! as they are. Every compressible answer carries `Vary: Accept-Encoding`; entity tags are left
//! unchanged, as they name the resource's version, not the bytes on the wire.

use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Smallest body compressed, in bytes.
pub const MIN_SIZE: u16 = 1024;

/// The layer; a middle quality (4) keeps brotli cheap on the 1.4 MB docs script and large pages.
pub fn layer() -> CompressionLayer<impl Predicate> {
    let when = SizeAbove::new(MIN_SIZE)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE);
    CompressionLayer::new().gzip(true).br(true).quality(CompressionLevel::Precise(4)).compress_when(when)
}
