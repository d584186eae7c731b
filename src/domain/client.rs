//! Who is calling, as far as the network can tell: the client's IP address.

use std::{fmt, net::IpAddr};

/// The address a request came from: the TCP peer, or the client named by `X-Forwarded-For`
/// when the peer is a trusted proxy (resolved in `grpc`). Throttles key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(IpAddr);

impl ClientAddress {
    pub fn new(ip: IpAddr) -> Self {
        // An IPv4 client seen through a dual-stack socket is the same client.
        Self(ip.to_canonical())
    }

    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// The key throttles count under: the IPv4 address, or the /64 network of an IPv6 address
    /// (one subscriber usually holds a whole /64, so per-address budgets would be free to dodge).
    pub fn throttle_key(self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        }
    }
}

impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_per_slash_64_and_mapped_ipv4_is_ipv4() {
        let a = ClientAddress::new("2001:db8:1:2::1".parse().unwrap());
        let b = ClientAddress::new("2001:db8:1:2:ffff::9".parse().unwrap());
        assert_eq!(a.throttle_key(), b.throttle_key());
        assert_eq!(a.throttle_key(), "2001:db8:1:2::/64");
        let mapped = ClientAddress::new("::ffff:192.0.2.7".parse().unwrap());
        assert_eq!(mapped.throttle_key(), "192.0.2.7");
    }
}
