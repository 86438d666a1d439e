//! Which URLs a webhook may target, so that a subscriber cannot make the service call hosts on its
//! own network (server-side request forgery).
//!
//! The rule is checked twice: when subscribing (the host is resolved and every address must be
//! public), and on every delivery through [`GuardedResolver`], the HTTP client's DNS resolver,
//! which drops non-public addresses. The second check is what counts: a name that resolved to a
//! public address at subscribe time may resolve to an internal one later (DNS rebinding). URLs
//! with a literal IP do not go through the resolver and are checked by [`literal_ip_allowed`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Longest accepted target URL.
pub const MAX_URL_LEN: usize = 2048;

/// Why a target was refused; `code` is the field error's machine code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub detail: String,
}

fn refused(code: &'static str, detail: impl Into<String>) -> Refused {
    Refused { code, detail: detail.into() }
}

/// Parses a target: an absolute `http` or `https` URL with a host and no credentials.
pub fn parse_target(raw: &str) -> Result<Url, Refused> {
    if raw.len() > MAX_URL_LEN {
        return Err(refused("string_too_long", format!("at most {MAX_URL_LEN} characters")));
    }
    let url = Url::parse(raw).map_err(|e| refused("url_invalid", format!("not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused("url_scheme_unsupported", "only http and https URLs are accepted"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("url_credentials", "the URL must not carry a user name or password"));
    }
    if url.host().is_none() {
        return Err(refused("url_invalid", "the URL has no host"));
    }
    Ok(url)
}

/// Resolves the target's host and refuses it when any address is not public (unless `allow_private`).
pub async fn check_target(url: &Url, allow_private: bool) -> Result<(), Refused> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(Host::Domain(name)) => match tokio::net::lookup_host((name, port)).await {
            Ok(found) => found.map(|a| a.ip()).collect(),
            Err(e) => return Err(refused("target_unresolvable", format!("cannot resolve {name}: {e}"))),
        },
        None => return Err(refused("url_invalid", "the URL has no host")),
    };
    if addrs.is_empty() {
        return Err(refused("target_unresolvable", "the host has no address"));
    }
    if !allow_private {
        if let Some(ip) = addrs.iter().find(|ip| !is_public(**ip)) {
            return Err(refused(
                "target_not_allowed",
                format!("the target resolves to {ip}, a loopback, private or otherwise internal address"),
            ));
        }
    }
    Ok(())
}

/// Whether a URL whose host is a literal IP may be called (names are checked by the resolver).
pub fn literal_ip_allowed(url: &Url, allow_private: bool) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => allow_private || is_public(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => allow_private || is_public(IpAddr::V6(ip)),
        _ => true,
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, unspecified,
/// multicast, broadcast, shared (CGNAT), documentation, benchmarking or reserved, including IPv6
/// forms that embed such an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), RFC 6598
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, RFC 2544
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) carry an IPv4 address.
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return is_public_v4(embedded);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(embedded);
    }
    // 6to4 (2002::/16) embeds one in bits 16..48.
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return is_public_v4(v4);
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard-only
}

/// The HTTP client's DNS resolver: the system's answer without the addresses deliveries may not
/// reach, so a name that now points inside is refused at connect time.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> =
                found.into_iter().filter(|a| allow_private || is_public(a.ip())).collect();
            if kept.is_empty() {
                return Err(format!("{host} resolves to no address webhooks may reach").into());
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn targets_must_be_plain_http_urls() {
        assert!(parse_target("https://hooks.example.com/x").is_ok());
        assert_eq!(parse_target("ftp://example.com/").unwrap_err().code, "url_scheme_unsupported");
        assert_eq!(parse_target("https://u:p@example.com/").unwrap_err().code, "url_credentials");
        assert_eq!(parse_target("not a url").unwrap_err().code, "url_invalid");
        let url = parse_target("http://127.0.0.1:9/").unwrap();
        assert!(!literal_ip_allowed(&url, false));
        assert!(literal_ip_allowed(&url, true));
    }

    #[tokio::test]
    async fn loopback_targets_are_refused_unless_allowed() {
        let url = parse_target("http://localhost:9/hook").unwrap();
        assert_eq!(check_target(&url, false).await.unwrap_err().code, "target_not_allowed");
        assert!(check_target(&url, true).await.is_ok());
        let url = parse_target("http://[::ffff:7f00:1]/").unwrap();
        assert_eq!(check_target(&url, false).await.unwrap_err().code, "target_not_allowed");
    }
}
