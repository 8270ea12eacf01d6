//! The one error type of the HTTP API. A 4xx says what is wrong with the request; a 5xx
//! says nothing internal (its cause is logged once, where it is turned into a response).

use axum::Json;
use axum::http::StatusCode;
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
