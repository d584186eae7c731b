//! Webhook event types: the names an operator subscribes an endpoint to (`[[webhooks]] events`),
//! and the `type` field of every delivered payload; a delivery as operators list it; and the
//! addresses no webhook may reach. Pure; no I/O.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use chrono::{DateTime, Utc};

/// One event on its way to one endpoint, as an operator sees it (never the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: String,
    pub endpoint: String,
    pub event_type: String,
    pub user_id: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    /// Set once it was given up.
    pub dead_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Whether a webhook may never go to `ip` (it would let whoever configures, resolves or
/// redirects an endpoint read instance credentials or reach the host itself: OWASP ASVS 5
/// V1.3.6 and the OWASP SSRF Prevention Cheat Sheet). Checked on the canonical address
/// (`canonical_ip`), so an IPv4 address hidden in an IPv6 spelling is judged as itself:
/// - link-local 169.254.0.0/16 (AWS, GCP, Azure, OpenStack: 169.254.169.254) and fe80::/10;
/// - the other metadata services: AWS's IPv6 fd00:ec2::254, Alibaba's 100.100.100.200,
///   Oracle Cloud's 192.0.0.192, Azure's WireServer 168.63.129.16;
/// - "this host" 0.0.0.0/8 and `::` (a connection to them reaches the local host on Linux).
///
/// Loopback stays allowed: `http://127.0.0.1` is how development and tests receive webhooks.
pub fn is_refused_webhook_address(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => is_refused_v4(v4),
        IpAddr::V6(v6) => {
            v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

fn is_refused_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local()
        || v4.octets()[0] == 0
        || [Ipv4Addr::new(100, 100, 100, 200), Ipv4Addr::new(192, 0, 0, 192), Ipv4Addr::new(168, 63, 129, 16)]
            .contains(&v4)
}

/// `ip` with an IPv4 address embedded in an IPv6 one taken out, so that every spelling of an
/// IPv4 destination is checked as that destination:
/// - IPv4-mapped `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2);
/// - IPv4-compatible `::a.b.c.d` (RFC 4291 §2.5.5.1, deprecated; not `::` or `::1`);
/// - NAT64's well-known prefix `64:ff9b::a.b.c.d` (RFC 6052: a NAT64 gateway connects to the
///   IPv4 address);
/// - 6to4 `2002:aabb:ccdd::/48` (RFC 3056: the relay reaches aa.bb.cc.dd);
/// - Teredo `2001:0::/32` (RFC 4380: the client address is the last 32 bits, inverted).
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(ip, IpAddr::V4),
    }
}

fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = v6.segments();
    let octets = v6.octets();
    let last = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    if let Some(mapped) = v6.to_ipv4_mapped() {
        return Some(mapped);
    }
    if segments[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback() {
        return Some(last);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(last);
    }
    if segments[0] == 0x2002 {
        return Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    if segments[..2] == [0x2001, 0] {
        return Some(Ipv4Addr::from(!u32::from(last)));
    }
    None
}

/// What happened, as a webhook receiver sees it (`"user.created"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WebhookEventType {
    UserCreated,
    UserUpdated,
    UserDeleted,
    UserDisabled,
    SessionCreated,
    SessionRevoked,
    PasskeyAdded,
    PasskeyRemoved,
    PasswordChanged,
    AccountLinked,
    AccountUnlinked,
    /// Opt-in: delivered only to an endpoint that lists it by name (it can be many per second
    /// under a credential-stuffing attack, and most receivers do not want it).
    SignInFailed,
}

impl WebhookEventType {
    pub const ALL: [Self; 12] = [
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDeleted,
        Self::UserDisabled,
        Self::SessionCreated,
        Self::SessionRevoked,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::PasswordChanged,
        Self::AccountLinked,
        Self::AccountUnlinked,
        Self::SignInFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::UserDisabled => "user.disabled",
            Self::SessionCreated => "session.created",
            Self::SessionRevoked => "session.revoked",
            Self::PasskeyAdded => "passkey.added",
            Self::PasskeyRemoved => "passkey.removed",
            Self::PasswordChanged => "password.changed",
            Self::AccountLinked => "account.linked",
            Self::AccountUnlinked => "account.unlinked",
            Self::SignInFailed => "signin.failed",
        }
    }

    /// The exact name, or `None` (names are case-sensitive, as receivers compare them).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == raw)
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_nothing_else_does() {
        for event in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(event.as_str()), Some(event));
        }
        assert_eq!(WebhookEventType::parse("User.Created"), None);
        assert_eq!(WebhookEventType::parse("user.*"), None);
    }

    /// Every address of issue 21 item 12 and of the earlier list, in every spelling.
    #[test]
    fn refused_addresses_are_recognised_in_every_spelling() {
        let table = [
            // Link-local and the metadata services, as IPv4.
            ("169.254.169.254", true),
            ("169.254.0.1", true),
            ("100.100.100.200", true),
            ("192.0.0.192", true),
            ("168.63.129.16", true),
            // "This host".
            ("0.0.0.0", true),
            ("0.1.2.3", true),
            ("::", true),
            // IPv6 link-local and AWS's IPv6 metadata address.
            ("fe80::1", true),
            ("febf::1", true),
            ("fd00:ec2::254", true),
            // 169.254.169.254 hidden in IPv6: mapped, compatible, NAT64, 6to4, Teredo.
            ("::ffff:169.254.169.254", true),
            ("::ffff:a9fe:a9fe", true),
            ("::a9fe:a9fe", true),
            ("::169.254.169.254", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("64:ff9b::169.254.169.254", true),
            ("2002:a9fe:a9fe::", true),
            ("2002:a9fe:a9fe:1::1", true),
            ("2001:0:4136:e378:8000:63bf:5601:5601", true),
            // The other metadata addresses and "this host", hidden the same ways.
            ("::ffff:0.0.0.0", true),
            ("64:ff9b::c000:c0", true),
            ("2002:a83f:8110::", true),
            ("::ffff:100.100.100.200", true),
            ("64:ff9b::6464:64c8", true),
            // Allowed: loopback (development), private and public addresses, their spellings.
            ("127.0.0.1", false),
            ("::1", false),
            ("::ffff:127.0.0.1", false),
            ("10.0.0.1", false),
            ("93.184.216.34", false),
            ("64:ff9b::5db8:d822", false),
            ("2002:5db8:d822::", false),
            ("2606:4700::1111", false),
            ("fd00:ec2::253", false),
            ("100.100.100.201", false),
            ("192.0.0.193", false),
            ("168.63.129.17", false),
            ("febf::1:0:0:1", true),
            ("fec0::1", false),
        ];
        for (address, refused) in table {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(is_refused_webhook_address(ip), refused, "{address}");
        }
    }

    #[test]
    fn embedded_ipv4_addresses_are_taken_out() {
        for (spelled, canonical) in [
            ("::ffff:1.2.3.4", "1.2.3.4"),
            ("::1.2.3.4", "1.2.3.4"),
            ("64:ff9b::1.2.3.4", "1.2.3.4"),
            ("2002:102:304::1", "1.2.3.4"),
            ("2001:0:4136:e378:8000:63bf:fefd:fcfb", "1.2.3.4"),
            ("::1", "::1"),
            ("::", "::"),
            ("2606:4700::1111", "2606:4700::1111"),
            ("1.2.3.4", "1.2.3.4"),
        ] {
            let ip: IpAddr = spelled.parse().unwrap();
            assert_eq!(canonical_ip(ip), canonical.parse::<IpAddr>().unwrap(), "{spelled}");
        }
    }
}
