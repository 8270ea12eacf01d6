//! The one error type of the HTTP API. A 4xx says what is wrong with the request; a 5xx
//! says nothing internal (its cause is logged once, where it is turned into a response).
//! Every error body is `{"error": …}`, as the OpenAPI document says: [`json_errors`] rewrites
//! the plain-text answers of axum's own rejections (path, query, body limit, no route).

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// The store failed: 503, so that Alertmanager and PagerDuty retry.
    pub fn unavailable(error: &crate::store::Error) -> Self {
        tracing::error!(error = %error, kind = error.kind(), "Store failed; the request was not stored.");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable; retry later")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// How much of a plain-text error body is kept as its message.
const MAX_MESSAGE_BYTES: usize = 4096;

/// An error response that is not JSON (axum's rejections of a bad path id or query string,
/// a body over the limit, a route or method that does not exist) as `{"error": …}`: its text
/// when it has one, else the status's reason. JSON answers and successes pass untouched.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    // JSON errors are already ours, and a page (the sign-in form) is for a browser.
    let written = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json") || value.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || written {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { text };
    let mut rewritten = ApiError::new(status, message).into_response();
    // Headers a rejection set (`Allow` of a 405) stay; the body's own go.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().append(name.clone(), value.clone());
        }
    }
    rewritten
}
