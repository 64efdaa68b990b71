//! Who is calling: API keys for the gateway, and protection of the browser's forms
//! against cross-site posts.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::GatewayError;
use super::AppState;
use crate::accounts::KeyError;
use crate::storage::KeyOwner;

/// The owner of a gateway request's bearer key: 401 in OpenAI's format when the key is
/// missing, malformed, unknown or revoked.
pub async fn api_caller(state: &AppState, headers: &HeaderMap) -> Result<KeyOwner, GatewayError> {
    let secret = bearer(headers).ok_or(KeyError::Missing)?;
    Ok(state.accounts.authenticate(secret).await?)
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Refuses state-changing requests that a browser sent from another site.
///
/// Browsers label every request with `Sec-Fetch-Site`, and send `Origin` on every POST;
/// a request carrying neither comes from a non-browser client, which has no ambient
/// cookies to abuse. Together with `SameSite=Lax` session cookies this stops cross-site
/// form posts, login CSRF included, without per-form tokens.
pub async fn reject_cross_site(State(_): State<AppState>, request: Request, next: Next) -> Response {
    if is_cross_site(request.method(), request.headers()) {
        tracing::warn!(uri = %request.uri(), "refused a cross-site request");
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    next.run(request).await
}

fn is_cross_site(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            origin_host.is_none() || origin_host != host
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn cross_site_posts_are_detected() {
        let post = Method::POST;
        assert!(!is_cross_site(
            &Method::GET,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(!is_cross_site(&post, &headers(&[("sec-fetch-site", "same-origin")])));
        assert!(is_cross_site(&post, &headers(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_site(&post, &headers(&[("sec-fetch-site", "same-site")])));
        assert!(!is_cross_site(
            &post,
            &headers(&[("origin", "http://a:3000"), ("host", "a:3000")])
        ));
        assert!(is_cross_site(
            &post,
            &headers(&[("origin", "http://evil.example"), ("host", "a:3000")])
        ));
        assert!(is_cross_site(
            &post,
            &headers(&[("origin", "null"), ("host", "a:3000")])
        ));
        assert!(!is_cross_site(&post, &headers(&[])));
    }

    #[test]
    fn bearer_is_parsed_case_insensitively() {
        assert_eq!(bearer(&headers(&[("authorization", "Bearer abc")])), Some("abc"));
        assert_eq!(bearer(&headers(&[("authorization", "bearer  abc ")])), Some("abc"));
        assert_eq!(bearer(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(bearer(&headers(&[])), None);
    }
}
