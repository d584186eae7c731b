use std::time::Duration;

use cookie::{Cookie, SameSite};
use tonic::{
    Request, Response, Status,
    metadata::{MetadataMap, MetadataValue},
};

use super::{convert, status::to_status};
use crate::{
    config::Config,
    error::Error,
    pb,
    service::{Caller, Services, SignedIn},
};

/// Name of the HttpOnly cookie that carries the session token for browsers.
pub const SESSION_COOKIE: &str = "keyward_session";

/// The session token or access token the caller presented: `authorization: Bearer …` first,
/// then the session cookie.
pub fn presented_token(metadata: &MetadataMap) -> Option<String> {
    if let Some(value) = metadata.get("authorization").and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned());
    }
    metadata
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

/// The presented token, or `NotSignedIn`.
pub fn required_token<T>(request: &Request<T>) -> Result<String, Error> {
    presented_token(request.metadata()).filter(|token| !token.is_empty()).ok_or(Error::NotSignedIn)
}

/// The authenticated caller of a user-scoped RPC.
pub async fn authenticate<T>(services: &Services, request: &Request<T>) -> Result<Caller, Status> {
    let token = required_token(request).map_err(to_status)?;
    services.authenticate(&token).await.map_err(to_status)
}

/// The user agent the client reported (for the session list) and the client address
/// (`ClientAddressLayer` put it in the extensions; throttles key on it).
pub fn request_meta<T>(request: &Request<T>) -> crate::service::RequestMeta {
    crate::service::RequestMeta::new(request.metadata().get("user-agent").and_then(|v| v.to_str().ok()))
        .with_client(request.extensions().get::<crate::domain::ClientAddress>().copied())
}

/// How the session cookie is written.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub secure: bool,
    pub domain: Option<String>,
}

impl CookieSettings {
    pub fn from_config(config: &Config) -> Self {
        Self { secure: config.cookie_secure, domain: config.cookie_domain.clone() }
    }

    fn build(&self, value: String, max_age: Duration) -> Cookie<'static> {
        let mut cookie = Cookie::build((SESSION_COOKIE, value))
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(cookie::time::Duration::seconds(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX)))
            .build();
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie
    }

    /// Adds `set-cookie` with the session token, living as long as the session can.
    pub fn set<T>(&self, response: &mut Response<T>, token: &str, max_age: Duration) -> Result<(), Status> {
        append(response.metadata_mut(), &self.build(token.to_owned(), max_age))
    }

    /// The proto answer for any sign-in (password, passkey, OAuth), with the session cookie for
    /// browser callers, living as long as the session can.
    pub fn signed_in_response<T>(
        &self,
        services: &Services,
        signed_in: &SignedIn,
        wrap: impl FnOnce(pb::SignedIn) -> T,
    ) -> Result<Response<T>, Status> {
        let mut response = Response::new(wrap(convert::signed_in(signed_in)));
        let remaining = (signed_in.session.expires - services.clock().now()).to_std().unwrap_or(Duration::ZERO);
        self.set(&mut response, signed_in.token.expose(), remaining)?;
        Ok(response)
    }

    /// Adds `set-cookie` that deletes the session cookie.
    pub fn clear<T>(&self, response: &mut Response<T>) -> Result<(), Status> {
        append(response.metadata_mut(), &self.build(String::new(), Duration::ZERO))
    }
}

fn append(metadata: &mut MetadataMap, cookie: &Cookie<'_>) -> Result<(), Status> {
    let value = MetadataValue::try_from(cookie.to_string()).map_err(|_| Status::internal("internal error"))?;
    metadata.append("set-cookie", value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(pairs: &[(&'static str, &'static str)]) -> MetadataMap {
        let mut map = MetadataMap::new();
        for (key, value) in pairs {
            map.append(*key, MetadataValue::from_static(value));
        }
        map
    }

    #[test]
    fn bearer_wins_over_cookie_and_cookie_is_found_among_others() {
        let both = metadata(&[("authorization", "Bearer abc"), ("cookie", "keyward_session=xyz")]);
        assert_eq!(presented_token(&both).as_deref(), Some("abc"));
        let cookies = metadata(&[("cookie", "theme=dark; keyward_session=xyz; other=1")]);
        assert_eq!(presented_token(&cookies).as_deref(), Some("xyz"));
        assert_eq!(presented_token(&metadata(&[("authorization", "Basic abc")])), None);
        assert_eq!(presented_token(&MetadataMap::new()), None);
    }
}
