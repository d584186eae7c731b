//! Which address a request comes from: the TCP peer, unless the peer is one of
//! `trusted_proxies`, in which case `X-Forwarded-For` is read from the right, skipping trusted
//! hops, and the first untrusted address is the client (what a proxy appended is trustworthy;
//! anything left of it is whatever the client claimed). The result goes into the request's
//! extensions as a `ClientAddress`, where `request_meta` finds it. Without trusted proxies the
//! header is ignored: anyone can send it.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    task::{Context, Poll},
};

use ipnet::IpNet;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};

use crate::domain::ClientAddress;

/// Resolves the client address of every request; see the module doc.
#[derive(Debug, Clone)]
pub struct ClientAddressLayer {
    trusted: Arc<[IpNet]>,
}

impl ClientAddressLayer {
    pub fn new(trusted_proxies: Vec<IpNet>) -> Self {
        Self { trusted: trusted_proxies.into() }
    }
}

impl<S> Layer<S> for ClientAddressLayer {
    type Service = ResolveClientAddress<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResolveClientAddress { inner, trusted: Arc::clone(&self.trusted) }
    }
}

#[derive(Debug, Clone)]
pub struct ResolveClientAddress<S> {
    inner: S,
    trusted: Arc<[IpNet]>,
}

impl<S, B> Service<http::Request<B>> for ResolveClientAddress<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let peer = request.extensions().get::<TcpConnectInfo>().and_then(TcpConnectInfo::remote_addr);
        if let Some(peer) = peer {
            let client = resolve(peer.ip(), request.headers(), &self.trusted);
            request.extensions_mut().insert(ClientAddress::new(client));
        }
        self.inner.call(request)
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client behind `peer`, per the module doc.
fn resolve(peer: IpAddr, headers: &http::HeaderMap, trusted: &[IpNet]) -> IpAddr {
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip())) else {
            // Garbage where an address should be: the last trusted hop is all we know.
            break;
        };
        client = ip;
        if !is_trusted(ip, trusted) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for value in xff {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    #[test]
    fn forwarded_for_counts_only_behind_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        // A stranger's claim is ignored.
        assert_eq!(resolve(stranger, &headers(&["192.0.2.1"]), &trusted), stranger);
        // Behind the proxy: the first untrusted hop from the right; what the client prepended
        // itself is not believed.
        let chain = headers(&["6.6.6.6, 192.0.2.1", "10.2.2.2"]);
        assert_eq!(resolve(proxy, &chain, &trusted), "192.0.2.1".parse::<IpAddr>().unwrap());
        // No header, or garbage: the proxy itself (or the last trusted hop).
        assert_eq!(resolve(proxy, &headers(&[]), &trusted), proxy);
        assert_eq!(resolve(proxy, &headers(&["not-an-ip"]), &trusted), proxy);
    }
}
