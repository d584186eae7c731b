//! The HTTP client every call to an OAuth provider goes through (discovery, token exchange,
//! user info, the GitHub API): reqwest, configured once in `providers.rs`, behind the
//! per-request budget check (`crypto::work_budget`) — an outbound call is work a caller makes
//! the server do, so it may start only after the request spent a budget.

use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};

use crate::crypto::work_budget;

const WORK: &str = "an outbound call to an OAuth provider";

/// The providers' shared client. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct OutboundHttp(reqwest::Client);

impl OutboundHttp {
    pub(super) fn new(client: reqwest::Client) -> Self {
        Self(client)
    }

    /// A GET to `url`, once the request spent a budget.
    pub(super) fn get(&self, url: String) -> crate::error::Result<reqwest::RequestBuilder> {
        work_budget::require(WORK)?;
        Ok(self.0.get(url))
    }
}

impl<'c> AsyncHttpClient<'c> for OutboundHttp {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let refused = work_budget::require(WORK).err().map(|err| err.to_string());
        Box::pin(async move {
            if let Some(refused) = refused {
                return Err(HttpClientError::Other(refused));
            }
            self.0.call(request).await
        })
    }
}
