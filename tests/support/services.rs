//! Helpers for tests that start real services (Prometheus, Alertmanager) on loopback.

use std::time::Duration;

/// How long to wait for a condition (POSTMORTEMD_TEST_PATIENCE seconds, default 60).
pub fn patience() -> Duration {
    let seconds = std::env::var("POSTMORTEMD_TEST_PATIENCE").ok().and_then(|text| text.parse().ok()).unwrap_or(60);
    Duration::from_secs(seconds)
}

/// Polls `check` until it gives a value, failing the test after [`patience`].
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + patience();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh folder under the temp dir, named for the test and the process.
pub fn scratch_folder(name: &str) -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("postmortemd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}
