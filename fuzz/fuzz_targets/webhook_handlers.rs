//! Fuzz target: the webhook handlers as a whole (`api::router`, over a real SQLite store on
//! tmpfs) with arbitrary headers and bodies: no panic, and no 500 — a request is stored (2xx),
//! refused (4xx) or, when the store fails, answered 503.
//!
//! Input: `route byte`, then header lines (`name: value\n`) up to a NUL byte, then the body.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use postmortemd::api::{AppState, router};
use postmortemd::config::{PagerDutyLink, Settings};
use postmortemd::store::Store;
use tower::ServiceExt;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap())
}

fn state() -> &'static AppState {
    static STATE: OnceLock<AppState> = OnceLock::new();
    STATE.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let folder = if shm.is_dir() { shm.to_owned() } else { std::env::temp_dir() }
            .join(format!("postmortemd-fuzz-{}", std::process::id()));
        let mut settings = Settings::default();
        settings.store.url = format!("sqlite://{}/postmortemd.db", folder.display());
        settings.webhooks.pagerduty_links = vec![PagerDutyLink {
            service: "Checkout API".to_owned(),
            labels: [("namespace".to_owned(), "shop".to_owned())].into_iter().collect(),
        }];
        let store = runtime().block_on(Store::open(&settings.store.url)).expect("store opens");
        AppState::new(settings, store)
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&route, rest)) = bytes.split_first() else { return };
    let uri = if route % 2 == 0 { "/webhooks/alertmanager" } else { "/webhooks/pagerduty" };
    let (head, body) = match rest.iter().position(|byte| *byte == 0) {
        Some(split) => (&rest[..split], &rest[split + 1..]),
        None => (&[][..], rest),
    };
    let mut request = Request::post(uri);
    if route & 2 == 0 {
        request = request.header("content-type", "application/json");
    }
    for line in head.split(|byte| *byte == b'\n') {
        let text = String::from_utf8_lossy(line);
        if let Some((name, value)) = text.split_once(':') {
            if let (Ok(name), Ok(value)) = (
                axum::http::HeaderName::from_bytes(name.trim().as_bytes()),
                axum::http::HeaderValue::from_str(value.trim()),
            ) {
                request = request.header(name, value);
            }
        }
    }
    let Ok(request) = request.body(Body::from(body.to_vec())) else { return };
    let response = runtime().block_on(router(state().clone()).oneshot(request)).expect("the router is infallible");
    let status = response.status();
    assert!(status.is_success() || status.is_client_error() || status.as_u16() == 503, "{uri} answered {status}");
});
