//! Settings: built-in defaults < `--config FILE` (TOML) < `POSTMORTEMD_<SECTION>__<KEY>`
//! environment < flags. Secrets come from env or `*_file` keys and live in [`Secret`].
//! NB: interim; the layering, validation and `postmortemd config` land with the config work.

use std::fmt;
use std::net::SocketAddr;

use jiff::SignedDuration;

/// A secret string: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("***")
    }
}

/// The effective settings of `serve`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub webhooks: WebhookSettings,
    pub api: ApiSettings,
    pub window: WindowSettings,
}

#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub shutdown_grace: SignedDuration,
}

#[derive(Clone, Debug)]
pub struct StoreSettings {
    /// `sqlite://./data/postmortemd.db` (PostgreSQL comes later).
    pub url: String,
}

#[derive(Clone, Debug, Default)]
pub struct WebhookSettings {
    /// Bearer token Alertmanager must send (`http_config.authorization`); none: open.
    pub alertmanager_bearer_token: Option<Secret>,
    /// PagerDuty v3 signing secrets (several during rotation); none: signatures unchecked.
    pub pagerduty_signing_secrets: Vec<Secret>,
}

#[derive(Clone, Debug, Default)]
pub struct ApiSettings {
    /// Bearer tokens for the read API; none: open.
    pub bearer_tokens: Vec<Secret>,
}

#[derive(Clone, Debug)]
pub struct WindowSettings {
    pub lead_in: SignedDuration,
    pub tail: SignedDuration,
    /// A resolved Alertmanager group quiet this long opens a new incident when it fires again.
    pub quiet_period: SignedDuration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: ServerSettings {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                max_body_bytes: 4 << 20,
                shutdown_grace: SignedDuration::from_secs(10),
            },
            store: StoreSettings { url: "sqlite://./data/postmortemd.db".to_owned() },
            webhooks: WebhookSettings::default(),
            api: ApiSettings::default(),
            window: WindowSettings {
                lead_in: SignedDuration::from_mins(20),
                tail: SignedDuration::from_mins(10),
                quiet_period: SignedDuration::from_mins(30),
            },
        }
    }
}
