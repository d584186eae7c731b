//! `keyward healthcheck`: asks the server this configuration describes for `/healthz`, exit
//! status 0 when it answers 200. For a container's HEALTHCHECK, where there is no shell and no
//! curl: the image's one binary checks itself.

use std::{net::SocketAddr, time::Duration};

/// The server's `/healthz` URL for `listen`: an unspecified address (`0.0.0.0`, `[::]`) is asked
/// on the loopback of the same family.
pub fn healthz_url(listen: SocketAddr) -> String {
    let mut address = listen;
    if address.ip().is_unspecified() {
        address.set_ip(if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{address}/healthz")
}

/// GETs `url` (3 s at most); Ok when the answer is 200, else why not.
pub async fn check(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).no_proxy().build()?;
    let response = client.get(url).send().await?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    anyhow::bail!("{url} answered {status}: {}", body.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listen_address_is_asked_on_the_loopback() {
        assert_eq!(healthz_url("0.0.0.0:50051".parse().unwrap()), "http://127.0.0.1:50051/healthz");
        assert_eq!(healthz_url("[::]:8080".parse().unwrap()), "http://[::1]:8080/healthz");
        assert_eq!(healthz_url("10.0.0.5:1".parse().unwrap()), "http://10.0.0.5:1/healthz");
    }
}
