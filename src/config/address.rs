//! Listen addresses: `127.0.0.1:50051`, `[::1]:50051`, or a host name and port
//! (`localhost:50051`, `keyward.internal:50051`), resolved once at start.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

use serde::{Deserialize, Deserializer};

/// Turns `host:port` into the address to bind. `localhost` is the IPv4 loopback without asking a
/// resolver (RFC 6761 §6.3: it always names the loopback, and `127.0.0.1` is the address the
/// default passkey origin and the sign-in page expect); any other name is resolved, preferring
/// an IPv4 address when it has both.
pub fn resolve_listen(raw: &str) -> Result<SocketAddr, String> {
    let raw = raw.trim();
    if let Ok(addr) = raw.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let expected = || format!("`{raw}` is not host:port (e.g. 127.0.0.1:50051, [::1]:50051 or localhost:50051)");
    let (host, port) = raw.rsplit_once(':').ok_or_else(expected)?;
    let port: u16 = port.parse().map_err(|_| expected())?;
    if host.is_empty() || host.contains(['[', ']', '/', ' ']) {
        return Err(expected());
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    let resolved: Vec<SocketAddr> =
        (host, port).to_socket_addrs().map_err(|err| format!("cannot resolve `{host}`: {err}"))?.collect();
    resolved
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| resolved.first())
        .copied()
        .ok_or_else(|| format!("`{host}` resolves to no address"))
}

/// Serde: a listen address as `resolve_listen` reads it.
pub(super) fn listen_address<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let raw = String::deserialize(deserializer)?;
    resolve_listen(&raw).map_err(serde::de::Error::custom)
}

/// Serde: an optional listen address (unset, or as `resolve_listen` reads it).
pub(super) fn optional_listen_address<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .filter(|raw| !raw.trim().is_empty())
        .map(|raw| resolve_listen(&raw).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_host_names() {
        assert_eq!(resolve_listen("127.0.0.1:50051").unwrap(), "127.0.0.1:50051".parse().unwrap());
        assert_eq!(resolve_listen("[::1]:7").unwrap(), "[::1]:7".parse().unwrap());
        assert_eq!(resolve_listen("localhost:8080").unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(resolve_listen("LocalHost:0").unwrap(), "127.0.0.1:0".parse().unwrap());
        for bad in ["localhost", "localhost:http", ":50051", "127.0.0.1:99999", "a b:1", ""] {
            assert!(resolve_listen(bad).is_err(), "{bad}");
        }
    }
}
