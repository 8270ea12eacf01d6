//! The HTTP API (axum): webhooks in, incidents and timelines out.
