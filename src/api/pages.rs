//! What every HTML page the daemon serves is sent with: a Content-Security-Policy that allows
//! nothing but the page's own inline stylesheet (by its hash) and forms posted back here — no
//! script, no image, font or stylesheet from anywhere, no framing — and `nosniff`.

use axum::http::{HeaderName, HeaderValue, header};

use crate::timeline::render::html;

/// The policy for a page whose one inline `<style>` holds `style`: what the page's own
/// `<meta>` states (`html::policy_for`) and no framing, which only a header can say.
pub fn content_security_policy(style: &str) -> String {
    format!("{}; frame-ancestors 'none'", html::policy_for(style))
}

/// The headers of an HTML page whose one inline `<style>` holds `style`.
pub fn page_headers(style: &str) -> [(HeaderName, HeaderValue); 4] {
    let policy = HeaderValue::from_str(&content_security_policy(style)).expect("a hash is a valid header value");
    [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_stylesheet_by_its_hash() {
        // The hash a browser computes for <style>p{color:red}</style> (CSP Level 3, §8.1).
        let policy = content_security_policy("p{color:red}");
        assert!(policy.contains("style-src 'sha256-p0bF+un5yUb9MBO6xRb8kPHlY2BdpHVtLiFkDrZPF64='"), "{policy}");
        assert!(policy.starts_with("default-src 'none';"), "{policy}");
        assert!(!policy.contains("script-src"), "{policy}");
    }
}
