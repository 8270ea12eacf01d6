//! The shutdown signal: SIGTERM or SIGINT.
//! NB: interim; replaced by the telemetry/shutdown work.

pub async fn signal() {
    let _ = tokio::signal::ctrl_c().await;
}
