//! Tracing initialisation and the one `Metrics` struct.
//! NB: interim no-op metrics so the API compiles before the telemetry work lands.

#[derive(Debug, Default)]
pub struct Metrics {}

impl Metrics {
    pub fn webhook_received(&self, _source: &'static str, _outcome: &'static str) {}
    pub fn signature_failure(&self) {}
    pub fn timeline_built(&self, _seconds: f64) {}
    pub fn store_commit(&self, _seconds: f64) {}
    pub fn render(&self, _incidents_open: i64) -> String {
        String::new()
    }
}
