//! The webhook client's resolver: it resolves a host name as usual and refuses it when any of
//! the addresses is one no webhook may reach (`domain::is_refused_webhook_address`: cloud
//! metadata, link-local, unspecified — judged after taking an IPv4 address out of its IPv6
//! spellings, NAT64, 6to4, compatible, mapped), so the addresses reqwest connects to are
//! exactly the ones checked (no second lookup an attacker's DNS could answer differently:
//! DNS-rebinding safe). IP-literal URLs never reach a resolver; `check_literal` covers them.
//! OWASP ASVS 5 V1.3.6 and the OWASP SSRF Prevention Cheat Sheet.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::is_refused_webhook_address;

/// The error a refused host name fails its connection with.
#[derive(Debug)]
pub(super) struct RefusedAddress(pub String);

impl fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} resolves to a metadata, link-local or unspecified address: refused", self.0)
    }
}

impl std::error::Error for RefusedAddress {}

/// The system resolver (`getaddrinfo` through tokio), filtered by `allowed`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = allowed(&host, resolved)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// `resolved`, unless one of them is a refused address: then the whole name is refused (a
/// name that answers with one is hostile, whatever else it answers).
pub(super) fn allowed(host: &str, resolved: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, RefusedAddress> {
    if resolved.iter().any(|addr| is_refused_webhook_address(addr.ip())) {
        return Err(RefusedAddress(host.to_owned()));
    }
    Ok(resolved)
}

/// A URL whose host is an IP literal: refused when it is a refused address.
pub(super) fn check_literal(url: &reqwest::Url) -> Result<(), RefusedAddress> {
    let ip: Option<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(v4.into()),
        Some(url::Host::Ipv6(v6)) => Some(v6.into()),
        _ => None,
    };
    match ip {
        Some(ip) if is_refused_webhook_address(ip) => Err(RefusedAddress(ip.to_string())),
        _ => Ok(()),
    }
}

/// Whether `error` (a reqwest error) came from the resolver's refusal.
pub(super) fn is_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if error.is::<RefusedAddress>() {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(ips: &[&str]) -> Vec<SocketAddr> {
        ips.iter().map(|ip| SocketAddr::new(ip.parse().unwrap(), 443)).collect()
    }

    #[test]
    fn a_name_that_resolves_to_a_metadata_address_is_refused_whatever_else_it_answers() {
        for hostile in [
            &["169.254.169.254"][..],
            &["93.184.216.34", "169.254.169.254"],
            &["fd00:ec2::254"],
            &["::ffff:169.254.169.254"],
            // Issue 21 item 12: what a hostile DNS answer could hide a refused address in.
            &["64:ff9b::a9fe:a9fe"],
            &["::a9fe:a9fe"],
            &["2002:a9fe:a9fe::"],
            &["0.0.0.0"],
            &["::"],
            &["192.0.0.192"],
            &["168.63.129.16"],
            &["2606:4700::1111", "64:ff9b::c000:c0"],
        ] {
            let refused = allowed("rebind.example", addrs(hostile)).unwrap_err();
            assert_eq!(
                refused.to_string(),
                "rebind.example resolves to a metadata, link-local or unspecified address: refused"
            );
        }
        assert_eq!(allowed("ok.example", addrs(&["127.0.0.1", "::1"])).unwrap(), addrs(&["127.0.0.1", "::1"]));
    }

    #[test]
    fn ip_literals_are_checked_before_any_connection() {
        for hostile in [
            "http://169.254.169.254/latest/meta-data/",
            "https://[fe80::1]/",
            "http://100.100.100.200/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[::a9fe:a9fe]/",
            "https://[2002:a9fe:a9fe::]/",
            "https://[::ffff:a9fe:a9fe]/",
            "http://0.0.0.0:8080/",
            "http://0/",
            "https://[::]/",
            "https://192.0.0.192/",
            "https://168.63.129.16/",
        ] {
            assert!(check_literal(&hostile.parse().unwrap()).is_err(), "{hostile}");
        }
        assert!(check_literal(&"http://127.0.0.1:8080/".parse().unwrap()).is_ok());
        assert!(check_literal(&"https://hooks.example.com/".parse().unwrap()).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_answers_allowed_names() {
        let resolved: Vec<SocketAddr> = GuardedResolver.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(!resolved.is_empty() && resolved.iter().all(|addr| addr.ip().is_loopback()), "{resolved:?}");
    }

    #[test]
    fn a_refusal_is_recognised_through_error_sources() {
        #[derive(Debug)]
        struct Wrapper(RefusedAddress);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("connect failed")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        assert!(is_refusal(&Wrapper(RefusedAddress("x".into()))));
        assert!(!is_refusal(&std::io::Error::other("nope")));
    }
}
