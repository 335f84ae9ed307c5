//! Downloads from URLs that someone else chose (a video URL from the video API)
//! must not reach the bot's own host or network: a URL pointing at
//! `127.0.0.1` or `169.254.169.254` would otherwise relay internal data into
//! a chat.
//!
//! The rule: an address must be globally routable, unless the URL has the
//! same origin (scheme, host, port) as one explicitly trusted base URL (the
//! video API, which may well live on a private network). Domain names are
//! checked after resolution, inside the HTTP client's own resolver, so the
//! address checked is the address connected to (no DNS-rebinding race).
//! Redirects are followed by hand, each hop checked by the same rule.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
    redirect,
};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("not an http(s) URL")]
    Scheme,
    #[error("address {0} is not public")]
    NotPublic(IpAddr),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect without a usable Location")]
    BadRedirect,
    /// reqwest's error without its URL (video URLs are logged at debug only).
    #[error("request failed: {0}")]
    Http(reqwest::Error),
}

impl From<reqwest::Error> for GuardError {
    fn from(error: reqwest::Error) -> Self {
        GuardError::Http(error.without_url())
    }
}

/// An HTTP client for untrusted URLs (see the module doc).
#[derive(Clone)]
pub struct GuardedClient {
    /// Resolves names to public addresses only.
    public: reqwest::Client,
    /// For the trusted origin: any address.
    trusted: reqwest::Client,
    trusted_origin: Option<url::Origin>,
}

impl GuardedClient {
    /// `trusted`: the one base URL whose origin may be on a private network.
    pub fn new(trusted: Option<&Url>) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .connect_timeout(CONNECT_TIMEOUT)
                // A proxy would connect in our place, to addresses we never see.
                .no_proxy()
        };
        GuardedClient {
            public: builder().dns_resolver(Arc::new(PublicOnly)).build().expect("reqwest client"),
            trusted: builder().build().expect("reqwest client"),
            trusted_origin: trusted.map(Url::origin),
        }
    }

    /// GETs `url`, following up to `MAX_REDIRECTS` redirects, each checked.
    /// Returns the final response, whatever its status.
    pub async fn get(&self, url: &Url, timeout: Duration) -> Result<reqwest::Response, GuardError> {
        let mut url = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let client = self.client_for(&url)?;
            let response = client.get(url.clone()).timeout(timeout).send().await?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or(GuardError::BadRedirect)?;
            url = url.join(location).map_err(|_| GuardError::BadRedirect)?;
        }
        Err(GuardError::TooManyRedirects)
    }

    /// The client allowed to fetch `url`, or why none is. IP literals are
    /// checked here (no resolver sees them); names by the resolver.
    fn client_for(&self, url: &Url) -> Result<&reqwest::Client, GuardError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GuardError::Scheme);
        }
        if self.trusted_origin.as_ref().is_some_and(|origin| *origin == url.origin()) {
            return Ok(&self.trusted);
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => Err(GuardError::NotPublic(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => Err(GuardError::NotPublic(IpAddr::V6(ip))),
            Some(_) => Ok(&self.public),
            None => Err(GuardError::Scheme),
        }
    }
}

/// The system resolver, keeping only public addresses; none left is an error.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved.iter().copied().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let first = resolved.first().map(|a| a.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                return Err(Box::new(GuardError::NotPublic(first)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is a globally routable unicast address. Everything special
/// purpose (IANA registries for both versions) is refused, including IPv4
/// embedded in IPv6 (mapped, compatible, NAT64, 6to4) when the embedded
/// address is not public itself.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", 0.0.0.0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded_v4 = |high: u16, low: u16| Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match segments {
        // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64 64:ff9b::/96 reaches the embedded IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public_v4(embedded_v4(high, low)),
        // Local-use NAT64 64:ff9b:1::/48.
        [0x64, 0xff9b, 1, ..] => false,
        // Discard-only 100::/64.
        [0x100, 0, 0, 0, ..] => false,
        // 6to4 2002::/16 reaches the embedded IPv4 address.
        [0x2002, high, low, ..] => is_public_v4(embedded_v4(high, low)),
        // IETF protocol assignments 2001::/23 (Teredo, ORCHID, …) and documentation 2001:db8::/32.
        [0x2001, second, ..] if second < 0x200 || second == 0xdb8 => false,
        // Documentation 3fff::/20.
        [0x3fff, second, ..] if second < 0x1000 => false,
        // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8.
        [first, ..]
            if first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80
                || first & 0xffc0 == 0xfec0
                || first & 0xff00 == 0xff00 =>
        {
            false
        }
        // Only 2000::/3 is allocated for global unicast.
        [first, ..] => first & 0xe000 == 0x2000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_non_public_address() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "4000::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} is not public");
        }
    }

    #[test]
    fn accepts_public_addresses() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn only_the_trusted_origin_may_be_private() {
        let trusted: Url = "http://127.0.0.1:8000/v1/".parse().unwrap();
        let client = GuardedClient::new(Some(&trusted));
        let allowed = |url: &str| client.client_for(&url.parse().unwrap()).is_ok();
        assert!(allowed("http://127.0.0.1:8000/videos/x.mp4"));
        assert!(!allowed("http://127.0.0.1:8001/x.mp4"), "other port");
        assert!(!allowed("https://127.0.0.1:8000/x.mp4"), "other scheme");
        assert!(!allowed("http://[::1]:8000/x.mp4"));
        assert!(!allowed("http://169.254.169.254/latest/meta-data/"));
        assert!(!allowed("http://10.0.0.1/x.mp4"));
        assert!(!allowed("http://[::ffff:7f00:1]/x.mp4"));
        assert!(!allowed("ftp://example.com/x.mp4"));
        assert!(allowed("https://cdn.example.com/x.mp4"), "names are checked when resolved");
        assert!(allowed("http://8.8.8.8/x.mp4"));
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let client = GuardedClient::new(None);
        // "localhost" resolves from /etc/hosts, without network.
        let error = client.get(&"http://localhost:9/x.mp4".parse().unwrap(), Duration::from_secs(5)).await.unwrap_err();
        let text = format!("{error:?}");
        assert!(text.contains("NotPublic"), "{text}");
    }
}
