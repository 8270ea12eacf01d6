//! The ceiling for `bench/intake.sh`: a minimal axum server that parses an Alertmanager
//! payload with the daemon's own parser and answers 200 without storing anything. A bench
//! helper, not a mode of the product.

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;

async fn parse_only(body: Bytes) -> StatusCode {
    match postmortemd::ingest::alertmanager::parse_webhook(&body) {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18099".to_owned());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, Router::new().route("/webhooks/alertmanager", post(parse_only))).await
}
