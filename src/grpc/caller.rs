//! Who is calling: the credentials a request presents (bearer metadata, or the session cookies
//! `browser::guard` let through), `authenticate` / `authenticate_session`, and the session cookie
//! itself (name, attributes, `Set-Cookie`, the sign-in answer).

use std::time::Duration;

use cookie::{Cookie, SameSite};
use tonic::{
    Request, Response, Status,
    metadata::{MetadataMap, MetadataValue},
};

use super::{browser::BrowserRequest, convert, status::to_status};
use crate::{
    error::Error,
    pb,
    service::{Caller, Services, SessionCaller, SignedIn},
};

/// Name of the HttpOnly session cookie: `__Host-` binds it to this exact host (Secure, Path=/,
/// no Domain), so a sibling subdomain can neither set nor shadow it (OWASP ASVS 5 V3.3.3).
pub const SESSION_COOKIE: &str = "__Host-keyward_session";
/// The name when `cookie_domain` shares the cookie with other hosts: `__Host-` forbids a
/// Domain, `__Secure-` still guarantees it was set over HTTPS (ASVS 5 V3.3.1).
pub const SHARED_SESSION_COOKIE: &str = "__Secure-keyward_session";
/// The name when `cookie_secure = false` (plain HTTP off localhost): no prefix is possible.
pub const INSECURE_SESSION_COOKIE: &str = "keyward_session";

/// What the caller presented, in the order it is tried: the bearer token if there is one (then
/// nothing else), else each session cookie the browser sent.
fn presented_tokens<T>(request: &Request<T>) -> Vec<String> {
    if let Some(bearer) = bearer_token(request.metadata()) {
        return vec![bearer];
    }
    request.extensions().get::<BrowserRequest>().map(|browser| browser.session_cookies.clone()).unwrap_or_default()
}

/// The token of `authorization: Bearer <token>`, if the request has one.
pub(super) fn bearer_token(metadata: &MetadataMap) -> Option<String> {
    let value = metadata.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// What a sign-in handler keeps from the request before consuming it.
#[derive(Debug, Clone)]
pub struct SignInContext {
    /// Session credentials the caller presented: they end once the sign-in succeeded.
    presented: Vec<String>,
    /// A browser's grpc-web call: the session token stays out of the answer's body.
    from_browser: bool,
}

impl SignInContext {
    pub fn of<T>(request: &Request<T>) -> Self {
        let from_browser = request.extensions().get::<BrowserRequest>().is_some_and(|browser| browser.from_browser);
        Self { presented: presented_tokens(request), from_browser }
    }

    /// The live session the caller presented, if any (the first valid one, as `authenticate`
    /// picks it); stale or garbage credentials are no session.
    pub async fn signed_in(&self, services: &Services) -> Option<Caller> {
        for token in &self.presented {
            if let Ok(caller) = services.authenticate(token).await {
                return Some(caller);
            }
        }
        None
    }
}

/// The caller of an RPC that reads: any live credential (session token or access token). With
/// several session cookies (a shared `cookie_domain` lets other hosts set one too), the first
/// that is valid wins: an invalid or planted-and-revoked one never shadows a valid one.
pub async fn authenticate<T>(services: &Services, request: &Request<T>) -> Result<Caller, Status> {
    let mut first_error = None;
    for token in presented_tokens(request) {
        match services.authenticate(&token).await {
            Ok(caller) => return Ok(caller),
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    Err(to_status(first_error.unwrap_or(Error::NotSignedIn)))
}

/// The caller if the request carries a valid credential, else none (OAuthCallback works signed
/// out, and a stale cookie must not stop a fresh sign-in).
pub async fn optional_caller<T>(services: &Services, request: &Request<T>) -> Option<Caller> {
    authenticate(services, request).await.ok()
}

/// The caller of an RPC that changes the account, a sign-in method or the session: the session
/// token only. An access token is verified first (garbage is `SESSION_INVALID`), then refused
/// with `SESSION_TOKEN_REQUIRED`.
pub async fn authenticate_session<T>(services: &Services, request: &Request<T>) -> Result<SessionCaller, Status> {
    authenticate(services, request).await?.into_session_caller().map_err(to_status)
}

/// The user agent the client reported (for the session list) and the client address
/// (`ClientAddressLayer` put it in the extensions; throttles key on it).
pub fn request_meta<T>(request: &Request<T>) -> crate::service::RequestMeta {
    crate::service::RequestMeta::new(request.metadata().get("user-agent").and_then(|v| v.to_str().ok()))
        .with_client(request.extensions().get::<crate::domain::ClientAddress>().copied())
        .with_accept_language(request.metadata().get("accept-language").and_then(|v| v.to_str().ok()))
}

/// How the session cookie is written, and what a browser's sign-in answer carries.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub secure: bool,
    pub domain: Option<String>,
    /// `session_token_in_browser_responses`: also put the session token in the body of a
    /// browser's sign-in answer (by default only the HttpOnly cookie carries it).
    pub token_in_browser_responses: bool,
}

impl CookieSettings {
    /// The cookie's name under these settings.
    pub fn name(&self) -> &'static str {
        match (self.secure, &self.domain) {
            (false, _) => INSECURE_SESSION_COOKIE,
            (true, Some(_)) => SHARED_SESSION_COOKIE,
            (true, None) => SESSION_COOKIE,
        }
    }

    fn build(&self, value: String, max_age: Duration) -> Cookie<'static> {
        let mut cookie = Cookie::build((self.name(), value))
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
    /// browser callers, living as long as the session can. Ends the sessions the caller
    /// presented (`Services::end_presented_sessions`).
    pub async fn signed_in_response<T>(
        &self,
        services: &Services,
        context: &SignInContext,
        signed_in: &SignedIn,
        wrap: impl FnOnce(pb::SignedIn) -> T,
    ) -> Result<Response<T>, Status> {
        services.end_presented_sessions(&context.presented, signed_in).await;
        let mut message = convert::signed_in(signed_in);
        if context.from_browser && !self.token_in_browser_responses {
            // The HttpOnly cookie carries it; in the body any script on the page could read it
            // (OWASP ASVS 5 V3.3.4).
            message.session_token.clear();
        }
        let mut response = Response::new(wrap(message));
        let remaining = (signed_in.session.expires_at - services.clock().now()).to_std().unwrap_or(Duration::ZERO);
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

    #[test]
    fn bearer_wins_over_cookies_and_cookies_come_from_the_browser_guard() {
        let mut request = Request::new(());
        request
            .extensions_mut()
            .insert(BrowserRequest { session_cookies: vec!["a".into(), "b".into()], from_browser: true });
        assert_eq!(presented_tokens(&request), ["a", "b"]);
        request.metadata_mut().insert("authorization", MetadataValue::from_static("Bearer abc"));
        assert_eq!(presented_tokens(&request), ["abc"]);
        // A cookie header the guard did not vouch for is not a credential.
        let mut raw = Request::new(());
        raw.metadata_mut().insert("cookie", MetadataValue::from_static("__Host-keyward_session=xyz"));
        assert!(presented_tokens(&raw).is_empty());
        let mut basic = Request::new(());
        basic.metadata_mut().insert("authorization", MetadataValue::from_static("Basic abc"));
        assert!(presented_tokens(&basic).is_empty());
    }

    #[test]
    fn cookie_names_follow_the_settings() {
        let settings = |secure, domain: Option<&str>| CookieSettings {
            secure,
            domain: domain.map(str::to_owned),
            token_in_browser_responses: false,
        };
        assert_eq!(settings(true, None).name(), "__Host-keyward_session");
        assert_eq!(settings(true, Some("example.com")).name(), "__Secure-keyward_session");
        assert_eq!(settings(false, None).name(), "keyward_session");
        let cookie = settings(true, None).build("t".into(), Duration::from_secs(60)).to_string();
        for attribute in ["__Host-keyward_session=t", "HttpOnly", "Secure", "Path=/", "SameSite=Lax"] {
            assert!(cookie.contains(attribute), "{attribute} missing from {cookie}");
        }
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
}
