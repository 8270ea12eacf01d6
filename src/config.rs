//! Settings: built-in defaults < `--config FILE` (TOML) < `POSTMORTEMD_<SECTION>__<KEY>`
//! environment < flags ([`Overrides`]). Secrets come from env or `*_file` keys and live in
//! [`Secret`]. This module owns loading, validating and printing the settings
//! ([`load`], [`render`], [`example`], [`document`]), all driven by one declaration per key
//! (`KEYS`); what each setting does belongs to its user.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat, Value, ValueKind};
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub webhooks: WebhookSettings,
    pub api: ApiSettings,
    pub window: WindowSettings,
    pub collect: CollectSettings,
    pub kubernetes: KubernetesSettings,
    pub prometheus: PrometheusSettings,
    pub reconcile: ReconcileSettings,
    /// `[[redact]]`: secret patterns redacted from log lines, Kubernetes objects and webhook
    /// bodies besides the built-in ones (`normalize::redact`).
    pub redact: Vec<RedactRule>,
}

/// `[[redact]]`: text matching `pattern` (a regular expression) is replaced by
/// `[REDACTED:<name>]`; with a capture group, only the first group is (`token=([a-z0-9]+)`
/// keeps `token=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedactRule {
    pub name: String,
    pub pattern: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub shutdown_grace: SignedDuration,
    /// Most connections open at once (kept below the open-file limit); at the cap a new one
    /// evicts the oldest connection that is not working on a request.
    pub max_connections: usize,
    /// Most requests worked on at once; more wait for a slot (up to `body_timeout`).
    pub max_requests_in_flight: usize,
    /// How long a request's headers (or an idle keep-alive's next request) may take.
    pub header_timeout: SignedDuration,
    /// How long a request's body may take to arrive, and to wait for the body budget.
    pub body_timeout: SignedDuration,
    /// The bytes of request bodies held at once, over all requests.
    pub max_body_bytes_in_flight: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    /// `sqlite://./data/postmortemd.db`, or `postgres://user@host/db` shared by replicas.
    pub url: String,
    /// Resolved incidents quiet for longer than this are deleted, evidence first; zero keeps
    /// everything.
    pub retention: SignedDuration,
    /// The most bytes (compressed, as stored) one incident's evidence may take; log chunks
    /// beyond it are not stored and their streams get a gap row.
    pub max_evidence_bytes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Bearer token Alertmanager must send (`http_config.authorization`); none: open.
    pub alertmanager_bearer_token: Option<Secret>,
    /// PagerDuty v3 signing secrets (several during rotation); none: signatures unchecked.
    pub pagerduty_signing_secrets: Vec<Secret>,
    /// Fallback links of pages that neither their incident id nor `incident_key` link.
    pub pagerduty_links: Vec<PagerDutyLink>,
    /// A page links by a fallback rule only to an incident whose span, widened by this,
    /// holds the page's time.
    pub pagerduty_link_within: SignedDuration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            alertmanager_bearer_token: None,
            pagerduty_signing_secrets: Vec::new(),
            pagerduty_links: Vec::new(),
            pagerduty_link_within: SignedDuration::from_mins(30),
        }
    }
}

/// `[[webhooks.pagerduty.links]]`: a page of `service` that nothing else links joins the
/// newest Alertmanager incident (open, or resolved within `link_within`) whose alert labels
/// hold every pair of `labels` (the `match` key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagerDutyLink {
    /// The PagerDuty service's name (`data.service.summary`) or id (`data.service.id`).
    pub service: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiSettings {
    /// Bearer tokens for the read API; none: open.
    pub bearer_tokens: Vec<Secret>,
    /// Bearer tokens for the write API (responders' notes, corrections, resolutions,
    /// merges); they grant reads too. None: every write is refused (403).
    pub write_tokens: Vec<Secret>,
    /// How long a browser's sign-in lasts (the session cookie's lifetime).
    pub session_lifetime: SignedDuration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            bearer_tokens: Vec::new(),
            write_tokens: Vec::new(),
            session_lifetime: SignedDuration::from_hours(12),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowSettings {
    pub lead_in: SignedDuration,
    pub tail: SignedDuration,
    /// A resolved Alertmanager group quiet this long opens a new incident when it fires again.
    pub quiet_period: SignedDuration,
}

/// The `[kubernetes]` section: where the cluster is, what to collect and how much.
/// How much collection one incident may cost, whatever its sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectSettings {
    /// The longest span one incident's passes collect; the span is cut to its most recent
    /// part, with a gap row naming this key.
    pub max_window: SignedDuration,
    /// Incidents this daemon collects at once.
    pub concurrency: usize,
    /// How long a claimed collection job is this daemon's before another may take it.
    pub lease: SignedDuration,
}

impl Default for CollectSettings {
    fn default() -> Self {
        CollectSettings {
            max_window: SignedDuration::from_hours(24),
            concurrency: 4,
            lease: SignedDuration::from_mins(10),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesSettings {
    /// A kubeconfig file; `None` (an empty key): the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// Most pods collected per incident; the rest is reported as a gap.
    pub max_pods: usize,
    /// Most log bytes collected per container over the whole incident (`limitBytes`).
    pub max_bytes_per_container: usize,
    /// How often an open incident is collected again.
    pub recollect_every: SignedDuration,
    /// Alert label → pod selector rules, tried in order after the built-in labels.
    pub targets: Vec<TargetRule>,
    /// PagerDuty service → pods, for incidents that only have pages.
    pub services: Vec<ServiceRule>,
    /// The namespaces collection may read (`["*"]`: every one); empty: the namespace of the
    /// daemon's own credentials. Alert labels and rules never read outside it.
    pub namespaces: Vec<String>,
}

/// `[[kubernetes.targets]]`: an alert carrying `label` targets the pods `selector` selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetRule {
    pub label: String,
    /// A label selector; `{value}` is the label's value, `{{name}}` any alert label.
    pub selector: String,
}

/// `[[kubernetes.services]]`: pages of `pagerduty_service` target the pods `selector`
/// selects in `namespace`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRule {
    pub pagerduty_service: String,
    pub namespace: String,
    pub selector: String,
}

impl Default for KubernetesSettings {
    fn default() -> Self {
        KubernetesSettings {
            kubeconfig: None,
            max_pods: 50,
            max_bytes_per_container: 32 << 20,
            recollect_every: SignedDuration::from_mins(5),
            targets: vec![TargetRule {
                label: "app.kubernetes.io/name".to_owned(),
                selector: "app.kubernetes.io/name={value}".to_owned(),
            }],
            services: Vec::new(),
            namespaces: Vec::new(),
        }
    }
}

/// The `[prometheus]` section: where Prometheus is and what to ask it for an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrometheusSettings {
    /// `http://prometheus-k8s.monitoring:9090`; empty: no Prometheus collection.
    pub url: String,
    /// Resolution of range queries (long windows are split, never coarsened).
    pub step: SignedDuration,
    /// How long one request may take (sent to Prometheus as its query `timeout` too).
    pub timeout: SignedDuration,
    /// How long one query may take in a pass, over all its ranges and retries.
    pub query_budget: SignedDuration,
    /// Whether node-exporter clock series are queried for the nodes of the target pods.
    pub node_clock: bool,
    /// Whether each alert's own expression (`g0.expr` of its `generatorURL`) is run: PromQL
    /// chosen by whoever sends the webhook.
    pub alert_expressions: bool,
    /// `[[prometheus.queries]]`, in file order.
    pub queries: Vec<PrometheusQuery>,
}

/// One `[[prometheus.queries]]`: `query`, templated with an alert's labels, for every alert
/// whose labels equal all of `matchers` (none: every incident).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrometheusQuery {
    pub name: String,
    /// The `match` table: label → value, all required.
    pub matchers: BTreeMap<String, String>,
    /// PromQL with `{{label}}` placeholders.
    pub query: String,
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        PrometheusSettings {
            url: String::new(),
            step: SignedDuration::from_secs(15),
            timeout: SignedDuration::from_secs(30),
            query_budget: SignedDuration::from_mins(2),
            node_clock: true,
            alert_expressions: true,
            queries: Vec::new(),
        }
    }
}

/// The `[reconcile]` section: what the daemon polls so that a missed webhook is not a lost
/// incident (Alertmanager's alert groups, PagerDuty's REST API); nothing set: no polling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// Alertmanager base URLs, every peer of an HA cluster (`http://alertmanager:9093`).
    pub alertmanager_urls: Vec<String>,
    /// Receivers whose groups are reconciled (the ones that send to postmortemd); none: all.
    pub alertmanager_receivers: Vec<String>,
    /// How often each source is polled.
    pub interval: SignedDuration,
    /// How long one request may take.
    pub timeout: SignedDuration,
    /// PagerDuty's REST API base URL.
    pub pagerduty_api_url: String,
    /// A read-only PagerDuty REST API token; none: PagerDuty is not polled.
    pub pagerduty_api_token: Option<Secret>,
    /// PagerDuty service ids whose incidents are followed.
    pub pagerduty_services: Vec<String>,
    /// PagerDuty team ids whose incidents are followed.
    pub pagerduty_teams: Vec<String>,
    /// How far back the first PagerDuty poll looks (later polls resume where the last ended).
    pub pagerduty_lookback: SignedDuration,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            alertmanager_urls: Vec::new(),
            alertmanager_receivers: Vec::new(),
            interval: SignedDuration::from_mins(1),
            timeout: SignedDuration::from_secs(10),
            pagerduty_api_url: "https://api.pagerduty.com".to_owned(),
            pagerduty_api_token: None,
            pagerduty_services: Vec::new(),
            pagerduty_teams: Vec::new(),
            pagerduty_lookback: SignedDuration::from_hours(24),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: ServerSettings {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                max_body_bytes: 4 << 20,
                shutdown_grace: SignedDuration::from_secs(10),
                max_connections: 1024,
                max_requests_in_flight: 256,
                header_timeout: SignedDuration::from_secs(10),
                body_timeout: SignedDuration::from_secs(30),
                max_body_bytes_in_flight: 64 << 20,
            },
            store: StoreSettings {
                url: "sqlite://./data/postmortemd.db".to_owned(),
                retention: SignedDuration::from_hours(90 * 24),
                max_evidence_bytes: 256 << 20,
            },
            webhooks: WebhookSettings::default(),
            api: ApiSettings::default(),
            window: WindowSettings {
                lead_in: SignedDuration::from_mins(20),
                tail: SignedDuration::from_mins(10),
                quiet_period: SignedDuration::from_mins(30),
            },
            collect: CollectSettings::default(),
            kubernetes: KubernetesSettings::default(),
            prometheus: PrometheusSettings::default(),
            reconcile: ReconcileSettings::default(),
            redact: Vec::new(),
        }
    }
}

/// The `serve` flags: the last layer, above the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `serve --listen`.
    pub listen: Option<SocketAddr>,
    /// `serve --store`.
    pub store: Option<String>,
}

/// Why the settings could not be loaded; every variant names the key or the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value that does not read as what its key expects.
    // NB: no `#[source]`: the message already says what is wrong, and an error chain
    // (`serve`'s) would say it twice.
    #[error("{key}: {error}")]
    Value { key: String, error: ValueError },
    /// A value, or a row of an array of tables, that is not what its key expects.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    /// A key no setting has: a typo must not silently do nothing.
    #[error("{key}: unknown key (expected one of: {expected})")]
    UnknownKey { key: String, expected: String },
    /// A `*_file` key whose file cannot be read.
    #[error("{key}: cannot read {path}: {source}")]
    SecretFile { key: String, path: PathBuf, source: std::io::Error },
    /// The settings file is missing or not TOML, or the layers do not merge.
    #[error("cannot load the settings: {0}")]
    Source(#[from] config::ConfigError),
}

/// A value that does not read as its kind (`"20 parsecs" is not a duration like 20m`);
/// [`Error::Value`] names the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} {problem}")]
pub struct ValueError {
    /// The value as written.
    pub text: String,
    pub problem: Problem,
}

/// What is wrong with a value, each with what was expected (`"a duration like 20m"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("is not {0}")]
    NotA(&'static str),
    #[error("is zero, expected {0}")]
    Zero(&'static str),
    #[error("is negative, expected {0}")]
    Negative(&'static str),
    #[error("is shorter than a millisecond, expected {0}")]
    BelowMillisecond(&'static str),
    #[error("has a fraction of a millisecond, expected {0}")]
    FractionOfMillisecond(&'static str),
}

impl Problem {
    fn of(self, text: &str) -> ValueError {
        ValueError { text: text.to_owned(), problem: self }
    }
}

/// The environment prefix: `POSTMORTEMD_SERVER__LISTEN` is `server.listen`.
const ENV_PREFIX: &str = "POSTMORTEMD";

/// Where a key's value lives in [`Settings`]: `at!(window.lead_in)`.
macro_rules! at {
    ($($field:ident).+) => {
        At { get: |settings| &settings.$($field).+, get_mut: |settings| &mut settings.$($field).+ }
    };
}

/// Every key a settings file may hold, by section, in the order files are written.
/// NB: the one declaration of each key: loading and validation, the unknown-key check,
/// `render` (`postmortemd config`), `example` and the tables of docs/configuration.md all
/// read it. A new key is an entry here, its field in [`Settings`] and its default.
static KEYS: &[Section] = &[
    Section {
        name: "server",
        keys: &[
            Key {
                name: "listen",
                slot: &Scalar { at: at!(server.listen), format: ADDRESS },
                help: "Address and port the HTTP server binds (`serve --listen`); in a pod `0.0.0.0:8080`.",
            },
            Key {
                name: "max_body_bytes",
                slot: &Scalar { at: at!(server.max_body_bytes), format: SIZE },
                help: "Largest webhook body accepted: bytes, or a size like `512KiB` or `4MiB`;\n\
                       a larger one is answered 413.",
            },
            Key {
                name: "shutdown_grace",
                slot: &Scalar { at: at!(server.shutdown_grace), format: DURATION },
                help: "On SIGTERM or SIGINT, how long requests and jobs may take to finish;\n\
                       keep it below the pod's `terminationGracePeriodSeconds`.",
            },
            Key {
                name: "max_connections",
                slot: &Scalar { at: at!(server.max_connections), format: COUNT },
                help: "Most connections open at once; lowered at start to stay below the open-file limit.\n\
                       At the cap a new connection evicts the oldest one that idles or is still sending\n\
                       its request (never one whose request is being worked on); with none such, it waits.",
            },
            Key {
                name: "max_requests_in_flight",
                slot: &Scalar { at: at!(server.max_requests_in_flight), format: COUNT },
                help: "Most requests worked on at once (probes and /metrics aside);\n\
                       more wait for a slot up to body_timeout, then get 503 with Retry-After.",
            },
            Key {
                name: "header_timeout",
                slot: &Scalar { at: at!(server.header_timeout), format: POSITIVE_DURATION },
                help: "How long a client may take to send a request's headers, and how long a\n\
                       keep-alive connection may idle before its next request; then it is closed.",
            },
            Key {
                name: "body_timeout",
                slot: &Scalar { at: at!(server.body_timeout), format: POSITIVE_DURATION },
                help: "How long a request body may take to arrive, and how long a request may wait\n\
                       for the body budget or a slot; then 503 with Retry-After (senders retry 5xx).",
            },
            Key {
                name: "max_body_bytes_in_flight",
                slot: &Scalar { at: at!(server.max_body_bytes_in_flight), format: SIZE },
                help: "Bytes of request bodies held at once, over all requests (a body reserves its\n\
                       Content-Length, or max_body_bytes without one). Bodies not authenticated by\n\
                       their headers (PagerDuty's, signed inside; any webhook without a token) get\n\
                       at most half. Keep it well under the pod's memory limit.",
            },
        ],
    },
    Section {
        name: "store",
        keys: &[
            Key {
                name: "url",
                slot: &Scalar { at: at!(store.url), format: STORE_URL },
                help: "Where incidents, webhooks and evidence are kept (`serve --store`): `sqlite://PATH`\n\
                       (one replica; the folder and the file are created when missing) or\n\
                       `postgres://USER[:PASSWORD]@HOST[:PORT]/DB?sslmode=verify-full` (several replicas share\n\
                       it; the database must exist, its tables are created). Passwords show as `***`.",
            },
            Key {
                name: "retention",
                slot: &Scalar { at: at!(store.retention), format: LONG_DURATION },
                help: "Resolved incidents quiet for longer than this are deleted with their webhooks and\n\
                       evidence (checked hourly): a duration like `90d` or `2160h`; `0s` keeps everything.",
            },
            Key {
                name: "max_evidence_bytes",
                slot: &Scalar { at: at!(store.max_evidence_bytes), format: SIZE },
                help: "The most one incident's evidence may take in the store (compressed): a size like\n\
                       `256MiB`; log lines beyond it are not stored, and their streams show a gap naming this key.",
            },
        ],
    },
    Section {
        name: "webhooks.alertmanager",
        keys: &[Key {
            name: "bearer_token",
            slot: &Secrets {
                at: at!(webhooks.alertmanager_bearer_token),
                file_help: "Or: a file holding the token (read at start, trimmed); set one of the two, not both.",
            },
            help: "Token Alertmanager must send as `Authorization: Bearer` (its `http_config.authorization`);\n\
                   empty: not checked.",
        }],
    },
    Section {
        name: "webhooks.pagerduty",
        keys: &[
            Key {
                name: "signing_secrets",
                slot: &Secrets {
                    at: at!(webhooks.pagerduty_signing_secrets),
                    file_help: "Or: a file of signing secrets, one per line.",
                },
                help: "PagerDuty v3 signing secrets, several while rotating; empty: signatures unchecked.\n\
                       Env POSTMORTEMD_WEBHOOKS__PAGERDUTY__SIGNING_SECRETS: comma-separated.",
            },
            Key {
                name: "link_within",
                slot: &Scalar { at: at!(webhooks.pagerduty_link_within), format: DURATION },
                help: "How far a page's time may lie outside an incident's span for a fallback link.",
            },
            Key {
                name: "links",
                slot: &Tables {
                    at: at!(webhooks.pagerduty_links),
                    example: &[
                        ("service", "\"Checkout API\""),
                        ("match", "{ namespace = \"shop\", service = \"checkout\" }"),
                    ],
                    read: read_link,
                    write: |link| vec![("service", quote(&link.service)), ("match", show_labels(&link.labels))],
                },
                help: "Fallback links for pages that no incident_key or PagerDuty incident id links to an incident:\n\
                       a page of `service` (its name or id) joins the newest Alertmanager incident whose alert labels\n\
                       hold every pair of `match`, open or resolved within link_within of the page; else its own.",
            },
        ],
    },
    Section {
        name: "api",
        keys: &[
            Key {
                name: "bearer_tokens",
                slot: &Secrets { at: at!(api.bearer_tokens), file_help: "Or: a file of tokens, one per line." },
                help: "Tokens accepted by the read API (`/api/v1/…` and `/`); empty: the read API is open.\n\
                       A browser opening a page without one is offered a sign-in form that takes a token once.",
            },
            Key {
                name: "session_lifetime",
                slot: &Scalar { at: at!(api.session_lifetime), format: POSITIVE_DURATION },
                help: "How long a browser's sign-in lasts: the session cookie (HttpOnly, SameSite=Strict) expires\n\
                       then, and at once when the token that signed in is removed from `api.bearer_tokens`.",
            },
            Key {
                name: "write_tokens",
                slot: &Secrets { at: at!(api.write_tokens), file_help: "Or: a file of tokens, one per line." },
                help: "Tokens accepted by the write API (responders' notes, corrections, manual resolves and\n\
                       merges: POST/PATCH under /api/v1/incidents/{id}); they grant reads too. Empty: every\n\
                       write is refused with 403 (writes are never open).",
            },
        ],
    },
    Section {
        name: "window",
        keys: &[
            Key {
                name: "lead_in",
                slot: &Scalar { at: at!(window.lead_in), format: DURATION },
                help: "Evidence collected before the first signal; all of it but the last few minutes is the\n\
                       baseline that new errors and metric departures are measured against.",
            },
            Key {
                name: "tail",
                slot: &Scalar { at: at!(window.tail), format: DURATION },
                help: "Evidence collected after the last resolution.",
            },
            Key {
                name: "quiet_period",
                slot: &Scalar { at: at!(window.quiet_period), format: DURATION },
                help: "A resolved alert group quiet this long opens a new incident when it fires again;\n\
                       sooner, it reopens the same one.",
            },
        ],
    },
    Section {
        name: "collect",
        keys: &[
            Key {
                name: "max_window",
                slot: &Scalar { at: at!(collect.max_window), format: POSITIVE_DURATION },
                help: "The longest span collected for one incident (an alert that says it started years ago\n\
                       must not cost years of queries): the span is cut to its most recent part, and the\n\
                       draft shows what was cut as a gap naming this key.",
            },
            Key {
                name: "concurrency",
                slot: &Scalar { at: at!(collect.concurrency), format: COUNT },
                help: "Incidents collected at once by this daemon, so one slow incident never holds up the others.",
            },
            Key {
                name: "lease",
                slot: &Scalar { at: at!(collect.lease), format: POSITIVE_DURATION },
                help: "How long a daemon's claim on an incident's collection job lasts: the job of a daemon killed\n\
                       mid-pass is taken by another replica (or by it, restarted) this long after it was claimed.\n\
                       Longer than a pass takes; a daemon stopped by SIGTERM gives its jobs back at once.",
            },
        ],
    },
    Section {
        name: "kubernetes",
        keys: &[
            Key {
                name: "kubeconfig",
                slot: &Scalar { at: at!(kubernetes.kubeconfig), format: PATH },
                help: "A kubeconfig file, to run outside the cluster; empty: the in-cluster service account.",
            },
            Key {
                name: "max_pods",
                slot: &Scalar { at: at!(kubernetes.max_pods), format: COUNT },
                help: "Most pods collected per incident; the pods left out are reported as a gap.",
            },
            Key {
                name: "max_bytes_per_container",
                slot: &Scalar { at: at!(kubernetes.max_bytes_per_container), format: SIZE },
                help: "Most log bytes collected per container and incident (the API's `limitBytes`):\n\
                       a size like `32MiB`; what was cut is reported as a gap.",
            },
            Key {
                name: "recollect_every",
                slot: &Scalar { at: at!(kubernetes.recollect_every), format: POSITIVE_DURATION },
                help: "How often an open incident's evidence is collected again\n\
                       (logs disappear when pods die; events expire after an hour).",
            },
            Key {
                name: "targets",
                slot: &Tables {
                    at: at!(kubernetes.targets),
                    example: &[
                        ("label", "\"app.kubernetes.io/name\""),
                        ("selector", "\"app.kubernetes.io/name={value}\""),
                    ],
                    read: read_target,
                    write: |rule| vec![("label", quote(&rule.label)), ("selector", quote(&rule.selector))],
                },
                help: "Alert label -> pod selector, tried in order after the built-in labels (pod, deployment,\n\
                       statefulset, daemonset, replicaset, job_name, service, each with namespace).\n\
                       `{value}` is the label's value, `{{name}}` any label of the alert.",
            },
            Key {
                name: "services",
                slot: &Tables {
                    at: at!(kubernetes.services),
                    example: &[
                        ("pagerduty_service", "\"Checkout API\""),
                        ("namespace", "\"shop\""),
                        ("selector", "\"app.kubernetes.io/name=checkout-api\""),
                    ],
                    read: |row, _| {
                        Ok(ServiceRule {
                            pagerduty_service: row.required("pagerduty_service")?,
                            namespace: row.required("namespace")?,
                            selector: row.required("selector")?,
                        })
                    },
                    write: |rule| {
                        vec![
                            ("pagerduty_service", quote(&rule.pagerduty_service)),
                            ("namespace", quote(&rule.namespace)),
                            ("selector", quote(&rule.selector)),
                        ]
                    },
                },
                help: "Incidents with pages only: the pods of a PagerDuty service, by namespace and selector.",
            },
            Key {
                name: "namespaces",
                slot: &Strings { at: at!(kubernetes.namespaces), parse: parse_namespace, whole: Some(star_alone) },
                help: "The namespaces collection may read, e.g. `[\"shop\", \"payments\"]`; `[\"*\"]`: every namespace;\n\
                       empty: only the namespace of the daemon's own credentials (in a pod, its service account's).\n\
                       Alert labels, `targets` and `services` never read outside it: such a target is a gap naming\n\
                       this key; an alert with no namespace is looked for in these namespaces, cluster-wide only with `*`.\n\
                       Env POSTMORTEMD_KUBERNETES__NAMESPACES: comma-separated.",
            },
        ],
    },
    Section {
        name: "prometheus",
        keys: &[
            Key {
                name: "url",
                slot: &Scalar { at: at!(prometheus.url), format: PROMETHEUS_URL },
                help: "Prometheus base URL, e.g. `http://prometheus-k8s.monitoring:9090`; empty: no Prometheus collection.",
            },
            Key {
                name: "step",
                slot: &Scalar { at: at!(prometheus.step), format: STEP },
                help: "Resolution of range queries; long windows are split into ranges of at most 11,000 points\n\
                       (Prometheus' limit per series), never coarsened.",
            },
            Key {
                name: "timeout",
                slot: &Scalar { at: at!(prometheus.timeout), format: STEP },
                help: "How long one query may take, also sent to Prometheus as its query timeout\n\
                       (a slow query comes back as Prometheus' own `timeout` error: a gap).",
            },
            Key {
                name: "query_budget",
                slot: &Scalar { at: at!(prometheus.query_budget), format: POSITIVE_DURATION },
                help: "How long one query may take in a pass over all its ranges and retries; the ranges not\n\
                       asked by then are one gap naming this key. A query's points are bounded too: at most\n\
                       `collect.max_window` / `step`, in requests of at most 11,000.",
            },
            Key {
                name: "node_clock",
                slot: &Scalar { at: at!(prometheus.node_clock), format: BOOL },
                help: "Collect the node clock series of the target pods' nodes to measure clock skew:\n\
                       node_time_seconds - timestamp(node_time_seconds), node_timex_offset_seconds and\n\
                       node_timex_sync_status (needs node-exporter).",
            },
            Key {
                name: "alert_expressions",
                slot: &Scalar { at: at!(prometheus.alert_expressions), format: BOOL },
                help: "Run each alert's own expression (`g0.expr` of its `generatorURL`) over the window.\n\
                       NB: whoever can send an Alertmanager webhook then chooses PromQL the daemon runs against\n\
                       this Prometheus (any query its data allows, within `timeout` and the point limits);\n\
                       set false when senders are not trusted that far.",
            },
            Key {
                name: "queries",
                slot: &Tables {
                    at: at!(prometheus.queries),
                    example: &[
                        ("name", "\"5xx by pod\""),
                        ("match", "{ alertname = \"HighErrorRate\" }"),
                        (
                            "query",
                            "'sum by (pod) (rate(http_requests_total{namespace=\"{{namespace}}\",code=~\"5..\"}[5m]))'",
                        ),
                    ],
                    read: read_query,
                    write: |query| {
                        let mut row = vec![("name", quote(&query.name))];
                        if !query.matchers.is_empty() {
                            row.push(("match", show_labels(&query.matchers)));
                        }
                        row.push(("query", quote(&query.query)));
                        row
                    },
                },
                help: "Queries run for an incident whose alert labels equal all of `match` (omitted: every incident).\n\
                       `{{label}}` in `query` is that label of the alert.",
            },
        ],
    },
    Section {
        name: "reconcile",
        keys: &[
            Key {
                name: "alertmanager_urls",
                slot: &Strings { at: at!(reconcile.alertmanager_urls), parse: parse_http_url, whole: None },
                help: "Alertmanager base URLs to poll for alerts whose webhooks were missed, every peer of an HA\n\
                       cluster (`[\"http://alertmanager-0:9093\", …]`); empty: Alertmanager is not polled.\n\
                       Env: comma-separated.",
            },
            Key {
                name: "alertmanager_receivers",
                slot: &Strings { at: at!(reconcile.alertmanager_receivers), parse: parse_name, whole: None },
                help: "Receivers whose alert groups reconciliation opens incidents for (those that send to\n\
                       postmortemd); empty: every receiver's.",
            },
            Key {
                name: "interval",
                slot: &Scalar { at: at!(reconcile.interval), format: POSITIVE_DURATION },
                help: "How often Alertmanager and PagerDuty are polled.",
            },
            Key {
                name: "timeout",
                slot: &Scalar { at: at!(reconcile.timeout), format: POSITIVE_DURATION },
                help: "How long one request of a poll may take; a peer that does not answer in time decides nothing.",
            },
        ],
    },
    Section {
        name: "reconcile.pagerduty",
        keys: &[
            Key {
                name: "api_url",
                slot: &Scalar { at: at!(reconcile.pagerduty_api_url), format: HTTP_URL },
                help: "PagerDuty's REST API.",
            },
            Key {
                name: "api_token",
                slot: &Secrets {
                    at: at!(reconcile.pagerduty_api_token),
                    file_help: "Or: a file holding the token (read at start, trimmed); set one of the two, not both.",
                },
                help: "A read-only PagerDuty REST API key (`Authorization: Token token=…`); empty: PagerDuty is not polled.",
            },
            Key {
                name: "services",
                slot: &Strings { at: at!(reconcile.pagerduty_services), parse: parse_name, whole: None },
                help: "PagerDuty service ids (`PXXXXXX`) whose incidents are followed (`service_ids[]`).",
            },
            Key {
                name: "teams",
                slot: &Strings { at: at!(reconcile.pagerduty_teams), parse: parse_name, whole: None },
                help: "PagerDuty team ids whose incidents are followed (`team_ids[]`).",
            },
            Key {
                name: "lookback",
                slot: &Scalar { at: at!(reconcile.pagerduty_lookback), format: POSITIVE_DURATION },
                help: "How far back the first poll looks; later polls resume from the last seen time (kept in the store).",
            },
        ],
    },
    // NB: a section holding one key of its own name is an array of tables at the top level.
    Section {
        name: "redact",
        keys: &[Key {
            name: "redact",
            slot: &Tables {
                at: at!(redact),
                example: &[("name", "\"session cookie\""), ("pattern", "'session=([A-Za-z0-9]+)'")],
                read: read_redact,
                write: |rule| vec![("name", quote(&rule.name)), ("pattern", quote(&rule.pattern))],
            },
            help: "Secrets to redact from log lines, Kubernetes objects (event messages, env values, probe\n\
                   headers) and webhook bodies besides the built-in rules (Authorization and Bearer headers,\n\
                   password/secret/token/api_key values, cloud keys, private keys, JWTs):\n\
                   what `pattern` (a regular expression) matches, or its first capture group, becomes\n\
                   `[REDACTED:<name>]` before it is stored or shown.",
        }],
    },
];

/// `[[redact]]`: a name (it is written into the text: no `]` or line break, unique) and a
/// pattern that compiles.
fn read_redact(row: &mut Row, earlier: &[RedactRule]) -> Result<RedactRule, Error> {
    let name = row.required("name")?;
    let pattern = row.required("pattern")?;
    if name.contains(|character: char| character == ']' || character.is_control()) {
        return Err(invalid(&format!("{}.name", row.key), format!("{name:?} holds a `]` or a control character")));
    }
    if earlier.iter().any(|rule| rule.name == name) {
        return Err(invalid(&format!("{}.name", row.key), format!("{name:?} names an earlier rule too")));
    }
    if let Err(error) = regex::Regex::new(&pattern) {
        return Err(invalid(&format!("{}.pattern", row.key), format!("not a regular expression: {error}")));
    }
    if regex::Regex::new(&pattern).is_ok_and(|regex| regex.is_match("")) {
        return Err(invalid(&format!("{}.pattern", row.key), format!("{pattern:?} matches empty text")));
    }
    Ok(RedactRule { name, pattern })
}

/// `[[kubernetes.targets]]`: a selector must depend on the alert, or every alert would
/// select the same pods.
fn read_target(row: &mut Row, _earlier: &[TargetRule]) -> Result<TargetRule, Error> {
    let label = row.required("label")?;
    let selector = row.required("selector")?;
    if !selector.contains("{value}") && !selector.contains("{{") {
        return Err(invalid(
            &format!("{}.selector", row.key),
            format!(
                "{selector:?} uses neither {{value}} nor a {{{{label}}}}: it would select the same pods for every alert"
            ),
        ));
    }
    Ok(TargetRule { label, selector })
}

/// `[[webhooks.pagerduty.links]]`: a PagerDuty `service` and the alert labels (`match`, at
/// least one) an incident must hold for the service's unlinked pages to join it.
fn read_link(row: &mut Row, _earlier: &[PagerDutyLink]) -> Result<PagerDutyLink, Error> {
    let service = row.required("service")?;
    let labels = row.labels("match")?.unwrap_or_default();
    if labels.is_empty() {
        return Err(invalid(
            &format!("{}.match", row.key),
            "expected at least one alert label: an empty match would link every page of the service".to_owned(),
        ));
    }
    Ok(PagerDutyLink { service, labels })
}

/// `[[prometheus.queries]]`: `name`, `query` and an optional `match` table; names are unique.
fn read_query(row: &mut Row, earlier: &[PrometheusQuery]) -> Result<PrometheusQuery, Error> {
    let name = row.required("name")?;
    let query = row.required("query")?;
    if earlier.iter().any(|query| query.name == name) {
        return Err(invalid(&format!("{}.name", row.key), format!("{name:?} names an earlier query too")));
    }
    let matchers = row.labels("match")?.unwrap_or_default();
    Ok(PrometheusQuery { name, matchers, query })
}

/// A section of the settings file (`[webhooks.pagerduty]`) and its keys.
struct Section {
    name: &'static str,
    keys: &'static [Key],
}

/// One key: its name in its section, how it reads and shows itself, and the help text
/// `example()` writes above it and docs/configuration.md shows as its meaning.
struct Key {
    name: &'static str,
    slot: &'static (dyn Slot + Sync),
    help: &'static str,
}

/// What a key does with [`Settings`].
trait Slot {
    /// Read `key` from the layers into `settings`; absent, the default stays.
    fn load(&self, layered: &Layered<'_>, key: &str, settings: &mut Settings) -> Result<(), Error>;
    /// The key as a settings file holds it, secrets masked.
    fn show(&self, settings: &Settings) -> Shown;
    /// For a secret: the help of its `<name>_file` companion key.
    fn file_help(&self) -> Option<&'static str> {
        None
    }
}

/// A key as a settings file holds it.
enum Shown {
    /// `name = value`, the value as TOML.
    Value(String),
    /// `[[section.name]]` tables, each row as (field, TOML value), and an example row for
    /// while there is none.
    Tables { rows: Vec<Vec<(&'static str, String)>>, example: &'static [(&'static str, &'static str)] },
}

/// A field of [`Settings`], to read and to write.
struct At<T> {
    get: fn(&Settings) -> &T,
    get_mut: fn(&mut Settings) -> &mut T,
}

/// How a value of one kind reads from its text and shows as TOML, exactly enough that
/// what `render` prints loads back as the same settings.
struct Format<T> {
    parse: fn(&str) -> Result<T, ValueError>,
    show: fn(&T) -> String,
}

const ADDRESS: Format<SocketAddr> = Format { parse: parse_listen, show: |address| quote(&address.to_string()) };
const STORE_URL: Format<String> =
    Format { parse: parse_store_url, show: |url| quote(&crate::store::redacted_url(url)) };
const PROMETHEUS_URL: Format<String> = Format { parse: parse_prometheus_url, show: |url| quote(url) };
const HTTP_URL: Format<String> = Format { parse: parse_http_url, show: |url| quote(url) };
const PATH: Format<Option<PathBuf>> = Format {
    parse: |text| Ok(Some(PathBuf::from(text.trim())).filter(|path| !path.as_os_str().is_empty())),
    show: |path| quote(&path.as_ref().map(|path| path.display().to_string()).unwrap_or_default()),
};
const SIZE: Format<usize> = Format { parse: parse_size, show: |bytes| quote(&format_size(*bytes)) };
const COUNT: Format<usize> = Format { parse: parse_count, show: usize::to_string };
const BOOL: Format<bool> = Format { parse: parse_bool, show: bool::to_string };
// Durations show as their unit string (`"1h 30m"`), as they are written.
const DURATION: Format<SignedDuration> =
    Format { parse: parse_duration, show: |duration| quote(&format!("{duration:#}")) };
const POSITIVE_DURATION: Format<SignedDuration> = Format { parse: parse_positive_duration, ..DURATION };
const STEP: Format<SignedDuration> = Format { parse: parse_step, ..DURATION };
// Long spans (retention) also take days, `90d`, and show in them when whole.
const LONG_DURATION: Format<SignedDuration> = Format { parse: parse_long_duration, show: show_long_duration };

/// A key of one value.
struct Scalar<T> {
    at: At<T>,
    format: Format<T>,
}

impl<T> Slot for Scalar<T> {
    fn load(&self, layered: &Layered<'_>, key: &str, settings: &mut Settings) -> Result<(), Error> {
        if let Some(text) = layered.text(key)? {
            let value = (self.format.parse)(&text).map_err(|error| Error::Value { key: key.to_owned(), error })?;
            *(self.at.get_mut)(settings) = value;
        }
        Ok(())
    }

    fn show(&self, settings: &Settings) -> Shown {
        Shown::Value((self.format.show)((self.at.get)(settings)))
    }
}

/// A key of several strings (`["a", "b"]`; env: comma-separated), each read by `parse`, then
/// the whole list checked by `whole` where the items depend on each other; empty items are none.
struct Strings {
    at: At<Vec<String>>,
    parse: fn(&str) -> Result<String, ValueError>,
    whole: Option<ListCheck>,
}

/// A check of a list's items together (`*` alone among namespaces).
type ListCheck = fn(&[String]) -> Result<(), ValueError>;

impl Slot for Strings {
    fn load(&self, layered: &Layered<'_>, key: &str, settings: &mut Settings) -> Result<(), Error> {
        if layered.value(key).is_none() {
            return Ok(());
        }
        let mut items = Vec::new();
        for (index, text) in layered.list(key)?.iter().enumerate() {
            if text.trim().is_empty() {
                continue;
            }
            let item = (self.parse)(text).map_err(|error| Error::Value { key: format!("{key}[{index}]"), error })?;
            items.push(item);
        }
        if let Some(whole) = self.whole {
            whole(&items).map_err(|error| Error::Value { key: key.to_owned(), error })?;
        }
        *(self.at.get_mut)(settings) = items;
        Ok(())
    }

    fn show(&self, settings: &Settings) -> Shown {
        let items: Vec<String> = (self.at.get)(settings).iter().map(|item| quote(item)).collect();
        Shown::Value(format!("[{}]", items.join(", ")))
    }
}

/// A key of secrets, given inline (env included) or by the file its `<name>_file` companion
/// names; empty ones are none.
struct Secrets<T> {
    at: At<T>,
    file_help: &'static str,
}

/// What a secret key holds: one secret (`Option<Secret>`) or several (`Vec<Secret>`).
trait SecretField {
    const SHAPE: Shape;
    fn from_secrets(secrets: Vec<Secret>) -> Self;
    /// The TOML value, each secret as `"***"`.
    fn masked(&self) -> String;
}

impl SecretField for Option<Secret> {
    const SHAPE: Shape = Shape::One;

    fn from_secrets(secrets: Vec<Secret>) -> Self {
        secrets.into_iter().next()
    }

    fn masked(&self) -> String {
        quote(if self.is_some() { "***" } else { "" })
    }
}

impl SecretField for Vec<Secret> {
    const SHAPE: Shape = Shape::List;

    fn from_secrets(secrets: Vec<Secret>) -> Self {
        secrets
    }

    fn masked(&self) -> String {
        format!("[{}]", self.iter().map(|_| "\"***\"").collect::<Vec<_>>().join(", "))
    }
}

impl<T: SecretField> Slot for Secrets<T> {
    fn load(&self, layered: &Layered<'_>, key: &str, settings: &mut Settings) -> Result<(), Error> {
        *(self.at.get_mut)(settings) = T::from_secrets(layered.secrets(key, T::SHAPE)?);
        Ok(())
    }

    fn show(&self, settings: &Settings) -> Shown {
        Shown::Value((self.at.get)(settings).masked())
    }

    fn file_help(&self) -> Option<&'static str> {
        Some(self.file_help)
    }
}

/// A key whose value is an array of tables (`[[prometheus.queries]]`); present in any layer,
/// its rows replace the default ones.
struct Tables<T> {
    at: At<Vec<T>>,
    /// Every field a row may hold, in order, each with an example value.
    example: &'static [(&'static str, &'static str)],
    /// One row, given the rows before it.
    read: fn(&mut Row, &[T]) -> Result<T, Error>,
    /// One row as (field, TOML value).
    write: fn(&T) -> Vec<(&'static str, String)>,
}

impl<T> Slot for Tables<T> {
    fn load(&self, layered: &Layered<'_>, key: &str, settings: &mut Settings) -> Result<(), Error> {
        let fields: Vec<&str> = self.example.iter().map(|(field, _)| *field).collect();
        let Some(rows) = layered.rows(key, &fields)? else { return Ok(()) };
        let mut items = Vec::with_capacity(rows.len());
        for mut row in rows {
            let item = (self.read)(&mut row, &items)?;
            items.push(item);
        }
        *(self.at.get_mut)(settings) = items;
        Ok(())
    }

    fn show(&self, settings: &Settings) -> Shown {
        Shown::Tables { rows: (self.at.get)(settings).iter().map(self.write).collect(), example: self.example }
    }
}

impl Section {
    /// Whether the section is one array of tables at the top level (`[[redact]]`): a section
    /// holding one key of its own name.
    fn is_top_level(&self) -> bool {
        matches!(self.keys, [key] if key.name == self.name)
    }

    /// A key's path in the settings (`window.lead_in`; `redact` at the top level).
    fn key_path(&self, key: &Key) -> String {
        if self.is_top_level() { key.name.to_owned() } else { format!("{}.{}", self.name, key.name) }
    }

    /// The names a section's table may hold: each key's, and a secret's `<name>_file` after it.
    fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for key in self.keys {
            names.push(key.name.to_owned());
            if key.slot.file_help().is_some() {
                names.push(format!("{}_file", key.name));
            }
        }
        names
    }
}

/// Load the settings: defaults < `file` < the environment (`env`: `None` is the process
/// environment, `Some(map)` that map instead) < `overrides`.
///
/// Environment variables without a section (`POSTMORTEMD_LOG`) are process knobs, not
/// settings, and are left alone.
pub fn load(
    file: Option<&Path>,
    env: Option<HashMap<String, String>>,
    overrides: &Overrides,
) -> Result<Settings, Error> {
    let env = env.unwrap_or_else(|| std::env::vars().collect());
    let section_prefix = format!("{ENV_PREFIX}_");
    let env: config::Map<String, String> = env
        .into_iter()
        .filter(|(name, _)| {
            name.to_ascii_uppercase().strip_prefix(&section_prefix).is_some_and(|rest| rest.contains("__"))
        })
        .collect();

    let mut builder = Config::builder();
    if let Some(file) = file {
        builder = builder.add_source(File::from(file).format(FileFormat::Toml).required(true));
    }
    builder = builder
        .add_source(Environment::with_prefix(ENV_PREFIX).prefix_separator("_").separator("__").source(Some(env)));
    if let Some(listen) = overrides.listen {
        builder = builder.set_override("server.listen", listen.to_string())?;
    }
    if let Some(store) = &overrides.store {
        builder = builder.set_override("store.url", store.as_str())?;
    }
    let layers = builder.build()?;
    check_known_keys(&layers)?;
    let layered = Layered(&layers);
    let mut settings = Settings::default();
    for section in KEYS {
        for key in section.keys {
            key.slot.load(&layered, &section.key_path(key), &mut settings)?;
        }
    }
    Ok(settings)
}

/// One table of an array of tables, its fields taken one by one and named in errors
/// (`prometheus.queries[1].match.namespace`).
struct Row {
    /// `prometheus.queries[1]`.
    key: String,
    entries: HashMap<String, Value>,
}

impl Row {
    /// A non-empty string field, trimmed.
    fn required(&mut self, field: &str) -> Result<String, Error> {
        let field_key = format!("{}.{field}", self.key);
        match self.entries.remove(field).map(|value| value.kind) {
            Some(ValueKind::String(text)) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
            Some(ValueKind::String(_)) | None => {
                Err(invalid(&field_key, "missing; expected a non-empty string".to_owned()))
            }
            Some(other) => Err(invalid(&field_key, format!("expected a string, found {other}"))),
        }
    }

    /// A table of alert label values (`match = { namespace = "shop" }`); `None` when absent.
    fn labels(&mut self, field: &str) -> Result<Option<BTreeMap<String, String>>, Error> {
        let field_key = format!("{}.{field}", self.key);
        let table = match self.entries.remove(field).map(|value| value.kind) {
            None => return Ok(None),
            Some(ValueKind::Table(table)) => table,
            Some(other) => {
                return Err(invalid(&field_key, format!("expected a table of label = \"value\", found {other}")));
            }
        };
        let mut labels = BTreeMap::new();
        for (label, value) in table {
            match value.kind {
                ValueKind::String(text) => labels.insert(label, text),
                other => {
                    return Err(invalid(
                        &format!("{field_key}.{label}"),
                        format!("expected a label value as a string, found {other}"),
                    ));
                }
            };
        }
        Ok(Some(labels))
    }
}

/// Every key of the merged layers must be one of [`KEYS`].
fn check_known_keys(layers: &Config) -> Result<(), Error> {
    let table: config::Map<String, Value> = layers.clone().try_deserialize()?;
    walk_tables("", table)
}

fn walk_tables(path: &str, table: config::Map<String, Value>) -> Result<(), Error> {
    // Sorted so that, of several typos, the same one is reported every time.
    let mut entries: Vec<(String, Value)> = table.into_iter().collect();
    entries.sort_by(|left, right| left.0.cmp(&right.0));
    for (name, value) in entries {
        let key = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
        if let Some(section) = KEYS.iter().find(|section| section.name == key) {
            // Its rows are checked as they load.
            if section.is_top_level() {
                continue;
            }
            let ValueKind::Table(inner) = value.kind else {
                return Err(invalid(&key, "expected a table of settings".to_owned()));
            };
            let known = section.names();
            // A section may hold sections of its own (`[reconcile]` and `[reconcile.pagerduty]`).
            let (nested, own): (config::Map<String, Value>, config::Map<String, Value>) = inner
                .into_iter()
                .partition(|(name, _)| KEYS.iter().any(|section| section.name == format!("{key}.{name}")));
            let mut names: Vec<&String> = own.keys().collect();
            names.sort();
            if let Some(unknown) = names.into_iter().find(|name| !known.contains(name)) {
                return Err(Error::UnknownKey { key: format!("{key}.{unknown}"), expected: known.join(", ") });
            }
            walk_tables(&key, nested)?;
        } else if KEYS.iter().any(|section| section.name.starts_with(&format!("{key}."))) {
            let ValueKind::Table(inner) = value.kind else {
                return Err(invalid(&key, "expected a table of settings".to_owned()));
            };
            walk_tables(&key, inner)?;
        } else {
            let prefix = if path.is_empty() { String::new() } else { format!("{path}.") };
            let expected = KEYS
                .iter()
                .filter_map(|section| section.name.strip_prefix(&prefix))
                .map(|rest| rest.split('.').next().unwrap_or(rest))
                .fold(Vec::new(), |mut names, name| {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                    names
                })
                .join(", ");
            return Err(Error::UnknownKey { key, expected });
        }
    }
    Ok(())
}

fn invalid(key: &str, message: String) -> Error {
    Error::Invalid { key: key.to_owned(), message }
}

/// Whether a secret key holds one secret or a list of them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    One,
    List,
}

/// The merged layers, read key by key into typed values.
struct Layered<'a>(&'a Config);

impl Layered<'_> {
    fn value(&self, key: &str) -> Option<Value> {
        match self.0.get::<Value>(key) {
            Ok(value) if !matches!(value.kind, ValueKind::Nil) => Some(value),
            _ => None,
        }
    }

    /// The text of a scalar key; numbers count as text (`max_body_bytes = 1048576`).
    fn text(&self, key: &str) -> Result<Option<String>, Error> {
        match self.value(key) {
            None => Ok(None),
            Some(value) => match value.kind {
                ValueKind::Table(_) | ValueKind::Array(_) => {
                    Err(invalid(key, "expected a single value, not a table or a list".to_owned()))
                }
                _ => value.into_string().map(Some).map_err(|error| invalid(key, error.to_string())),
            },
        }
    }

    /// The secrets of `key`, or of `key_file` (one per line); empty ones are none.
    fn secrets(&self, key: &str, shape: Shape) -> Result<Vec<Secret>, Error> {
        let file_key = format!("{key}_file");
        let inline = match shape {
            Shape::One => self.text(key)?.into_iter().collect::<Vec<_>>(),
            Shape::List => self.list(key)?,
        };
        let inline: Vec<String> =
            inline.into_iter().map(|secret| secret.trim().to_owned()).filter(|secret| !secret.is_empty()).collect();
        let file = self.text(&file_key)?.filter(|path| !path.trim().is_empty());
        let Some(file) = file else {
            return Ok(inline.into_iter().map(Secret::new).collect());
        };
        if !inline.is_empty() {
            return Err(invalid(key, format!("set either {key} or {file_key}, not both")));
        }
        let path = PathBuf::from(file.trim());
        let contents = std::fs::read_to_string(&path).map_err(|source| Error::SecretFile {
            key: file_key.clone(),
            path: path.clone(),
            source,
        })?;
        let secrets: Vec<Secret> =
            contents.lines().map(str::trim).filter(|line| !line.is_empty()).map(Secret::new).collect();
        if shape == Shape::One && secrets.len() > 1 {
            return Err(invalid(
                &file_key,
                format!("{} holds {} lines, expected one secret", path.display(), secrets.len()),
            ));
        }
        Ok(secrets)
    }

    /// The tables of an array of tables (`[[prometheus.queries]]`), each holding only
    /// `fields`; `None` when the key is absent.
    fn rows(&self, key: &str, fields: &[&str]) -> Result<Option<Vec<Row>>, Error> {
        let Some(value) = self.value(key) else { return Ok(None) };
        let ValueKind::Array(items) = value.kind else {
            return Err(invalid(key, format!("expected a list of tables ([[{key}]])")));
        };
        let mut rows = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let item_key = format!("{key}[{index}]");
            let ValueKind::Table(entries) = item.kind else {
                return Err(invalid(&item_key, format!("expected a table ([[{key}]])")));
            };
            let mut names: Vec<&String> = entries.keys().collect();
            names.sort();
            if let Some(unknown) = names.into_iter().find(|name| !fields.contains(&name.as_str())) {
                return Err(Error::UnknownKey { key: format!("{item_key}.{unknown}"), expected: fields.join(", ") });
            }
            rows.push(Row { key: item_key, entries });
        }
        Ok(Some(rows))
    }

    /// A list of strings; a single string is comma-separated (how lists come from the
    /// environment).
    fn list(&self, key: &str) -> Result<Vec<String>, Error> {
        let Some(value) = self.value(key) else { return Ok(Vec::new()) };
        match value.kind {
            ValueKind::Array(items) => items
                .into_iter()
                .map(|item| match item.kind {
                    ValueKind::String(text) => Ok(text),
                    other => Err(invalid(key, format!("expected a list of strings, found {other}"))),
                })
                .collect(),
            ValueKind::Table(_) => Err(invalid(key, "expected a list of strings, not a table".to_owned())),
            _ => {
                let text = value.into_string().map_err(|error| invalid(key, error.to_string()))?;
                Ok(text.split(',').map(str::to_owned).collect())
            }
        }
    }
}

fn parse_listen(text: &str) -> Result<SocketAddr, ValueError> {
    text.trim().parse().map_err(|_| Problem::NotA("an address like 127.0.0.1:8080").of(text))
}

fn parse_prometheus_url(text: &str) -> Result<String, ValueError> {
    let trimmed = text.trim().trim_end_matches('/');
    if trimmed.is_empty() || trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        Ok(trimmed.to_owned())
    } else {
        Err(Problem::NotA("a URL like http://prometheus:9090 (or empty: no Prometheus collection)").of(text))
    }
}

/// An http(s) URL, without a trailing slash.
fn parse_http_url(text: &str) -> Result<String, ValueError> {
    let trimmed = text.trim().trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        Ok(trimmed.to_owned())
    } else {
        Err(Problem::NotA("a URL like http://alertmanager:9093").of(text))
    }
}

/// A name or id, trimmed.
fn parse_name(text: &str) -> Result<String, ValueError> {
    Ok(text.trim().to_owned())
}

/// A positive duration of whole milliseconds (Prometheus's resolution).
fn parse_step(text: &str) -> Result<SignedDuration, ValueError> {
    let duration = parse_duration(text)?;
    if duration.as_millis() < 1 {
        return Err(Problem::BelowMillisecond("a duration like 15s").of(text));
    }
    if duration.subsec_nanos() % 1_000_000 != 0 {
        return Err(Problem::FractionOfMillisecond("a duration like 15s").of(text));
    }
    Ok(duration)
}

/// A namespace name (a DNS label), or `*` (every namespace).
fn parse_namespace(name: &str) -> Result<String, ValueError> {
    let name = name.trim();
    let is_label = name.len() <= 63
        && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if name != "*" && !is_label {
        return Err(Problem::NotA("a namespace name (lower-case letters, digits, `-`) or \"*\"").of(name));
    }
    Ok(name.to_owned())
}

/// `kubernetes.namespaces`: `*` alone or namespace names, not both.
fn star_alone(names: &[String]) -> Result<(), ValueError> {
    if names.iter().any(|name| name == "*") && names.len() > 1 {
        return Err(Problem::NotA("[\"*\"] alone or a list of namespace names").of(&names.join(",")));
    }
    Ok(())
}

fn parse_bool(text: &str) -> Result<bool, ValueError> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Problem::NotA("true or false").of(text)),
    }
}

fn parse_count(text: &str) -> Result<usize, ValueError> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err(Problem::Zero("a positive number").of(text)),
        Ok(count) => Ok(count),
        Err(_) => Err(Problem::NotA("a positive number").of(text)),
    }
}

fn parse_positive_duration(text: &str) -> Result<SignedDuration, ValueError> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(Problem::Zero("a duration like 5m").of(text));
    }
    Ok(duration)
}

fn parse_duration(text: &str) -> Result<SignedDuration, ValueError> {
    match text.trim().parse::<SignedDuration>() {
        Ok(duration) if duration.is_negative() => Err(Problem::Negative("a duration like 20m").of(text)),
        Ok(duration) => Ok(duration),
        Err(_) => Err(Problem::NotA("a duration like 20m").of(text)),
    }
}

/// A duration that may also be whole days (`90d`, 24 hours each: no calendar here) or weeks.
fn parse_long_duration(text: &str) -> Result<SignedDuration, ValueError> {
    let trimmed = text.trim();
    let days = [("d", 1), ("w", 7)].iter().find_map(|(unit, days)| {
        let number = trimmed.strip_suffix(unit)?.trim_end();
        number.parse::<i64>().ok().map(|number| number.checked_mul(*days))
    });
    match days {
        Some(Some(days)) if days < 0 => Err(Problem::Negative("a duration like 90d").of(text)),
        Some(Some(days)) if days <= i64::MAX / 86_400 => Ok(SignedDuration::from_hours(days * 24)),
        Some(_) => Err(Problem::NotA("a duration like 90d").of(text)),
        None => parse_duration(text).map_err(|_| Problem::NotA("a duration like 90d").of(text)),
    }
}

fn show_long_duration(duration: &SignedDuration) -> String {
    let seconds = duration.as_secs();
    if seconds > 0 && seconds % 86_400 == 0 && duration.subsec_nanos() == 0 {
        quote(&format!("{}d", seconds / 86_400))
    } else {
        quote(&format!("{duration:#}"))
    }
}

/// Units of sizes, longest first so that `MiB` is not read as `B`.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("kB", 1_000),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("B", 1),
];

fn parse_size(text: &str) -> Result<usize, ValueError> {
    let expected = || Problem::NotA("a size like 4MiB or a number of bytes").of(text);
    let trimmed = text.trim();
    let (number, multiplier) = SIZE_UNITS
        .iter()
        .find_map(|(unit, multiplier)| trimmed.strip_suffix(unit).map(|number| (number.trim_end(), *multiplier)))
        .unwrap_or((trimmed, 1));
    let number: u64 = number.parse().map_err(|_| expected())?;
    let bytes = number.checked_mul(multiplier).and_then(|bytes| usize::try_from(bytes).ok()).ok_or_else(expected)?;
    if bytes == 0 {
        return Err(Problem::Zero("a size like 4MiB").of(text));
    }
    Ok(bytes)
}

fn parse_store_url(text: &str) -> Result<String, ValueError> {
    let trimmed = text.trim();
    let rest = ["sqlite:", "postgres://", "postgresql://"].iter().find_map(|scheme| trimmed.strip_prefix(scheme));
    match rest {
        Some(rest) if !rest.trim_start_matches('/').is_empty() => Ok(trimmed.to_owned()),
        _ => Err(Problem::NotA("a store url like sqlite://./data/postmortemd.db or postgres://user@host/db").of(text)),
    }
}

/// The effective settings as TOML, every secret shown as `"***"`.
pub fn render(settings: &Settings) -> String {
    write_settings(settings, false)
}

/// The example settings file: the defaults, with a comment per key.
/// `config/postmortemd.example.toml` is its output.
pub fn example() -> String {
    write_settings(&Settings::default(), true)
}

fn write_settings(settings: &Settings, comments: bool) -> String {
    let mut text = String::new();
    let comment = |text: &mut String, help: &str| {
        if comments {
            for line in help.lines() {
                let _ = writeln!(text, "# {}", line.trim());
            }
        }
    };
    if comments {
        text.push_str(
            "# postmortemd settings: the built-in defaults, generated by `config::example()`.\n\
             # Each key can be set by env POSTMORTEMD_<SECTION>__<KEY>, e.g. POSTMORTEMD_SERVER__LISTEN.\n",
        );
    }
    for (section_idx, section) in KEYS.iter().enumerate() {
        if section_idx > 0 || comments {
            text.push('\n');
        }
        if !section.is_top_level() {
            let _ = writeln!(text, "[{}]", section.name);
        }
        // Arrays of tables come after the section's plain keys, as `[[section.key]]`.
        let mut tables = Vec::new();
        for key in section.keys {
            match key.slot.show(settings) {
                Shown::Value(value) => {
                    comment(&mut text, key.help);
                    let _ = writeln!(text, "{} = {value}", key.name);
                }
                Shown::Tables { rows, example } => tables.push((key, rows, example)),
            }
            // `*_file` keys are read at load; their secrets show under the plain key.
            if let Some(file_help) = key.slot.file_help()
                && comments
            {
                comment(&mut text, file_help);
                let _ = writeln!(text, "# {}_file = \"/var/run/secrets/postmortemd/{}\"", key.name, key.name);
            }
        }
        for (key, rows, example) in tables {
            let table_key = section.key_path(key);
            comment(&mut text, key.help);
            if rows.is_empty() && comments {
                let _ = writeln!(text, "# [[{table_key}]]");
                for (field, value) in example {
                    let _ = writeln!(text, "# {field} = {value}");
                }
            }
            for row in rows {
                let _ = writeln!(text, "[[{table_key}]]");
                for (field, value) in row {
                    let _ = writeln!(text, "{field} = {value}");
                }
            }
        }
    }
    text
}

/// `markdown` (docs/configuration.md) with the table of each section's keys, between
/// `<!-- keys SECTION -->` and `<!-- /keys -->`, generated anew: key, default as
/// `example()` writes it, and help. The prose around the tables is left as it is.
pub fn document(markdown: &str) -> String {
    const BEGIN: &str = "<!-- keys ";
    const END: &str = "<!-- /keys -->";
    let mut text = String::with_capacity(markdown.len());
    let mut rest = markdown;
    while let Some(begin) = rest.find(BEGIN) {
        let Some(marker_len) = rest[begin..].find("-->").map(|close| close + "-->".len()) else { break };
        let name = rest[begin + BEGIN.len()..begin + marker_len - "-->".len()].trim();
        let (Some(section), Some(end)) = (KEYS.iter().find(|section| section.name == name), rest[begin..].find(END))
        else {
            text.push_str(&rest[..begin + marker_len]);
            rest = &rest[begin + marker_len..];
            continue;
        };
        text.push_str(&rest[..begin + marker_len]);
        text.push_str("\n\n");
        text.push_str(&key_table(section));
        text.push('\n');
        rest = &rest[begin + end..];
    }
    text.push_str(rest);
    text
}

/// A section's keys as a Markdown table.
fn key_table(section: &Section) -> String {
    let defaults = Settings::default();
    let cell = |text: &str| text.lines().map(str::trim).collect::<Vec<_>>().join(" ").replace('|', "\\|");
    let mut table = String::from("| Key | Default | Meaning |\n|-----|---------|---------|\n");
    for key in section.keys {
        let (name, default, meaning) = match key.slot.show(&defaults) {
            Shown::Value(value) => (format!("`{}`", key.name), format!("`{value}`"), cell(key.help)),
            Shown::Tables { rows, example } => {
                let rows: Vec<String> = rows
                    .iter()
                    .map(|row| {
                        let fields: Vec<String> =
                            row.iter().map(|(field, value)| format!("{field} = {value}")).collect();
                        format!("`{{ {} }}`", fields.join(", "))
                    })
                    .collect();
                let fields: Vec<String> = example.iter().map(|(field, _)| format!("`{field}`")).collect();
                (
                    format!("`[[{}]]`", section.key_path(key)),
                    if rows.is_empty() { "none".to_owned() } else { cell(&rows.join(", ")) },
                    format!("{} Fields: {}.", cell(key.help), fields.join(", ")),
                )
            }
        };
        let _ = writeln!(table, "| {name} | {default} | {meaning} |");
        if let Some(file_help) = key.slot.file_help() {
            let _ = writeln!(table, "| `{}_file` | — | {} |", key.name, cell(file_help));
        }
    }
    table
}

/// A table of label values as TOML (`{ "namespace" = "shop" }`).
fn show_labels(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> =
        labels.iter().map(|(label, value)| format!("{} = {}", quote(label), quote(value))).collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            control if control.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", control as u32);
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// The largest binary unit that divides the size exactly, so the text reads back the same.
pub fn format_size(bytes: usize) -> String {
    let bytes = bytes as u64;
    for (unit, multiplier) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= multiplier && bytes.is_multiple_of(multiplier) {
            return format!("{}{unit}", bytes / multiplier);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/postmortemd.example.toml");
    const DOCS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");

    fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect())
    }

    /// A settings file with these contents, in a folder of its own.
    fn settings_file(name: &str, contents: &str) -> PathBuf {
        let folder = std::env::temp_dir().join(format!("postmortemd-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(format!("{name}.toml"));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[track_caller]
    fn check_error(toml: &str, pairs: &[(&str, &str)], expected: &str) {
        let path = settings_file(&format!("invalid-{:x}", fxhash(toml, pairs)), toml);
        match load(Some(&path), env(pairs), &Overrides::default()) {
            Ok(settings) => panic!("{toml:?} {pairs:?} loaded as {settings:?}, expected {expected:?}"),
            Err(error) => assert_eq!(error.to_string(), expected, "{toml:?} {pairs:?}"),
        }
    }

    /// A file name per row, so that rows running in parallel do not share files.
    fn fxhash(toml: &str, pairs: &[(&str, &str)]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (toml, pairs).hash(&mut hasher);
        hasher.finish()
    }

    /// A settings file, the environment, and the error they make.
    type InvalidRow<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

    #[test]
    fn invalid_settings_name_the_key_and_what_was_expected() {
        let rows: &[InvalidRow] = &[
            ("[window]\nlead_in = \"20 parsecs\"", &[], "window.lead_in: \"20 parsecs\" is not a duration like 20m"),
            ("[window]\ntail = \"-5m\"", &[], "window.tail: \"-5m\" is negative, expected a duration like 20m"),
            (
                "",
                &[("POSTMORTEMD_WINDOW__QUIET_PERIOD", "soon")],
                "window.quiet_period: \"soon\" is not a duration like 20m",
            ),
            (
                "[server]\nlisten = \"localhost\"",
                &[],
                "server.listen: \"localhost\" is not an address like 127.0.0.1:8080",
            ),
            (
                "[server]\nmax_body_bytes = \"4 megs\"",
                &[],
                "server.max_body_bytes: \"4 megs\" is not a size like 4MiB or a number of bytes",
            ),
            ("[server]\nmax_body_bytes = 0", &[], "server.max_body_bytes: \"0\" is zero, expected a size like 4MiB"),
            ("[server]\nlisten = [\"a\"]", &[], "server.listen: expected a single value, not a table or a list"),
            (
                "[store]\nurl = \"mysql://db\"",
                &[],
                "store.url: \"mysql://db\" is not a store url like sqlite://./data/postmortemd.db or postgres://user@host/db",
            ),
            (
                "[server]\nlisten_addr = \"127.0.0.1:1\"",
                &[],
                "server.listen_addr: unknown key (expected one of: listen, max_body_bytes, shutdown_grace, max_connections, \
                 max_requests_in_flight, header_timeout, body_timeout, max_body_bytes_in_flight)",
            ),
            (
                "[windows]\ntail = \"1m\"",
                &[],
                "windows: unknown key (expected one of: server, store, webhooks, api, window, collect, kubernetes, prometheus, reconcile, redact)",
            ),
            (
                "[webhooks.pagerduty]\nsigning_secret = \"x\"",
                &[],
                "webhooks.pagerduty.signing_secret: unknown key (expected one of: signing_secrets, signing_secrets_file, link_within, links)",
            ),
            (
                "",
                &[("POSTMORTEMD_STORE__URI", "sqlite://x.db")],
                "store.uri: unknown key (expected one of: url, retention, max_evidence_bytes)",
            ),
            ("[store]\nretention = \"90 days\"", &[], "store.retention: \"90 days\" is not a duration like 90d"),
            ("[store]\nretention = \"-3d\"", &[], "store.retention: \"-3d\" is negative, expected a duration like 90d"),
            (
                "[store]\nmax_evidence_bytes = 0",
                &[],
                "store.max_evidence_bytes: \"0\" is zero, expected a size like 4MiB",
            ),
            ("[collect]\nconcurrency = 0", &[], "collect.concurrency: \"0\" is zero, expected a positive number"),
            ("[collect]\nmax_window = \"0s\"", &[], "collect.max_window: \"0s\" is zero, expected a duration like 5m"),
            (
                "[webhooks.slack]\nurl = \"x\"",
                &[],
                "webhooks.slack: unknown key (expected one of: alertmanager, pagerduty)",
            ),
            ("[api]\nbearer_tokens = [1]", &[], "api.bearer_tokens: expected a list of strings, found 1"),
            ("[kubernetes]\nmax_pods = 0", &[], "kubernetes.max_pods: \"0\" is zero, expected a positive number"),
            (
                "",
                &[("POSTMORTEMD_KUBERNETES__MAX_BYTES_PER_CONTAINER", "lots")],
                "kubernetes.max_bytes_per_container: \"lots\" is not a size like 4MiB or a number of bytes",
            ),
            (
                "[kubernetes]\nrecollect_every = \"0s\"",
                &[],
                "kubernetes.recollect_every: \"0s\" is zero, expected a duration like 5m",
            ),
            (
                "[[kubernetes.targets]]\nlabel = \"app\"",
                &[],
                "kubernetes.targets[0].selector: missing; expected a non-empty string",
            ),
            (
                "[[kubernetes.targets]]\nlabel = \"app\"\nselector = \"app=api\"",
                &[],
                "kubernetes.targets[0].selector: \"app=api\" uses neither {value} nor a {{label}}: it would select the same pods for every alert",
            ),
            (
                "[[kubernetes.services]]\npagerduty_service = \"Checkout\"\nnamespace = \"shop\"\nselector = \"app=checkout\"\nlabel = \"x\"",
                &[],
                "kubernetes.services[0].label: unknown key (expected one of: pagerduty_service, namespace, selector)",
            ),
            (
                "[kubernetes]\ntargets = \"app\"",
                &[],
                "kubernetes.targets: expected a list of tables ([[kubernetes.targets]])",
            ),
            (
                "[api]\nbearer_tokens = [\"a\"]\nbearer_tokens_file = \"/x\"",
                &[],
                "api.bearer_tokens: set either api.bearer_tokens or api.bearer_tokens_file, not both",
            ),
            (
                "[webhooks.alertmanager]\nbearer_token_file = \"/nonexistent/postmortemd/token\"",
                &[],
                "webhooks.alertmanager.bearer_token_file: cannot read /nonexistent/postmortemd/token: No such file or directory (os error 2)",
            ),
            (
                "[prometheus]\nurl = \"prometheus:9090\"",
                &[],
                "prometheus.url: \"prometheus:9090\" is not a URL like http://prometheus:9090 (or empty: no Prometheus collection)",
            ),
            (
                "",
                &[("POSTMORTEMD_PROMETHEUS__STEP", "0s")],
                "prometheus.step: \"0s\" is shorter than a millisecond, expected a duration like 15s",
            ),
            ("[prometheus]\nnode_clock = \"yes\"", &[], "prometheus.node_clock: \"yes\" is not true or false"),
            (
                "[kubernetes]\nnamespaces = [\"shop\", \"Kube_System\"]",
                &[],
                "kubernetes.namespaces[1]: \"Kube_System\" is not a namespace name (lower-case letters, digits, `-`) or \"*\"",
            ),
            (
                "",
                &[("POSTMORTEMD_KUBERNETES__NAMESPACES", "shop,*")],
                "kubernetes.namespaces: \"shop,*\" is not [\"*\"] alone or a list of namespace names",
            ),
            ("[kubernetes.namespaces]\nx = 1", &[], "kubernetes.namespaces: expected a list of strings, not a table"),
            (
                "[[redact]]\nname = \"a\"\npattern = \"(\"",
                &[],
                "redact[0].pattern: not a regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group",
            ),
            ("[[redact]]\nname = \"a\"\npattern = \"x*\"", &[], "redact[0].pattern: \"x*\" matches empty text"),
            (
                "[[redact]]\nname = \"a]\"\npattern = \"x\"",
                &[],
                "redact[0].name: \"a]\" holds a `]` or a control character",
            ),
            (
                "[[redact]]\nname = \"a\"\npattern = \"x\"\n[[redact]]\nname = \"a\"\npattern = \"y\"",
                &[],
                "redact[1].name: \"a\" names an earlier rule too",
            ),
            (
                "[[redact]]\nname = \"a\"\npatern = \"x\"",
                &[],
                "redact[0].patern: unknown key (expected one of: name, pattern)",
            ),
            (
                "[[prometheus.queries]]\nname = \"x\"",
                &[],
                "prometheus.queries[0].query: missing; expected a non-empty string",
            ),
            (
                "[[prometheus.queries]]\nname = \"x\"\nquery = \"up\"\nmatch = \"alertname=X\"",
                &[],
                "prometheus.queries[0].match: expected a table of label = \"value\", found alertname=X",
            ),
            (
                "[[prometheus.queries]]\nname = \"x\"\nquery = \"up\"\nmatch = { severity = 2 }",
                &[],
                "prometheus.queries[0].match.severity: expected a label value as a string, found 2",
            ),
            (
                "[[prometheus.queries]]\nname = \"x\"\nquery = \"up\"\n[[prometheus.queries]]\nname = \"x\"\nquery = \"down\"",
                &[],
                "prometheus.queries[1].name: \"x\" names an earlier query too",
            ),
            (
                "[[prometheus.queries]]\nname = \"x\"\nexpr = \"up\"",
                &[],
                "prometheus.queries[0].expr: unknown key (expected one of: name, match, query)",
            ),
            (
                "[prometheus]\nqueries = \"up\"",
                &[],
                "prometheus.queries: expected a list of tables ([[prometheus.queries]])",
            ),
            (
                "[api]\nbearer_tokens = [\"a\"]\nbearer_tokens_file = \"/x\"",
                &[],
                "api.bearer_tokens: set either api.bearer_tokens or api.bearer_tokens_file, not both",
            ),
            (
                "[webhooks.pagerduty]\nlink_within = \"half an hour\"",
                &[],
                "webhooks.pagerduty.link_within: \"half an hour\" is not a duration like 20m",
            ),
            (
                "[[webhooks.pagerduty.links]]\nservice = \"Checkout API\"\nmatches = { a = \"b\" }",
                &[],
                "webhooks.pagerduty.links[0].matches: unknown key (expected one of: service, match)",
            ),
            (
                "[[webhooks.pagerduty.links]]\nmatch = { a = \"b\" }",
                &[],
                "webhooks.pagerduty.links[0].service: missing; expected a non-empty string",
            ),
            (
                "[[webhooks.pagerduty.links]]\nservice = \"a\"\nmatch = { a = \"b\" }\n\
                 [[webhooks.pagerduty.links]]\nservice = \"b\"\nmatch = { port = 8080 }",
                &[],
                "webhooks.pagerduty.links[1].match.port: expected a label value as a string, found 8080",
            ),
            (
                "[[webhooks.pagerduty.links]]\nservice = \"a\"\nmatch = {}",
                &[],
                "webhooks.pagerduty.links[0].match: expected at least one alert label: an empty match would link every page of the service",
            ),
            (
                "[[webhooks.pagerduty.links]]\nservice = \"a\"",
                &[],
                "webhooks.pagerduty.links[0].match: expected at least one alert label: an empty match would link every page of the service",
            ),
            (
                "",
                &[("POSTMORTEMD_WEBHOOKS__PAGERDUTY__LINKS", "Checkout API")],
                "webhooks.pagerduty.links: expected a list of tables ([[webhooks.pagerduty.links]])",
            ),
            (
                "[webhooks.alertmanager]\nbearer_token_file = \"/nonexistent/postmortemd/token\"",
                &[],
                "webhooks.alertmanager.bearer_token_file: cannot read /nonexistent/postmortemd/token: No such file or directory (os error 2)",
            ),
        ];
        for (toml, pairs, expected) in rows {
            check_error(toml, pairs, expected);
        }
    }

    #[test]
    fn a_missing_or_broken_file_is_an_error_naming_it() {
        let missing = Path::new("/nonexistent/postmortemd.toml");
        let error = load(Some(missing), env(&[]), &Overrides::default()).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/postmortemd.toml"), "{error}");
        let broken = settings_file("broken", "[server\nlisten = ");
        let error = load(Some(&broken), env(&[]), &Overrides::default()).unwrap_err().to_string();
        assert!(error.starts_with("cannot load the settings: ") && error.contains("broken.toml"), "{error}");
    }

    #[test]
    fn layers_apply_defaults_then_file_then_env_then_flags() {
        let path = settings_file(
            "layers",
            "[server]\nlisten = \"0.0.0.0:9000\"\nmax_body_bytes = 1048576\n[store]\nurl = \"sqlite://file.db\"\n\
             [window]\nlead_in = \"1h 30m\"\ntail = \"45s\"\n",
        );
        let pairs = [
            ("POSTMORTEMD_STORE__URL", "sqlite://env.db"),
            ("POSTMORTEMD_WINDOW__TAIL", "2m"),
            ("POSTMORTEMD_LOG", "debug"),
            ("OTHER_SERVER__LISTEN", "nonsense"),
        ];
        let flags = Overrides { listen: Some("[::1]:7000".parse().unwrap()), store: None };
        let settings = load(Some(&path), env(&pairs), &flags).unwrap();
        let defaults = Settings::default();
        assert_eq!(settings.server.listen, "[::1]:7000".parse().unwrap(), "the flag beats the file");
        assert_eq!(settings.server.max_body_bytes, 1 << 20, "the file beats the default");
        assert_eq!(settings.server.shutdown_grace, defaults.server.shutdown_grace, "untouched: the default");
        assert_eq!(settings.store.url, "sqlite://env.db", "env beats the file");
        assert_eq!(settings.window.lead_in, SignedDuration::from_mins(90));
        assert_eq!(settings.window.tail, SignedDuration::from_mins(2));

        let flags = Overrides { listen: None, store: Some("sqlite://flag.db".to_owned()) };
        let settings = load(Some(&path), env(&pairs), &flags).unwrap();
        assert_eq!(settings.store.url, "sqlite://flag.db", "the flag beats env");
        assert_eq!(settings.server.listen, "0.0.0.0:9000".parse().unwrap());
    }

    #[test]
    fn secrets_come_from_values_env_and_files() {
        let secrets = settings_file("secrets-list", "\n  first-secret  \n\nsecond-secret\n");
        let token = settings_file("secrets-token", "token-from-file\n");
        let file = settings_file(
            "secrets",
            &format!(
                "[webhooks.alertmanager]\nbearer_token_file = {}\n[webhooks.pagerduty]\nsigning_secrets_file = {}\n\
                 [api]\nbearer_tokens = [\"\", \"reader\"]\n",
                quote(token.to_str().unwrap()),
                quote(secrets.to_str().unwrap()),
            ),
        );
        let settings = load(Some(&file), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(settings.webhooks.alertmanager_bearer_token, Some(Secret::new("token-from-file")));
        assert_eq!(
            settings.webhooks.pagerduty_signing_secrets,
            vec![Secret::new("first-secret"), Secret::new("second-secret")]
        );
        assert_eq!(settings.api.bearer_tokens, vec![Secret::new("reader")], "an empty token is none");

        let pairs = [
            ("POSTMORTEMD_WEBHOOKS__PAGERDUTY__SIGNING_SECRETS", "12345,abc, ,def"),
            ("POSTMORTEMD_WEBHOOKS__ALERTMANAGER__BEARER_TOKEN", ""),
            ("POSTMORTEMD_API__BEARER_TOKENS", "only"),
        ];
        let settings = load(None, env(&pairs), &Overrides::default()).unwrap();
        assert_eq!(settings.webhooks.alertmanager_bearer_token, None, "an empty token is none");
        assert_eq!(
            settings.webhooks.pagerduty_signing_secrets,
            vec![Secret::new("12345"), Secret::new("abc"), Secret::new("def")]
        );
        assert_eq!(settings.api.bearer_tokens, vec![Secret::new("only")]);
        let rendered = render(&settings);
        assert!(rendered.contains("signing_secrets = [\"***\", \"***\", \"***\"]\n"), "{rendered}");
        for secret in ["12345", "abc", "def", "only"] {
            assert!(!rendered.contains(secret), "{secret} shows in {rendered}");
        }
    }

    #[test]
    fn prometheus_queries_load_in_order_and_render_back() {
        let path = settings_file(
            "prometheus",
            "[prometheus]\nurl = \"http://prometheus:9090/\"\nstep = \"500ms\"\nnode_clock = false\n\
             [[prometheus.queries]]\nname = \"5xx by pod\"\nmatch = { alertname = \"HighErrorRate\", \"app.kubernetes.io/name\" = \"api\" }\n\
             query = 'sum by (pod) (rate(http_requests_total{namespace=\"{{namespace}}\",code=~\"5..\"}[5m]))'\n\
             [[prometheus.queries]]\nname = \"up\"\nquery = \"up\"\n",
        );
        let settings = load(Some(&path), env(&[]), &Overrides::default()).unwrap();
        let prometheus = &settings.prometheus;
        assert_eq!(prometheus.url, "http://prometheus:9090", "a trailing slash is dropped");
        assert_eq!((prometheus.step, prometheus.node_clock), (SignedDuration::from_millis(500), false));
        let names: Vec<&str> = prometheus.queries.iter().map(|query| query.name.as_str()).collect();
        assert_eq!(names, ["5xx by pod", "up"]);
        let matchers: Vec<(&str, &str)> =
            prometheus.queries[0].matchers.iter().map(|(label, value)| (label.as_str(), value.as_str())).collect();
        assert_eq!(matchers, [("alertname", "HighErrorRate"), ("app.kubernetes.io/name", "api")]);
        assert!(prometheus.queries[0].query.contains(r#"namespace="{{namespace}}""#));
        assert!(prometheus.queries[1].matchers.is_empty(), "no match: every incident");
        let rendered = settings_file("prometheus-rendered", &render(&settings));
        assert_eq!(load(Some(&rendered), env(&[]), &Overrides::default()).unwrap(), settings);
    }

    #[test]
    fn retention_takes_days_and_weeks_and_renders_back() {
        for (text, hours) in [("90d", 90 * 24), ("2w", 14 * 24), ("36h", 36), ("0s", 0)] {
            let path = settings_file("retention", &format!("[store]\nretention = \"{text}\"\n"));
            let settings = load(Some(&path), env(&[]), &Overrides::default()).unwrap();
            assert_eq!(settings.store.retention, SignedDuration::from_hours(hours), "{text}");
            let rendered = settings_file("retention-rendered", &render(&settings));
            assert_eq!(load(Some(&rendered), env(&[]), &Overrides::default()).unwrap(), settings, "{text}");
        }
        assert!(render(&Settings::default()).contains("retention = \"90d\""));
    }

    #[test]
    fn kubernetes_rules_load_in_order_and_render_back() {
        let path = settings_file(
            "kubernetes",
            "[kubernetes]\nkubeconfig = \"/etc/kube/config\"\nmax_pods = 7\nmax_bytes_per_container = \"1MiB\"\n\
             [[kubernetes.targets]]\nlabel = \"app\"\nselector = \"app={value}\"\n\
             [[kubernetes.targets]]\nlabel = \"team\"\nselector = \"team={value},tier={{tier}}\"\n\
             [[kubernetes.services]]\npagerduty_service = \"Checkout API\"\nnamespace = \"shop\"\nselector = \"app=checkout\"\n",
        );
        let settings = load(Some(&path), env(&[]), &Overrides::default()).unwrap();
        let kubernetes = &settings.kubernetes;
        assert_eq!(kubernetes.kubeconfig, Some(PathBuf::from("/etc/kube/config")));
        assert_eq!((kubernetes.max_pods, kubernetes.max_bytes_per_container), (7, 1 << 20));
        let labels: Vec<&str> = kubernetes.targets.iter().map(|rule| rule.label.as_str()).collect();
        assert_eq!(labels, ["app", "team"], "the file's rules replace the default, in order");
        assert_eq!(kubernetes.services[0].pagerduty_service, "Checkout API");
        assert_eq!(kubernetes.namespaces, Vec::<String>::new(), "none given: the daemon's own namespace");
        let from_env = env(&[("POSTMORTEMD_KUBERNETES__NAMESPACES", " shop, payments ")]);
        let settings = load(Some(&path), from_env, &Overrides::default()).unwrap();
        assert_eq!(settings.kubernetes.namespaces, ["shop", "payments"]);
        let rendered = settings_file("kubernetes-rendered", &render(&settings));
        assert_eq!(load(Some(&rendered), env(&[]), &Overrides::default()).unwrap(), settings);
    }

    #[test]
    fn redact_rules_and_namespaces_load_and_render_back() {
        let path = settings_file(
            "redact",
            "[kubernetes]\nnamespaces = [\"*\"]\n[prometheus]\nalert_expressions = false\n\
             [[redact]]\nname = \"session cookie\"\npattern = 'session=([A-Za-z0-9]+)'\n\
             [[redact]]\nname = \"pin\"\npattern = 'pin \\d{4}'\n",
        );
        let settings = load(Some(&path), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(settings.kubernetes.namespaces, ["*"]);
        assert!(!settings.prometheus.alert_expressions);
        let names: Vec<&str> = settings.redact.iter().map(|rule| rule.name.as_str()).collect();
        assert_eq!(names, ["session cookie", "pin"]);
        assert_eq!(settings.redact[1].pattern, "pin \\d{4}");
        let rendered = render(&settings);
        assert!(rendered.contains("\n[[redact]]\nname = \"session cookie\"\n"), "{rendered}");
        let rendered = settings_file("redact-rendered", &rendered);
        assert_eq!(load(Some(&rendered), env(&[]), &Overrides::default()).unwrap(), settings);
    }

    #[test]
    fn sizes_and_durations_read_back_as_rendered() {
        let rows: &[(&str, usize)] =
            &[("4MiB", 4 << 20), ("512 KiB", 512 << 10), ("1048576", 1 << 20), ("10kB", 10_000), ("1GiB", 1 << 30)];
        for (text, bytes) in rows {
            assert_eq!(parse_size(text), Ok(*bytes), "{text}");
            assert_eq!(parse_size(&format_size(*bytes)), Ok(*bytes), "{text} rendered {}", format_size(*bytes));
        }
        assert_eq!(format_size(1000), "1000");
        for text in ["20m", "10s", "1h 30m", "PT5M", "250ms"] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format!("{duration:#}")), Ok(duration), "{text}");
        }
    }

    #[test]
    fn pagerduty_links_read_from_tables_and_render_back() {
        let path = settings_file(
            "links",
            "[webhooks.pagerduty]\nlink_within = \"45m\"\n\
             [[webhooks.pagerduty.links]]\nservice = \" Checkout API \"\n\
             match = { namespace = \"shop\", \"app.kubernetes.io/name\" = \"checkout\" }\n\
             [[webhooks.pagerduty.links]]\nservice = \"PSVC42\"\nmatch = { team = \"payments\" }\n",
        );
        let settings = load(Some(&path), env(&[]), &Overrides::default()).unwrap();
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
        };
        assert_eq!(
            settings.webhooks.pagerduty_links,
            vec![
                PagerDutyLink {
                    service: "Checkout API".to_owned(),
                    labels: labels(&[("app.kubernetes.io/name", "checkout"), ("namespace", "shop")]),
                },
                PagerDutyLink { service: "PSVC42".to_owned(), labels: labels(&[("team", "payments")]) },
            ]
        );
        assert_eq!(settings.webhooks.pagerduty_link_within, SignedDuration::from_mins(45));
        let rendered = settings_file("links-rendered", &render(&settings));
        assert_eq!(load(Some(&rendered), env(&[]), &Overrides::default()).unwrap(), settings);
    }

    #[test]
    fn render_reads_back_as_the_same_settings() {
        let mut settings = Settings::default();
        settings.server.listen = "[::]:80".parse().unwrap();
        settings.server.max_body_bytes = 123_457;
        settings.window.lead_in = SignedDuration::from_secs(5400);
        settings.store.url = "sqlite://./a \"quoted\" path.db".to_owned();
        let path = settings_file("rendered", &render(&settings));
        assert_eq!(load(Some(&path), env(&[]), &Overrides::default()).unwrap(), settings);
    }

    #[test]
    fn a_postgres_store_url_loads_and_renders_without_its_password() {
        let url = "postgres://app:s3cret@db:5432/pm?sslmode=verify-full";
        let settings = load(None, env(&[("POSTMORTEMD_STORE__URL", url)]), &Overrides::default()).unwrap();
        assert_eq!(settings.store.url, url);
        let rendered = render(&settings);
        assert!(rendered.contains("url = \"postgres://app:***@db:5432/pm?sslmode=verify-full\"\n"), "{rendered}");
        assert!(!rendered.contains("s3cret"), "{rendered}");
    }

    #[test]
    fn reconcile_keys_load_from_nested_sections_and_env_lists() {
        let token = settings_file("reconcile-token", "read-only-token\n");
        let file = settings_file(
            "reconcile",
            &format!(
                "[reconcile]\nalertmanager_urls = [\"http://am-0:9093/\", \"\"]\ninterval = \"30s\"\n\
                 [reconcile.pagerduty]\napi_token_file = {}\nservices = [\"PSVC1\"]\n",
                quote(token.to_str().unwrap())
            ),
        );
        let settings = load(Some(&file), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(settings.reconcile.alertmanager_urls, ["http://am-0:9093"], "trimmed, empty items none");
        assert_eq!(settings.reconcile.interval, SignedDuration::from_secs(30));
        assert_eq!(settings.reconcile.pagerduty_api_token, Some(Secret::new("read-only-token")));
        assert_eq!(settings.reconcile.pagerduty_services, ["PSVC1"]);
        let overridden = load(
            Some(&file),
            env(&[("POSTMORTEMD_RECONCILE__ALERTMANAGER_URLS", "http://am-0:9093,http://am-1:9093")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(overridden.reconcile.alertmanager_urls, ["http://am-0:9093", "http://am-1:9093"]);
        let rendered = render(&overridden);
        assert!(rendered.contains("api_token = \"***\""), "{rendered}");
        let mut expected = overridden.clone();
        expected.reconcile.pagerduty_api_token = Some(Secret::new("***"));
        let path = settings_file("reconcile-rendered", &rendered);
        assert_eq!(load(Some(&path), env(&[]), &Overrides::default()).unwrap(), expected);
        check_error(
            "[reconcile]\nalertmanager_urls = [\"am-0:9093\"]",
            &[],
            "reconcile.alertmanager_urls[0]: \"am-0:9093\" is not a URL like http://alertmanager:9093",
        );
        check_error(
            "[reconcile.pagerduty]\nservice = [\"PSVC1\"]",
            &[],
            "reconcile.pagerduty.service: unknown key (expected one of: api_url, api_token, api_token_file, services, teams, lookback)",
        );
    }

    /// `generated` must be what `path` holds; `UPDATE_EXPECT=1` writes it there for review.
    #[track_caller]
    fn check_generated(path: &str, generated: &str) {
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        if generated == committed {
            return;
        }
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(path, generated).unwrap();
        } else {
            panic!(
                "{path} differs from what src/config.rs generates; \
                 regenerate it with `UPDATE_EXPECT=1 cargo test --lib config` and review the diff"
            );
        }
    }

    #[test]
    fn the_example_file_is_example_and_loads_as_the_defaults() {
        check_generated(EXAMPLE_PATH, &example());
        let settings = load(Some(Path::new(EXAMPLE_PATH)), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn the_key_tables_of_the_docs_are_generated_from_the_keys() {
        let committed = std::fs::read_to_string(DOCS_PATH).unwrap();
        let sections: Vec<&str> = KEYS.iter().map(|section| section.name).collect();
        let marked: Vec<&str> = committed
            .split("<!-- keys ")
            .skip(1)
            .filter_map(|rest| rest.split_once("-->"))
            .map(|(name, _)| name.trim())
            .collect();
        assert_eq!(marked, sections, "docs/configuration.md: one `<!-- keys SECTION -->` table per section, in order");
        check_generated(DOCS_PATH, &document(&committed));
    }
}
