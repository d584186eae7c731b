//! The built-in sign-in page at `/signin`: its HTML and CSS, embedded from their sources in
//! clients/typescript/signin, and the TypeScript client bundled by esbuild into signin/app.js
//! (committed, drift-checked by scripts/check-generated), so a server needs no Node. The page
//! talks to Keyward over grpc-web like any customer app; `/signin/config.json` tells it the
//! origins a `return_to` may lead to and whether passkey sign-up needs a mailed code.
//!
//! Every URL the page uses is relative to where it is served (`signin/app.js` from the HTML; the
//! API and config.json from the script's own URL), so an app may serve it under any prefix
//! through a rewrite (`/keyward/signin` → `/signin`) with nothing configured here.

use std::sync::Arc;

use crate::i18n;

use axum::{
    Json, Router,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};

const INDEX_HTML: &str = include_str!("../../clients/typescript/signin/index.html");
const APP_JS: &str = include_str!("signin/app.js");
const APP_CSS: &str = include_str!("../../clients/typescript/signin/app.css");

/// Only this origin's scripts, styles and grpc-web calls (and images from the logo's origin);
/// never framed (clickjacking).
fn content_security_policy(logo_origin: Option<&str>) -> String {
    let images = logo_origin.map_or_else(String::new, |origin| format!(" {origin}"));
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:{images}; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// How the page looks (`[signin]`): whose product it is, its logo, accent colour and help link.
/// Validated by the configuration; HTML-escaped here all the same.
#[derive(Debug, Clone, Default)]
pub struct SigninBranding {
    pub product_name: String,
    pub logo_url: Option<String>,
    pub accent_color: Option<String>,
    pub support_url: Option<String>,
}

/// What the page needs to know of the server's settings: where it may send the user back to, and
/// whether passkey-only sign-up asks for a mailed code.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SigninPage {
    /// Origins a `return_to` may point at besides Keyward's own: the apps allowed to call with
    /// credentials (`cors_allowed_origins`) and the web origins passkeys run on (`rp_origins`).
    /// Anything else is refused by the page, so /signin cannot be an open redirect.
    return_to_origins: Vec<String>,
    /// `require_email_verification`: StartPasskeySignUp mails a code that FinishPasskeySignUp
    /// needs, so the page asks for it. One setting for every address, so saying it discloses
    /// nothing about any account (no existence oracle, OWASP ASVS 5 V6.3.8).
    require_email_verification: bool,
    #[serde(skip)]
    branding: SigninBranding,
}

impl SigninPage {
    /// From `cors_allowed_origins`, the passkey origins and `require_email_verification`.
    pub fn new(cors_allowed_origins: &[String], passkey_origins: &[String], require_email_verification: bool) -> Self {
        let mut origins: Vec<String> = cors_allowed_origins
            .iter()
            .chain(passkey_origins.iter())
            .filter(|origin| origin.starts_with("https://") || origin.starts_with("http://"))
            .map(|origin| origin.trim_end_matches('/').to_owned())
            .collect();
        origins.sort();
        origins.dedup();
        Self { return_to_origins: origins, require_email_verification, branding: SigninBranding::default() }
    }

    /// The page as `branding` says (the default: Keyward's own look).
    #[must_use]
    pub fn with_branding(mut self, branding: SigninBranding) -> Self {
        self.branding = branding;
        self
    }
}

/// The page's HTML in every shipped language, its CSS and CSP, with the branding filled in,
/// made once at start.
struct Rendered {
    html: Vec<(&'static str, String)>,
    css: String,
    csp: HeaderValue,
}

impl Rendered {
    fn new(branding: &SigninBranding) -> Self {
        let html = i18n::catalogs().iter().map(|catalog| (catalog.code(), page_html(branding, catalog))).collect();
        let css = match &branding.accent_color {
            Some(color) => format!("{APP_CSS}:root {{ --accent: {color}; }}\n"),
            None => APP_CSS.to_owned(),
        };
        let logo_origin = branding
            .logo_url
            .as_deref()
            .and_then(|url| url::Url::parse(url).ok())
            .map(|url| url.origin().ascii_serialization());
        let csp = HeaderValue::from_str(&content_security_policy(logo_origin.as_deref()))
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        Self { html, css, csp }
    }

    /// The page in the language `accept_language` prefers, and that language's code.
    fn html_for(&self, accept_language: Option<&str>) -> (&'static str, &str) {
        let code = i18n::negotiate(accept_language).code();
        let html = self.html.iter().find(|(lang, _)| *lang == code).unwrap_or(&self.html[0]);
        (html.0, &html.1)
    }
}

/// The page in `catalog`'s language with `branding` filled in.
fn page_html(branding: &SigninBranding, catalog: &i18n::Catalog) -> String {
    let product = escape_html(&branding.product_name);
    let logo = branding.logo_url.as_deref().map_or_else(String::new, |url| {
        // Decorative beside the product's name, which is the heading's text.
        format!(r#"<img src="{}" alt="">"#, escape_html(url))
    });
    let support = branding.support_url.as_deref().map_or_else(String::new, |url| {
        format!(
            r#"<p class="support"><a href="{}">{}</a></p>"#,
            escape_html(url),
            escape_html(catalog.page("Need help?"))
        )
    });
    let sign_in = escape_html(catalog.page("Sign in"));
    translate_text(INDEX_HTML, catalog)
        .replacen(r#"<html lang="en">"#, &format!(r#"<html lang="{}">"#, catalog.code()), 1)
        .replace("<title>Sign in · Keyward</title>", &format!("<title>{sign_in} · {product}</title>"))
        .replace(r#"<span id="product-name">Keyward</span>"#, &format!(r#"<span id="product-name">{product}</span>"#))
        .replace("<!--logo-->", &logo)
        .replace("<!--support-->", &support)
}

/// `html` with every text node the catalog knows (whitespace collapsed) in its language. The
/// page is our own markup with no inline script or style, so text is whatever lies between `>`
/// and the next `<`.
fn translate_text(html: &str, catalog: &i18n::Catalog) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 4);
    let mut rest = html;
    while let Some(close) = rest.find('>') {
        out.push_str(&rest[..=close]);
        rest = &rest[close + 1..];
        let end = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..end];
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let translated = catalog.page(&collapsed);
        if collapsed.is_empty() || translated == collapsed {
            out.push_str(text);
        } else {
            // Keep the surrounding whitespace, which separates words from inline elements.
            let leading = &text[..text.len() - text.trim_start().len()];
            let trailing = &text[text.trim_end().len()..];
            out.push_str(leading);
            out.push_str(&escape_html(translated));
            out.push_str(trailing);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Text for HTML content and double-quoted attributes.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// `/signin`, its assets and `/signin/config.json`.
pub fn router<S: Clone + Send + Sync + 'static>(page: SigninPage) -> Router<S> {
    let rendered = Arc::new(Rendered::new(&page.branding));
    let settings = Json(page);
    let (html, css, js, json) = (rendered.clone(), rendered.clone(), rendered.clone(), rendered);
    Router::new()
        .route(
            "/signin",
            get(move |headers: HeaderMap| async move {
                let accept_language = headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok());
                let (lang, body) = html.html_for(accept_language);
                let mut response = asset(&html, "text/html; charset=utf-8", body.to_owned());
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang));
                // Caches must key the page on the header that chose its language.
                headers.insert(header::VARY, HeaderValue::from_static("accept-language"));
                response
            }),
        )
        .route(
            "/signin/app.js",
            get(move || async move { asset(&js, "text/javascript; charset=utf-8", APP_JS.to_owned()) }),
        )
        .route("/signin/app.css", get(move || async move { asset(&css, "text/css; charset=utf-8", css.css.clone()) }))
        .route("/signin/config.json", get(move || async move { with_page_headers(&json, settings.into_response()) }))
}

fn asset(page: &Rendered, content_type: &'static str, body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    with_page_headers(page, response)
}

fn with_page_headers(page: &Rendered, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, page.csp.clone());
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Assets change with the binary; revalidating costs one request and never serves a stale
    // script against a newer API.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_text_is_on_the_page_and_translated() {
        let branding = SigninBranding { product_name: "Acme".into(), ..SigninBranding::default() };
        let collapse = |html: String| html.split_whitespace().collect::<Vec<_>>().join(" ");
        let english = collapse(page_html(&branding, i18n::english()));
        for catalog in i18n::catalogs().iter().filter(|catalog| catalog.code() != "en") {
            let html = collapse(page_html(&branding, catalog));
            assert!(html.contains(&format!(r#"<html lang="{}">"#, catalog.code())));
            for (english_text, _) in i18n::english().page_texts() {
                let shown = escape_html(catalog.page(english_text));
                // "Need help?" appears only with a support link; the others are in index.html.
                if english_text != "Need help?" {
                    assert!(english.contains(english_text), "{english_text:?} is not on the page");
                    assert!(html.contains(&shown), "{}: {shown:?} missing", catalog.code());
                }
            }
        }
    }
}
