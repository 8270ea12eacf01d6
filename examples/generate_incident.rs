//! Generates the shipped example incident `examples/checkout-outage/`: the artifacts an
//! engineer exports by hand after a checkout outage (pod logs, Alertmanager payloads,
//! amtool output, PagerDuty log entries and webhooks, `kubectl get … -o json` lists,
//! Prometheus range queries), in the shapes the real tools write, plus a README that lists
//! the facts planted in them.
//!
//! Output is deterministic: a seeded splitmix64 and fixed instants, never the wall clock.
//! It reads nothing and leaves parsing to postmortemd; after writing, it re-reads every
//! JSON file with serde_json so that a malformed artifact fails here rather than in a test.
//!
//! Run: `cargo run --example generate_incident [-- --out DIR]`.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

/// Nanoseconds since the Unix epoch; the story is simple enough that plain integers beat
/// a time library for arithmetic, and the formatting below is checked against jiff.
type Nanos = i64;

const NS: i64 = 1_000_000_000;
const MS: i64 = 1_000_000;
const US: i64 = 1_000;

/// node-2's clock runs ahead of true time by this much; everything it stamps carries it.
const NODE2_AHEAD: Nanos = 90 * NS;
/// payments writes zone-less local times in Asia/Tokyo (UTC+9, no DST).
const TOKYO: Nanos = 9 * 3600 * NS;

/// Requests per second reaching the frontend. Lower than a real shop so the committed
/// files stay small (about 4k lines per log file).
const REQUEST_RATE: f64 = 1.0;
/// Share of requests failing while inventory 2.4.0 is live.
const ERROR_SHARE: f64 = 0.4;

/// The story's instants, true UTC on 2025-02-09.
struct Story {
    logs_start: Nanos,
    logs_end: Nanos,
    rollout: Nanos,
    first_error: Nanos,
    alert_starts: Nanos,
    pd_trigger: Nanos,
    pd_notify: Nanos,
    pd_ack: Nanos,
    readiness_first: Nanos,
    readiness_last: Nanos,
    q4hjn_last_line: Nanos,
    q4hjn_down: Nanos,
    q4hjn_up: Nanos,
    crashloop_starts: Nanos,
    pd_note: Nanos,
    pd_priority: Nanos,
    pd_responder: Nanos,
    amtool_export: Nanos,
    rollback: Nanos,
    last_error: Nanos,
    alert_ends: Nanos,
    pd_resolve: Nanos,
    prom_start: Nanos,
    prom_end: Nanos,
    latency_gap: (Nanos, Nanos),
    rate_high: (Nanos, Nanos),
}

/// `"10:05:23.4"` on the story's day, as true UTC nanoseconds.
fn at(clock: &str) -> Nanos {
    day_at("2025-02-09", clock)
}

fn day_at(day: &str, clock: &str) -> Nanos {
    let text = format!("{day}T{clock}Z");
    let timestamp: jiff::Timestamp =
        text.parse().unwrap_or_else(|error| panic!("story time {text:?} does not parse: {error}"));
    i64::try_from(timestamp.as_nanosecond()).expect("story times fit in i64 nanoseconds")
}

impl Story {
    fn new() -> Story {
        Story {
            logs_start: at("09:40:00"),
            logs_end: at("10:50:00"),
            rollout: at("10:04:10"),
            first_error: at("10:05:23.400"),
            alert_starts: at("10:06:15.347"),
            pd_trigger: at("10:06:50"),
            pd_notify: at("10:06:51"),
            pd_ack: at("10:12:00"),
            readiness_first: at("10:07:10"),
            readiness_last: at("10:30:40"),
            q4hjn_last_line: at("10:15:29.700"),
            q4hjn_down: at("10:15:30"),
            q4hjn_up: at("10:22:25"),
            crashloop_starts: at("10:16:45.812"),
            pd_note: at("10:18:00.412"),
            pd_priority: at("10:19:00.127"),
            pd_responder: at("10:19:30.845"),
            amtool_export: at("10:25:00"),
            rollback: at("10:30:05"),
            last_error: at("10:31:49.700"),
            alert_ends: at("10:35:00.347"),
            pd_resolve: at("10:36:00"),
            prom_start: at("09:46:00"),
            prom_end: at("10:45:00"),
            latency_gap: (at("10:24:00"), at("10:27:00")),
            rate_high: (at("10:06:00"), at("10:32:30")),
        }
    }
}

fn main() {
    let mut out_dir = PathBuf::from("examples/checkout-outage");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out_dir = PathBuf::from(args.next().expect("--out needs a directory")),
            other => {
                eprintln!("usage: generate_incident [--out DIR]  (unknown argument {other:?})");
                std::process::exit(2);
            }
        }
    }
    fs::create_dir_all(&out_dir).unwrap_or_else(|error| panic!("cannot create {}: {error}", out_dir.display()));

    let story = Story::new();
    let mut rng = Rng::new(0x5eed_c0ff_ee15_2025);
    let mut files: Vec<(String, String)> = Vec::new();

    let logs = generate_logs(&story, &mut rng);
    for (name, sink) in [
        ("frontend-6c8f7d9b4-h2k9m_nginx.log", &logs.frontend),
        ("checkout-api-7d9f8b6c5-x2kqp_app.log", &logs.x2kqp),
        ("checkout-api-7d9f8b6c5-q4hjn_app.log", &logs.q4hjn),
        ("payments-5c6d7f8b9-r7t2w_app.log", &logs.payments),
    ] {
        files.push((name.to_owned(), sink.render()));
    }

    let alerts = Alerts::new(&story);
    files.push(("alertmanager-firing.json".into(), alerts.webhook(false)));
    files.push(("alertmanager-resolved.json".into(), alerts.webhook(true)));
    files.push(("alerts.json".into(), alerts.amtool()));

    let pagerduty = PagerDuty::new(&story, &alerts);
    files.push(("pagerduty-log-entries.json".into(), pagerduty.log_entries()));
    files.push(("pagerduty-webhooks.ndjson".into(), pagerduty.webhooks()));

    let cluster = Cluster::new(&story, &mut rng);
    files.push(("pods.json".into(), cluster.pods()));
    files.push(("events.json".into(), cluster.core_events()));
    files.push(("events-k8s-io.json".into(), cluster.k8s_io_events()));
    files.push(("replicasets.json".into(), cluster.replicasets()));
    files.push(("deployments.json".into(), cluster.deployments()));

    files.extend(prometheus_files(&story, &mut rng));
    files.push(("queries.json".into(), queries_json()));
    files.push(("README.md".into(), readme(&logs)));

    for (name, body) in &files {
        check_artifact(name, body);
        let path = out_dir.join(name);
        fs::write(&path, body).unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    }
    let total: usize = files.iter().map(|(_, body)| body.len()).sum();
    println!("wrote {} files ({} bytes) to {}", files.len(), total, out_dir.display());
}

/// Parses what was just generated, so a broken artifact fails the generator.
fn check_artifact(name: &str, body: &str) {
    if name.ends_with(".json") {
        if let Err(error) = serde_json::from_str::<serde_json::Value>(body) {
            panic!("{name}: generated JSON does not parse: {error}");
        }
    } else if name.ends_with(".ndjson") {
        for (line_idx, line) in body.lines().enumerate() {
            if let Err(error) = serde_json::from_str::<serde_json::Value>(line) {
                panic!("{name}: line {}: does not parse: {error}", line_idx + 1);
            }
        }
    } else if name.ends_with(".log") {
        let mut previous = i64::MIN;
        for (line_idx, line) in body.lines().enumerate() {
            let (prefix, _) = line.split_once(' ').expect("log lines have a kubelet prefix");
            assert_eq!(prefix.len(), 30, "{name}: line {}: prefix", line_idx + 1);
            let instant: jiff::Timestamp = prefix.parse().expect("kubelet prefix parses");
            let nanos = i64::try_from(instant.as_nanosecond()).expect("fits");
            assert!(nanos >= previous, "{name}: line {} out of order", line_idx + 1);
            previous = nanos;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Randomness

/// splitmix64: tiny, seedable, and good enough for plausible noise.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low) as u64) as i64
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Exponential with the given mean: gaps of a Poisson process.
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let radius = (-2.0 * (1.0 - self.unit()).ln()).sqrt();
        radius * (std::f64::consts::TAU * self.unit()).cos()
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut text = String::with_capacity(digits);
        while text.len() < digits {
            let _ = write!(text, "{:016x}", self.next_u64());
        }
        text.truncate(digits);
        text
    }

    /// A version-4 UUID, as Kubernetes uses for `metadata.uid`.
    fn uuid(&mut self) -> String {
        let hex = self.hex(32);
        format!(
            "{}-{}-4{}-{}{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            ["8", "9", "a", "b"][self.below(4) as usize],
            &hex[17..20],
            &hex[20..32]
        )
    }

    /// PagerDuty-style object id: `P` and six upper-case letters or digits.
    fn pd_id(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut id = String::from("P");
        for _ in 1..len {
            id.push(ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char);
        }
        id
    }
}

// ---------------------------------------------------------------------------------------
// Time formatting (checked against jiff in the tests)

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nano: u32,
}

fn civil(nanos: Nanos) -> Civil {
    let seconds = nanos.div_euclid(NS);
    let nano = nanos.rem_euclid(NS) as u32;
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (second_of_day / 3600) as u32,
        minute: (second_of_day / 60 % 60) as u32,
        second: (second_of_day % 60) as u32,
        nano,
    }
}

/// How many fraction digits an RFC 3339 time gets.
#[derive(Clone, Copy, Debug)]
enum Fraction {
    /// Whole seconds (Kubernetes `metav1.Time`, PagerDuty REST).
    None,
    /// Milliseconds (PagerDuty v3, go-openapi `strfmt.DateTime`, app logs).
    Millis,
    /// Microseconds (Kubernetes `MicroTime`: `eventTime`).
    Micros,
    /// Nanoseconds, always nine digits (kubelet CRI prefix).
    Nanos,
    /// Go's `RFC3339Nano`: trailing zeros trimmed, no dot when whole.
    GoTrimmed,
}

fn rfc3339(nanos: Nanos, fraction: Fraction) -> String {
    let time = civil(nanos);
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        time.year, time.month, time.day, time.hour, time.minute, time.second
    );
    match fraction {
        Fraction::None => {}
        Fraction::Millis => {
            let _ = write!(text, ".{:03}", time.nano / 1_000_000);
        }
        Fraction::Micros => {
            let _ = write!(text, ".{:06}", time.nano / 1_000);
        }
        Fraction::Nanos => {
            let _ = write!(text, ".{:09}", time.nano);
        }
        Fraction::GoTrimmed => {
            if time.nano != 0 {
                let digits = format!("{:09}", time.nano);
                let _ = write!(text, ".{}", digits.trim_end_matches('0'));
            }
        }
    }
    text.push('Z');
    text
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// nginx `$time_local` with the zone nginx runs in (UTC here): `09/Feb/2025:10:05:23 +0000`.
fn clf(nanos: Nanos) -> String {
    let time = civil(nanos);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        time.day,
        MONTHS[time.month as usize - 1],
        time.year,
        time.hour,
        time.minute,
        time.second
    )
}

/// Logback's default `yyyy-MM-dd HH:mm:ss,SSS` of a wall time (no zone written).
fn logback(local: Nanos) -> String {
    let time = civil(local);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
        time.year,
        time.month,
        time.day,
        time.hour,
        time.minute,
        time.second,
        time.nano / 1_000_000
    )
}

fn hms_millis(nanos: Nanos) -> String {
    let time = civil(nanos);
    format!("{:02}:{:02}:{:02}.{:03}", time.hour, time.minute, time.second, time.nano / 1_000_000)
}

// ---------------------------------------------------------------------------------------
// JSON with field order and Go's escaping

/// A JSON value that keeps its fields in the order written, so each artifact can follow
/// its producer: Go struct order for Alertmanager, sorted keys for kubectl.
#[derive(Clone, Debug)]
enum Json {
    Null,
    Bool(bool),
    /// Already formatted, the way the producer formats numbers.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

macro_rules! obj {
    ($($key:expr => $value:expr),* $(,)?) => {
        Json::Object(vec![$(($key.to_string(), Json::from($value))),*])
    };
}

impl From<&str> for Json {
    fn from(text: &str) -> Json {
        Json::String(text.to_owned())
    }
}
impl From<String> for Json {
    fn from(text: String) -> Json {
        Json::String(text)
    }
}
impl From<&String> for Json {
    fn from(text: &String) -> Json {
        Json::String(text.clone())
    }
}
impl From<bool> for Json {
    fn from(value: bool) -> Json {
        Json::Bool(value)
    }
}
impl From<i64> for Json {
    fn from(value: i64) -> Json {
        Json::Number(value.to_string())
    }
}
impl From<u64> for Json {
    fn from(value: u64) -> Json {
        Json::Number(value.to_string())
    }
}
impl From<i32> for Json {
    fn from(value: i32) -> Json {
        Json::Number(value.to_string())
    }
}
impl From<Vec<Json>> for Json {
    fn from(items: Vec<Json>) -> Json {
        Json::Array(items)
    }
}
impl From<Option<Json>> for Json {
    fn from(value: Option<Json>) -> Json {
        value.unwrap_or(Json::Null)
    }
}

/// An empty object: `{}` (managedFields leaves, empty securityContext).
fn empty() -> Json {
    Json::Object(Vec::new())
}

/// Nested managedFields `fieldsV1` from paths like `["f:spec", "f:replicas"]`.
fn fields_v1(paths: &[&[&str]]) -> Json {
    let mut root = empty();
    for path in paths {
        let mut node = &mut root;
        for key in path.iter() {
            let Json::Object(entries) = node else { unreachable!("fields_v1 nodes are objects") };
            let position = match entries.iter().position(|(existing, _)| existing == key) {
                Some(position) => position,
                None => {
                    entries.push((key.to_string(), empty()));
                    entries.len() - 1
                }
            };
            node = &mut entries[position].1;
        }
    }
    root
}

#[derive(Clone, Copy)]
struct Style {
    /// `Some("    ")`: `json.MarshalIndent` with that indent; `None`: compact.
    indent: Option<&'static str>,
    /// kubectl goes through unstructured maps, so its keys come out sorted.
    sort_keys: bool,
}

const GO_COMPACT: Style = Style { indent: None, sort_keys: false };
const KUBECTL: Style = Style { indent: Some("    "), sort_keys: true };

impl Json {
    /// Encodes like Go's `encoding/json` (HTML-safe escaping) and ends with a newline,
    /// as `json.Encoder.Encode` and kubectl do.
    fn encode(&self, style: Style) -> String {
        let mut out = String::new();
        self.write(style, 0, &mut out);
        out.push('\n');
        out
    }

    fn write(&self, style: Style, depth: usize, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Json::Number(text) => out.push_str(text),
            Json::String(text) => go_string(text, out),
            Json::Array(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (item_idx, item) in items.iter().enumerate() {
                    if item_idx > 0 {
                        out.push(',');
                    }
                    newline(style, depth + 1, out);
                    item.write(style, depth + 1, out);
                }
                newline(style, depth, out);
                out.push(']');
            }
            Json::Object(entries) => {
                if entries.is_empty() {
                    out.push_str("{}");
                    return;
                }
                let mut ordered: Vec<&(String, Json)> = entries.iter().collect();
                if style.sort_keys {
                    ordered.sort_by(|left, right| left.0.cmp(&right.0));
                }
                out.push('{');
                for (entry_idx, (key, value)) in ordered.into_iter().enumerate() {
                    if entry_idx > 0 {
                        out.push(',');
                    }
                    newline(style, depth + 1, out);
                    go_string(key, out);
                    out.push(':');
                    if style.indent.is_some() {
                        out.push(' ');
                    }
                    value.write(style, depth + 1, out);
                }
                newline(style, depth, out);
                out.push('}');
            }
        }
    }
}

fn newline(style: Style, depth: usize, out: &mut String) {
    if let Some(indent) = style.indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    }
}

/// A JSON string the way Go writes it: `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`.
fn go_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", character as u32);
            }
            control if (control as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", control as u32);
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------
// Pod logs

/// One exported `kubectl logs --timestamps` file: lines keyed by their kubelet prefix.
struct LogSink {
    /// How far the node's clock is ahead of true time.
    node_ahead: Nanos,
    lines: Vec<(Nanos, String)>,
}

impl LogSink {
    fn new(node_ahead: Nanos) -> LogSink {
        LogSink { node_ahead, lines: Vec::new() }
    }

    /// Adds a line the container wrote at true time `true_at`; `text` receives the time
    /// on the node's clock (what the app embeds). The runtime stamps the prefix a few
    /// microseconds later, on the same clock.
    fn line(&mut self, rng: &mut Rng, true_at: Nanos, text: impl FnOnce(Nanos) -> String) {
        let local = true_at + self.node_ahead;
        let prefix = local + rng.between(20 * US, 400 * US);
        self.lines.push((prefix, text(local)));
    }

    fn render(&self) -> String {
        let mut sorted: Vec<&(Nanos, String)> = self.lines.iter().collect();
        sorted.sort_by_key(|(prefix, _)| *prefix);
        let mut out = String::with_capacity(self.lines.len() * 200);
        for (prefix, text) in sorted {
            out.push_str(&rfc3339(*prefix, Fraction::Nanos));
            out.push(' ');
            out.push_str(text);
            out.push('\n');
        }
        out
    }

    /// Embedded-time extremes of lines matching `needle`, on the node's clock.
    fn prefix_span(&self, needle: &str) -> Option<(Nanos, Nanos, usize)> {
        let mut matching = self.lines.iter().filter(|(_, text)| text.contains(needle)).map(|(prefix, _)| *prefix);
        let first = matching.next()?;
        let (low, high, count) = matching
            .fold((first, first, 1), |(low, high, count), prefix| (low.min(prefix), high.max(prefix), count + 1));
        Some((low, high, count))
    }
}

struct Logs {
    frontend: LogSink,
    x2kqp: LogSink,
    q4hjn: LogSink,
    payments: LogSink,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Cart,
    Product,
    AddItem,
    Checkout,
}

struct Request {
    /// When nginx logged it (true time).
    at: Nanos,
    id: String,
    route: Route,
    path: String,
    client: String,
    user_agent: &'static str,
    referer: &'static str,
    /// 0 = x2kqp (node-1), 1 = q4hjn (node-2).
    backend: usize,
    failed: bool,
    /// The backend logs this long after nginx did.
    backend_delay: Nanos,
}

const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0",
];
const REFERERS: [&str; 3] = ["-", "https://shop.example.com/", "https://shop.example.com/cart"];

fn random_request(rng: &mut Rng, at: Nanos) -> Request {
    let roll = rng.unit();
    let route = if roll < 0.45 {
        Route::Cart
    } else if roll < 0.70 {
        Route::Product
    } else if roll < 0.80 {
        Route::AddItem
    } else {
        Route::Checkout
    };
    let path = match route {
        Route::Cart => "/api/cart".to_owned(),
        Route::Product => format!("/api/products/sku-{}", rng.between(1000, 1400)),
        Route::AddItem => "/api/cart/items".to_owned(),
        Route::Checkout => "/api/checkout".to_owned(),
    };
    Request {
        at,
        id: rng.hex(16),
        route,
        path,
        client: format!("10.0.{}.{}", rng.between(2, 5), rng.between(10, 250)),
        user_agent: rng.pick(&USER_AGENTS),
        referer: rng.pick(&REFERERS),
        backend: rng.below(2) as usize,
        failed: false,
        backend_delay: rng.between(2 * MS, 15 * MS),
    }
}

fn generate_logs(story: &Story, rng: &mut Rng) -> Logs {
    let mut requests = Vec::new();
    let mut now = story.logs_start;
    loop {
        now += (rng.exponential(1.0 / REQUEST_RATE) * NS as f64) as Nanos;
        if now >= story.logs_end {
            break;
        }
        let mut request = random_request(rng, now);
        // q4hjn takes no traffic from shortly before its OOM kill until it is ready again.
        if now >= story.q4hjn_down - NS && now < story.q4hjn_up + 10 * NS {
            request.backend = 0;
        }
        request.failed = now > story.first_error
            && now < story.last_error
            && request.route != Route::Product
            && rng.chance(ERROR_SHARE / 0.75);
        requests.push(request);
    }
    // Planted requests: the first and the last failure, and q4hjn's last line before the kill.
    let mut first = random_request(rng, story.first_error);
    first.route = Route::Checkout;
    first.path = "/api/checkout".into();
    first.backend = 0;
    first.failed = true;
    first.backend_delay = 12 * MS;
    let mut last = random_request(rng, story.last_error);
    last.route = Route::AddItem;
    last.path = "/api/cart/items".into();
    last.backend = 1;
    last.failed = true;
    let mut before_kill = random_request(rng, story.q4hjn_last_line);
    before_kill.route = Route::Cart;
    before_kill.path = "/api/cart".into();
    before_kill.backend = 1;
    before_kill.failed = true;
    requests.extend([first, last, before_kill]);
    requests.sort_by_key(|request| request.at);

    let mut logs = Logs {
        frontend: LogSink::new(0),
        x2kqp: LogSink::new(0),
        q4hjn: LogSink::new(NODE2_AHEAD),
        payments: LogSink::new(0),
    };
    for request in &requests {
        log_request(rng, request, &mut logs);
    }
    periodic_lines(story, rng, &mut logs);
    logs
}

fn log_request(rng: &mut Rng, request: &Request, logs: &mut Logs) {
    let method = match request.route {
        Route::Cart | Route::Product => "GET",
        Route::AddItem | Route::Checkout => "POST",
    };
    let (status, bytes) = if request.failed {
        (500, 33)
    } else {
        let bytes = match request.route {
            Route::Cart => rng.between(380, 2400),
            Route::Product => rng.between(900, 3100),
            Route::AddItem => rng.between(120, 260),
            Route::Checkout => rng.between(480, 560),
        };
        (200, bytes)
    };
    logs.frontend.line(rng, request.at, |_| {
        format!(
            "{} - - [{}] \"{method} {} HTTP/1.1\" {status} {bytes} \"{}\" \"{}\" request_id={}",
            request.client,
            clf(request.at),
            request.path,
            request.referer,
            request.user_agent,
            request.id
        )
    });

    let backend_at = request.at + request.backend_delay;
    let sink = if request.backend == 0 { &mut logs.x2kqp } else { &mut logs.q4hjn };
    if request.failed {
        let duration_ms = rng.between(1200, 2900);
        sink.line(rng, backend_at, |local| {
            format!(
                "{{\"ts\":\"{}\",\"level\":\"error\",\"msg\":\"inventory reservation failed: upstream returned 503\",\"request_id\":\"{}\",\"upstream\":\"inventory.shop.svc:8080\",\"attempts\":3,\"duration_ms\":{duration_ms}}}",
                rfc3339(local, Fraction::Millis),
                request.id
            )
        });
        return;
    }
    let text = match request.route {
        Route::Cart => format!(
            "\"msg\":\"cart loaded\",\"request_id\":\"{}\",\"items\":{},\"duration_ms\":{}",
            request.id,
            rng.between(0, 9),
            rng.between(6, 31)
        ),
        Route::Product => format!(
            "\"msg\":\"product fetched\",\"request_id\":\"{}\",\"sku\":\"{}\",\"cache\":\"{}\",\"duration_ms\":{}",
            request.id,
            &request.path["/api/products/".len()..],
            if rng.chance(0.8) { "hit" } else { "miss" },
            rng.between(3, 22)
        ),
        Route::AddItem => format!(
            "\"msg\":\"item added to cart\",\"request_id\":\"{}\",\"sku\":\"sku-{}\",\"quantity\":{},\"duration_ms\":{}",
            request.id,
            rng.between(1000, 1400),
            rng.between(1, 4),
            rng.between(9, 40)
        ),
        Route::Checkout => {
            // payments charges the card while checkout-api waits for it.
            let charge_at = request.at + request.backend_delay / 2;
            let amount_cents = rng.between(1299, 24999);
            let thread = rng.between(1, 11);
            let request_id = request.id.clone();
            logs.payments.line(rng, charge_at, |local| {
                format!(
                    "{} INFO  [http-nio-8080-exec-{thread}] c.e.payments.Gateway - charge ok request_id={request_id} amount={}.{:02} currency=EUR",
                    logback(local + TOKYO),
                    amount_cents / 100,
                    amount_cents % 100
                )
            });
            format!(
                "\"msg\":\"order placed\",\"request_id\":\"{}\",\"order_id\":\"ord_{}\",\"duration_ms\":{}",
                request.id,
                rng.hex(10),
                rng.between(28, 95)
            )
        }
    };
    let sink = if request.backend == 0 { &mut logs.x2kqp } else { &mut logs.q4hjn };
    sink.line(rng, backend_at, |local| {
        format!("{{\"ts\":\"{}\",\"level\":\"info\",{text}}}", rfc3339(local, Fraction::Millis))
    });
}

/// Lines a container writes on its own schedule: kubelet probes through nginx, pool
/// statistics, the baseline slow-query warning, payments' housekeeping, q4hjn's restart.
fn periodic_lines(story: &Story, rng: &mut Rng, logs: &mut Logs) {
    let q4hjn_alive = |instant: Nanos| instant < story.q4hjn_down || instant > story.q4hjn_up;

    let mut probe = story.logs_start + 3_417 * MS;
    while probe < story.logs_end {
        let id = rng.hex(16);
        logs.frontend.line(rng, probe, |_| {
            format!(
                "10.0.1.11 - - [{}] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\" request_id={id}",
                clf(probe)
            )
        });
        probe += 10 * NS + rng.between(-3 * MS, 3 * MS);
    }

    for (pod_idx, phase) in [(0usize, 7_250 * MS), (1usize, 21_830 * MS)] {
        let mut tick = story.logs_start + phase;
        while tick < story.logs_end {
            let (open, idle) = (rng.between(8, 20), rng.between(2, 8));
            let sink = if pod_idx == 0 { &mut logs.x2kqp } else { &mut logs.q4hjn };
            if pod_idx == 0 || q4hjn_alive(tick) {
                sink.line(rng, tick, |local| {
                    format!(
                        "{{\"ts\":\"{}\",\"level\":\"info\",\"msg\":\"db pool stats\",\"open\":{open},\"idle\":{idle},\"in_use\":{},\"wait_count\":0}}",
                        rfc3339(local, Fraction::Millis),
                        open - idle
                    )
                });
            }
            tick += 30 * NS + rng.between(-40 * MS, 40 * MS);
        }

        // The baseline warning: about every two minutes, before and during the incident.
        let mut slow = story.logs_start + phase * 3;
        while slow < story.logs_end {
            let query_ms = rng.between(520, 1400);
            let rows = rng.between(1200, 9000);
            let sink = if pod_idx == 0 { &mut logs.x2kqp } else { &mut logs.q4hjn };
            if pod_idx == 0 || q4hjn_alive(slow) {
                sink.line(rng, slow, |local| {
                    format!(
                        "{{\"ts\":\"{}\",\"level\":\"warn\",\"msg\":\"slow query on orders table\",\"query_ms\":{query_ms},\"rows\":{rows},\"table\":\"orders\"}}",
                        rfc3339(local, Fraction::Millis)
                    )
                });
            }
            slow += 120 * NS + rng.between(-20 * NS, 20 * NS);
        }
    }

    // q4hjn's new container starts at 10:22:25 true (10:23:55 on node-2's clock).
    let startup = [
        (
            180 * MS,
            "\"msg\":\"starting checkout-api\",\"version\":\"1.8.2\",\"commit\":\"9c1e4b7\",\"go\":\"go1.23.5\""
                .to_owned(),
        ),
        (344 * MS, "\"msg\":\"connected to database\",\"host\":\"orders-db.shop.svc\",\"pool_size\":20".to_owned()),
        (351 * MS, "\"msg\":\"listening\",\"addr\":\":8080\"".to_owned()),
    ];
    for (offset, text) in startup {
        logs.q4hjn.line(rng, story.q4hjn_up + offset, |local| {
            format!("{{\"ts\":\"{}\",\"level\":\"info\",{text}}}", rfc3339(local, Fraction::Millis))
        });
    }

    let mut housekeeping = story.logs_start + 11_020 * MS;
    while housekeeping < story.logs_end {
        let active = rng.between(0, 3);
        logs.payments.line(rng, housekeeping, |local| {
            format!(
                "{} DEBUG [HikariPool-1 housekeeper] com.zaxxer.hikari.pool.HikariPool - HikariPool-1 - Pool stats (total=10, active={active}, idle={}, waiting=0)",
                logback(local + TOKYO),
                10 - active
            )
        });
        housekeeping += 30 * NS;
    }
    let mut settlement = story.logs_start + 45 * NS;
    while settlement < story.logs_end {
        let count = rng.between(2, 30);
        let took = rng.between(40, 300);
        logs.payments.line(rng, settlement, |local| {
            format!(
                "{} INFO  [scheduling-1] c.e.payments.SettlementJob - settlement batch flushed count={count} took_ms={took}",
                logback(local + TOKYO)
            )
        });
        settlement += 60 * NS + rng.between(0, 900 * MS);
    }
}

// ---------------------------------------------------------------------------------------
// Alertmanager

/// Prometheus' label-set fingerprint (FNV-1a 64 over sorted name/value pairs, each
/// followed by the 0xff separator), as Alertmanager prints it: 16 hex digits.
fn fingerprint(labels: &[(&str, &str)]) -> String {
    let mut sorted = labels.to_vec();
    sorted.sort();
    let mut hash: u64 = 14_695_981_039_346_656_037;
    let mut add = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(1_099_511_628_211);
        }
    };
    for (name, value) in sorted {
        add(name.as_bytes());
        add(&[0xff]);
        add(value.as_bytes());
        add(&[0xff]);
    }
    format!("{hash:016x}")
}

/// Prometheus builds `generatorURL` with `url.QueryEscape`.
fn query_escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            other => {
                let _ = write!(out, "%{other:02X}");
            }
        }
    }
    out
}

const HIGH_ERROR_RATE_EXPR: &str = "sum by (namespace, service) (rate(http_requests_total{namespace=\"shop\",service=\"checkout-api\",code=~\"5..\"}[5m])) / sum by (namespace, service) (rate(http_requests_total{namespace=\"shop\",service=\"checkout-api\"}[5m])) > 0.05";
const CRASHLOOP_EXPR: &str = "max_over_time(kube_pod_container_status_waiting_reason{job=\"kube-state-metrics\",namespace=~\".*\",reason=\"CrashLoopBackOff\"}[5m]) >= 1";
/// q4hjn's `metadata.uid`: named by the crash-loop alert and the BackOff message too.
const Q4HJN_UID: &str = "3f0a9c2e-61d4-4b8e-9a57-c2e8d41b7f03";
const GROUP_KEY: &str = "{}/{severity=\"critical\"}:{alertname=\"HighErrorRate\"}";

struct Alerts {
    starts: Nanos,
    ends: Nanos,
    crashloop_starts: Nanos,
    export: Nanos,
}

fn high_error_labels() -> Vec<(&'static str, &'static str)> {
    vec![("alertname", "HighErrorRate"), ("namespace", "shop"), ("service", "checkout-api"), ("severity", "critical")]
}

fn crashloop_labels() -> Vec<(&'static str, &'static str)> {
    vec![
        ("alertname", "KubePodCrashLooping"),
        ("container", "app"),
        ("endpoint", "http"),
        ("job", "kube-state-metrics"),
        ("namespace", "shop"),
        ("pod", "checkout-api-7d9f8b6c5-q4hjn"),
        ("reason", "CrashLoopBackOff"),
        ("service", "kube-state-metrics"),
        ("severity", "warning"),
        ("uid", Q4HJN_UID),
    ]
}

fn labels_json(labels: &[(&str, &str)]) -> Json {
    // Go marshals maps with sorted keys.
    let mut sorted = labels.to_vec();
    sorted.sort();
    Json::Object(sorted.into_iter().map(|(name, value)| (name.to_owned(), Json::from(value))).collect())
}

fn generator_url(expr: &str) -> String {
    format!("http://prometheus-k8s-0:9090/graph?g0.expr={}&g0.tab=1", query_escape(expr))
}

impl Alerts {
    fn new(story: &Story) -> Alerts {
        Alerts {
            starts: story.alert_starts,
            ends: story.alert_ends,
            crashloop_starts: story.crashloop_starts,
            export: story.amtool_export,
        }
    }

    fn high_error_annotations() -> Json {
        obj! {
            "description" => "5xx ratio of checkout-api in shop is 38.4% (> 5% for 1m).",
            "runbook_url" => "https://runbooks.example.com/shop/checkout-api?alert=HighErrorRate&env=prod",
            "summary" => "API 5xx ratio above 5%",
        }
    }

    /// The webhook v4 payload Alertmanager POSTs to the `postmortemd` receiver.
    fn webhook(&self, resolved: bool) -> String {
        let status = if resolved { "resolved" } else { "firing" };
        // A firing alert's endsAt is Go's zero time: Alertmanager hides the estimate.
        let ends = if resolved { rfc3339(self.ends, Fraction::GoTrimmed) } else { "0001-01-01T00:00:00Z".to_owned() };
        let labels = high_error_labels();
        let alert = obj! {
            "status" => status,
            "labels" => labels_json(&labels),
            "annotations" => Alerts::high_error_annotations(),
            "startsAt" => rfc3339(self.starts, Fraction::GoTrimmed),
            "endsAt" => ends,
            "generatorURL" => generator_url(HIGH_ERROR_RATE_EXPR),
            "fingerprint" => fingerprint(&labels),
        };
        obj! {
            "receiver" => "postmortemd",
            "status" => status,
            "alerts" => vec![alert],
            "groupLabels" => labels_json(&[("alertname", "HighErrorRate")]),
            "commonLabels" => labels_json(&labels),
            "commonAnnotations" => Alerts::high_error_annotations(),
            "externalURL" => "http://alertmanager-main-0:9093",
            "version" => "4",
            "groupKey" => GROUP_KEY,
            "truncatedAlerts" => 0i64,
        }
        .encode(GO_COMPACT)
    }

    /// `amtool alert query -o json` at 10:25: API v2 `GettableAlert`s (go-swagger field
    /// order: the alert's own fields, then the embedded `Alert`), millisecond times, and
    /// the endsAt Prometheus estimates (last send + 4 resend delays) while still firing.
    fn amtool(&self) -> String {
        let gettable =
            |labels: &[(&str, &str)], annotations: Json, starts: Nanos, receivers: &[&str], expr: &str| -> Json {
                let minutes_since = (self.export - starts) / (60 * NS);
                let last_sent = starts + minutes_since * 60 * NS - 15 * NS;
                obj! {
                    "annotations" => annotations,
                    "endsAt" => rfc3339(last_sent + 4 * 60 * NS, Fraction::Millis),
                    "fingerprint" => fingerprint(labels),
                    "receivers" => receivers.iter().map(|name| obj! {"name" => *name}).collect::<Vec<_>>(),
                    "startsAt" => rfc3339(starts, Fraction::Millis),
                    "status" => obj! {
                        "inhibitedBy" => Vec::<Json>::new(),
                        "silencedBy" => Vec::<Json>::new(),
                        "state" => "active",
                    },
                    "updatedAt" => rfc3339(last_sent + 23 * MS, Fraction::Millis),
                    "generatorURL" => generator_url(expr),
                    "labels" => labels_json(labels),
                }
            };
        Json::Array(vec![
            gettable(
                &high_error_labels(),
                Alerts::high_error_annotations(),
                self.starts,
                &["pagerduty-critical", "postmortemd"],
                HIGH_ERROR_RATE_EXPR,
            ),
            gettable(
                &crashloop_labels(),
                obj! {
                    "description" => "Pod shop/checkout-api-7d9f8b6c5-q4hjn (app) is in waiting state (reason: \"CrashLoopBackOff\").",
                    "runbook_url" => "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
                    "summary" => "Pod is crash looping.",
                },
                self.crashloop_starts,
                &["slack-warnings"],
                CRASHLOOP_EXPR,
            ),
        ])
        .encode(GO_COMPACT)
    }
}

// ---------------------------------------------------------------------------------------
// PagerDuty

fn sha256_hex(input: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut state: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut message = input.to_vec();
    let bit_len = (input.len() as u64) * 8;
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks(64) {
        let mut words = [0u32; 64];
        for (word_idx, chunk) in block.chunks(4).enumerate() {
            words[word_idx] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        for word_idx in 16..64 {
            let s0 = words[word_idx - 15].rotate_right(7)
                ^ words[word_idx - 15].rotate_right(18)
                ^ (words[word_idx - 15] >> 3);
            let s1 = words[word_idx - 2].rotate_right(17)
                ^ words[word_idx - 2].rotate_right(19)
                ^ (words[word_idx - 2] >> 10);
            words[word_idx] = words[word_idx - 16].wrapping_add(s0).wrapping_add(words[word_idx - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
        for round in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let choice = (e & f) ^ (!e & g);
            let temp1 = h.wrapping_add(s1).wrapping_add(choice).wrapping_add(K[round]).wrapping_add(words[round]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let temp2 = s0.wrapping_add(majority);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(temp1);
            d = c;
            c = b;
            b = a;
            a = temp1.wrapping_add(temp2);
        }
        for (slot, value) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *slot = slot.wrapping_add(value);
        }
    }
    state.iter().map(|word| format!("{word:08x}")).collect()
}

const PD_WEB: &str = "https://example-shop.pagerduty.com";
const PD_API: &str = "https://api.pagerduty.com";

struct PagerDuty {
    story_times: [Nanos; 8],
    incident_id: String,
    incident_number: u64,
    title: String,
    incident_key: String,
    service: Json,
    integration: Json,
    alice: Json,
    bob: Json,
    team: Json,
    escalation_policy: Json,
    alerts_firing_summary: String,
    rng_ids: Vec<String>,
}

fn pd_reference(kind: &str, id: &str, summary: &str, api_path: &str, web_path: &str) -> Json {
    obj! {
        "id" => id,
        "type" => kind,
        "summary" => summary,
        "self" => format!("{PD_API}/{api_path}/{id}"),
        "html_url" => format!("{PD_WEB}/{web_path}/{id}"),
    }
}

impl PagerDuty {
    fn new(story: &Story, alerts: &Alerts) -> PagerDuty {
        let mut rng = Rng::new(0xfa9e_d070);
        let incident_id = format!("Q{}", &rng.pd_id(14)[1..]);
        let service_id = rng.pd_id(7);
        let integration_id = rng.pd_id(7);
        let rng_ids = (0..16).map(|_| rng.hex(26).to_uppercase()).collect();
        let _ = alerts;
        PagerDuty {
            story_times: [
                story.pd_trigger,
                story.pd_notify,
                story.pd_ack,
                story.pd_note,
                story.pd_priority,
                story.pd_responder,
                story.pd_resolve,
                story.alert_starts,
            ],
            incident_id,
            incident_number: 4711,
            title: "[FIRING:1] HighErrorRate (shop checkout-api critical)".to_owned(),
            incident_key: sha256_hex(GROUP_KEY.as_bytes()),
            service: pd_reference(
                "service_reference",
                &service_id,
                "Checkout API (prod)",
                "services",
                "service-directory",
            ),
            integration: obj! {
                "id" => integration_id.clone(),
                "type" => "events_api_v2_inbound_integration_reference",
                "summary" => "Alertmanager",
                "self" => format!("{PD_API}/services/{service_id}/integrations/{integration_id}"),
                "html_url" => format!("{PD_WEB}/services/{service_id}/integrations/{integration_id}"),
            },
            alice: pd_reference("user_reference", "PALC3X1", "Alice Example", "users", "users"),
            bob: pd_reference("user_reference", "PB0BX2Y", "Bob Example", "users", "users"),
            team: pd_reference("team_reference", "PT3AM42", "Shop SRE", "teams", "teams"),
            escalation_policy: pd_reference(
                "escalation_policy_reference",
                "PESC9Q1",
                "Shop SRE - critical",
                "escalation_policies",
                "escalation_policies",
            ),
            alerts_firing_summary: "[FIRING:1] HighErrorRate (shop checkout-api critical)".to_owned(),
            rng_ids,
        }
    }

    fn incident_reference(&self) -> Json {
        obj! {
            "id" => self.incident_id.clone(),
            "type" => "incident_reference",
            "summary" => format!("[#{}] {}", self.incident_number, self.title),
            "self" => format!("{PD_API}/incidents/{}", self.incident_id),
            "html_url" => format!("{PD_WEB}/incidents/{}", self.incident_id),
        }
    }

    // One argument per field a log entry varies in reads better here than a builder.
    #[allow(clippy::too_many_arguments)]
    fn log_entry(
        &self,
        id_idx: usize,
        kind: &str,
        summary: &str,
        created: Nanos,
        agent: Option<Json>,
        channel: Json,
        extra: Vec<(String, Json)>,
    ) -> Json {
        let id = &self.rng_ids[id_idx];
        let mut fields = vec![
            ("id".to_owned(), Json::from(id)),
            ("type".to_owned(), Json::from(kind)),
            ("summary".to_owned(), Json::from(summary)),
            ("self".to_owned(), Json::from(format!("{PD_API}/log_entries/{id}"))),
            ("html_url".to_owned(), Json::from(format!("{PD_WEB}/incidents/{}/log_entries/{id}", self.incident_id))),
            ("created_at".to_owned(), Json::from(rfc3339(created, Fraction::None))),
        ];
        if let Some(agent) = agent {
            fields.push(("agent".to_owned(), agent));
        }
        fields.push(("channel".to_owned(), channel));
        fields.push(("service".to_owned(), self.service.clone()));
        fields.push(("incident".to_owned(), self.incident_reference()));
        fields.push(("teams".to_owned(), Json::Array(vec![self.team.clone()])));
        fields.push(("contexts".to_owned(), Json::Array(Vec::new())));
        fields.extend(extra);
        Json::Object(fields)
    }

    /// `GET /incidents/{id}/log_entries` as curl saves it: newest first, one page.
    fn log_entries(&self) -> String {
        let [trigger, notify, ack, note, _, _, resolve, alert_starts] = self.story_times;
        let details = obj! {
            "firing" => format!(
                "Labels:\n - alertname = HighErrorRate\n - namespace = shop\n - service = checkout-api\n - severity = critical\nAnnotations:\n - description = 5xx ratio of checkout-api in shop is 38.4% (> 5% for 1m).\n - runbook_url = https://runbooks.example.com/shop/checkout-api?alert=HighErrorRate&env=prod\n - summary = API 5xx ratio above 5%\nSource: {}\n",
                generator_url(HIGH_ERROR_RATE_EXPR)
            ),
            "num_firing" => "1",
            "num_resolved" => "0",
            "resolved" => "",
        };
        let _ = alert_starts;
        let entries = vec![
            self.log_entry(
                0,
                "resolve_log_entry",
                "Resolved through the API.",
                resolve,
                Some(self.integration.clone()),
                obj! {
                    "type" => "api",
                    "summary" => "[RESOLVED] HighErrorRate (shop checkout-api critical)",
                    "description" => "[RESOLVED] HighErrorRate (shop checkout-api critical)",
                    "incident_key" => self.incident_key.clone(),
                },
                vec![(
                    "event_details".to_owned(),
                    obj! {"description" => "[RESOLVED] HighErrorRate (shop checkout-api critical)"},
                )],
            ),
            self.log_entry(
                1,
                "annotate_log_entry",
                "Note added",
                note - note.rem_euclid(NS),
                Some(self.alice.clone()),
                obj! {
                    "type" => "note",
                    "summary" => "Errors began right after inventory 2.4.0 rollout; rolling back",
                },
                Vec::new(),
            ),
            self.log_entry(
                2,
                "acknowledge_log_entry",
                "Acknowledged by Alice Example.",
                ack,
                Some(self.alice.clone()),
                obj! {"type" => "mobile"},
                vec![
                    ("acknowledgement_timeout".to_owned(), Json::from(1800i64)),
                    ("event_details".to_owned(), empty()),
                ],
            ),
            self.log_entry(
                3,
                "notify_log_entry",
                "Notified Alice Example by SMS.",
                notify,
                None,
                obj! {
                    "type" => "sms",
                    "summary" => "SMS to +1 555-0142",
                },
                vec![("user".to_owned(), self.alice.clone()), ("event_details".to_owned(), empty())],
            ),
            self.log_entry(
                4,
                "assign_log_entry",
                "Assigned to Alice Example.",
                trigger,
                Some(self.escalation_policy.clone()),
                obj! {"type" => "auto"},
                vec![
                    ("assignees".to_owned(), Json::Array(vec![self.alice.clone()])),
                    ("event_details".to_owned(), empty()),
                ],
            ),
            self.log_entry(
                5,
                "trigger_log_entry",
                "Triggered through the API.",
                trigger,
                Some(self.integration.clone()),
                obj! {
                    "type" => "api",
                    "summary" => self.alerts_firing_summary.clone(),
                    "description" => self.alerts_firing_summary.clone(),
                    "incident_key" => self.incident_key.clone(),
                    "details" => details,
                    "details_omitted" => false,
                },
                vec![("event_details".to_owned(), obj! {"description" => self.alerts_firing_summary.clone()})],
            ),
        ];
        obj! {
            "log_entries" => entries,
            "limit" => 25i64,
            "offset" => 0i64,
            "more" => false,
            "total" => Json::Null,
        }
        .encode(GO_COMPACT)
    }

    /// Three v3 webhook deliveries as a receiver logged them: one JSON event per line.
    fn webhooks(&self) -> String {
        let [_, _, _, note, priority, responder, _, _] = self.story_times;
        let incident = obj! {
            "id" => self.incident_id.clone(),
            "type" => "incident",
            "self" => format!("{PD_API}/incidents/{}", self.incident_id),
            "html_url" => format!("{PD_WEB}/incidents/{}", self.incident_id),
            "number" => self.incident_number,
            "status" => "acknowledged",
            "incident_key" => self.incident_key.clone(),
            "created_at" => rfc3339(self.story_times[0], Fraction::None),
            "title" => self.title.clone(),
            "service" => self.service.clone(),
            "assignees" => vec![self.alice.clone()],
            "escalation_policy" => self.escalation_policy.clone(),
            "teams" => vec![self.team.clone()],
            "priority" => obj! {
                "id" => "PSO75BM",
                "type" => "priority_reference",
                "summary" => "P1",
                "self" => format!("{PD_API}/priorities/PSO75BM"),
                "html_url" => format!("{PD_WEB}/account/incident_priorities"),
            },
            "urgency" => "high",
            "conference_bridge" => Json::Null,
            "resolve_reason" => Json::Null,
        };
        let event = |id: &str, event_type: &str, occurred: Nanos, agent: &Json, data: Json| {
            obj! {
                "event" => obj! {
                    "id" => id,
                    "event_type" => event_type,
                    "resource_type" => "incident",
                    "occurred_at" => rfc3339(occurred, Fraction::Millis),
                    "agent" => agent.clone(),
                    "client" => Json::Null,
                    "data" => data,
                }
            }
            .encode(GO_COMPACT)
        };
        let mut out = String::new();
        out.push_str(&event(
            "01JKPW3M4Z6D0FQ8K2T9XRB7CV",
            "incident.annotated",
            note,
            &self.alice,
            obj! {
                "incident" => self.incident_reference(),
                "id" => "PN0TE7Q",
                "content" => "Errors began right after inventory 2.4.0 rollout; rolling back",
                "trimmed" => false,
                "type" => "incident_note",
            },
        ));
        out.push_str(&event(
            "01JKPW5E0TQ1HV7N3M8C4ZKA2D",
            "incident.priority_updated",
            priority,
            &self.alice,
            incident,
        ));
        out.push_str(&event(
            "01JKPW6BK9W2R5XG0J6Y3NPD1E",
            "incident.responder.added",
            responder,
            &self.alice,
            obj! {
                "incident" => self.incident_reference(),
                "user" => self.bob.clone(),
                "escalation_policy" => Json::Null,
                "message" => "Please join: checkout errors after inventory rollout",
                "state" => "pending",
                "type" => "incident_responder",
            },
        ));
        out
    }
}

// ---------------------------------------------------------------------------------------
// Kubernetes

const NODES: [&str; 3] = ["node-1", "node-2", "node-3"];
const NODE_IPS: [&str; 3] = ["10.0.1.11", "10.0.1.12", "10.0.1.13"];

fn node_ahead(node_idx: usize) -> Nanos {
    if node_idx == 1 { NODE2_AHEAD } else { 0 }
}

fn k8s_time(nanos: Nanos) -> String {
    rfc3339(nanos, Fraction::None)
}

struct App {
    name: &'static str,
    container: &'static str,
    image: &'static str,
    port: i64,
    memory_limit: &'static str,
    deployment_uid: String,
    deployment_created: Nanos,
}

struct PodSpec {
    name: String,
    uid: String,
    app: usize,
    hash: String,
    replicaset_uid: String,
    node: usize,
    ip: String,
    created: Nanos,
    /// The running container's start, true time.
    started: Nanos,
    /// `(started, finished)` of the previous container, true time, when it was OOM-killed.
    oom_killed: Option<(Nanos, Nanos)>,
    ready_since: Nanos,
    status_updated: Nanos,
}

struct ReplicaSetSpec {
    name: String,
    app: usize,
    uid: String,
    hash: String,
    image: String,
    revision: u64,
    revision_history: Option<&'static str>,
    created: Nanos,
    replicas: i64,
    spec_updated: Nanos,
    status_updated: Nanos,
}

struct Cluster {
    apps: Vec<App>,
    pods: Vec<PodSpec>,
    replicasets: Vec<ReplicaSetSpec>,
    story_rollout: Nanos,
    story_rollback: Nanos,
    readiness: (Nanos, Nanos),
    q4hjn: (Nanos, Nanos),
    resource_version: std::cell::Cell<u64>,
    uids: std::cell::RefCell<Rng>,
}

impl Cluster {
    fn new(story: &Story, rng: &mut Rng) -> Cluster {
        let mut uid = || rng.uuid();
        let apps = vec![
            App {
                name: "frontend",
                container: "nginx",
                image: "nginx:1.27.3",
                port: 80,
                memory_limit: "128Mi",
                deployment_uid: uid(),
                deployment_created: day_at("2024-11-18", "13:02:51"),
            },
            App {
                name: "checkout-api",
                container: "app",
                image: "registry.example.com/shop/checkout-api:1.8.2",
                port: 8080,
                memory_limit: "256Mi",
                deployment_uid: uid(),
                deployment_created: day_at("2024-11-18", "13:02:51"),
            },
            App {
                name: "payments",
                container: "app",
                image: "registry.example.com/shop/payments:3.1.0",
                port: 8080,
                memory_limit: "768Mi",
                deployment_uid: uid(),
                deployment_created: day_at("2024-11-18", "13:02:52"),
            },
            App {
                name: "inventory",
                container: "inventory",
                image: "registry.example.com/shop/inventory:2.3.1",
                port: 8080,
                memory_limit: "256Mi",
                deployment_uid: uid(),
                deployment_created: day_at("2024-11-18", "13:02:52"),
            },
        ];
        let frontend_rs = uid();
        let checkout_rs = uid();
        let payments_rs = uid();
        let inventory_old_rs = uid();
        let inventory_new_rs = uid();
        let replicasets = vec![
            ReplicaSetSpec {
                name: "frontend-6c8f7d9b4".into(),
                app: 0,
                uid: frontend_rs.clone(),
                hash: "6c8f7d9b4".into(),
                image: "nginx:1.27.3".into(),
                revision: 12,
                revision_history: None,
                created: day_at("2025-02-08", "09:12:40"),
                replicas: 1,
                spec_updated: day_at("2025-02-08", "09:12:40"),
                status_updated: day_at("2025-02-08", "09:12:49"),
            },
            ReplicaSetSpec {
                name: "checkout-api-7d9f8b6c5".into(),
                app: 1,
                uid: checkout_rs.clone(),
                hash: "7d9f8b6c5".into(),
                image: "registry.example.com/shop/checkout-api:1.8.2".into(),
                revision: 31,
                revision_history: None,
                created: day_at("2025-02-08", "14:20:02"),
                replicas: 2,
                spec_updated: day_at("2025-02-08", "14:20:02"),
                status_updated: story.q4hjn_up + 10 * NS,
            },
            ReplicaSetSpec {
                name: "payments-5c6d7f8b9".into(),
                app: 2,
                uid: payments_rs.clone(),
                hash: "5c6d7f8b9".into(),
                image: "registry.example.com/shop/payments:3.1.0".into(),
                revision: 5,
                revision_history: None,
                created: day_at("2025-02-08", "11:47:15"),
                replicas: 1,
                spec_updated: day_at("2025-02-08", "11:47:15"),
                status_updated: day_at("2025-02-08", "11:47:58"),
            },
            ReplicaSetSpec {
                name: "inventory-6f9d7c8b5".into(),
                app: 3,
                uid: inventory_old_rs.clone(),
                hash: "6f9d7c8b5".into(),
                image: "registry.example.com/shop/inventory:2.3.1".into(),
                revision: 9,
                revision_history: Some("7"),
                created: day_at("2025-02-02", "16:41:09"),
                replicas: 2,
                spec_updated: story.rollback,
                status_updated: story.rollback + 12 * NS,
            },
            ReplicaSetSpec {
                name: "inventory-58c4d9b7f6".into(),
                app: 3,
                uid: inventory_new_rs.clone(),
                hash: "58c4d9b7f6".into(),
                image: "registry.example.com/shop/inventory:2.4.0".into(),
                revision: 8,
                revision_history: None,
                created: story.rollout,
                replicas: 0,
                spec_updated: story.rollback + 12 * NS,
                status_updated: story.rollback + 14 * NS,
            },
        ];
        let created_checkout = day_at("2025-02-08", "14:20:03");
        let pods = vec![
            PodSpec {
                name: "frontend-6c8f7d9b4-h2k9m".into(),
                uid: uid(),
                app: 0,
                hash: "6c8f7d9b4".into(),
                replicaset_uid: frontend_rs,
                node: 0,
                ip: "10.244.1.23".into(),
                created: day_at("2025-02-08", "09:12:40"),
                started: day_at("2025-02-08", "09:12:44"),
                oom_killed: None,
                ready_since: day_at("2025-02-08", "09:12:49"),
                status_updated: day_at("2025-02-08", "09:12:49"),
            },
            PodSpec {
                name: "checkout-api-7d9f8b6c5-x2kqp".into(),
                uid: uid(),
                app: 1,
                hash: "7d9f8b6c5".into(),
                replicaset_uid: checkout_rs.clone(),
                node: 0,
                ip: "10.244.1.31".into(),
                created: created_checkout,
                started: day_at("2025-02-08", "14:20:09"),
                oom_killed: None,
                ready_since: day_at("2025-02-08", "14:20:19"),
                status_updated: day_at("2025-02-08", "14:20:19"),
            },
            PodSpec {
                name: "checkout-api-7d9f8b6c5-q4hjn".into(),
                uid: Q4HJN_UID.into(),
                app: 1,
                hash: "7d9f8b6c5".into(),
                replicaset_uid: checkout_rs,
                node: 1,
                ip: "10.244.2.17".into(),
                created: created_checkout,
                started: story.q4hjn_up,
                oom_killed: Some((day_at("2025-02-08", "14:20:10"), story.q4hjn_down)),
                ready_since: story.q4hjn_up + 10 * NS,
                status_updated: story.q4hjn_up + 10 * NS + 140 * MS,
            },
            PodSpec {
                name: "payments-5c6d7f8b9-r7t2w".into(),
                uid: uid(),
                app: 2,
                hash: "5c6d7f8b9".into(),
                replicaset_uid: payments_rs,
                node: 2,
                ip: "10.244.3.12".into(),
                created: day_at("2025-02-08", "11:47:15"),
                started: day_at("2025-02-08", "11:47:21"),
                oom_killed: None,
                ready_since: day_at("2025-02-08", "11:47:58"),
                status_updated: day_at("2025-02-08", "11:47:58"),
            },
            PodSpec {
                name: "inventory-6f9d7c8b5-9wzt4".into(),
                uid: uid(),
                app: 3,
                hash: "6f9d7c8b5".into(),
                replicaset_uid: inventory_old_rs.clone(),
                node: 0,
                ip: "10.244.1.44".into(),
                created: story.rollback,
                started: story.rollback + 3 * NS,
                oom_killed: None,
                ready_since: story.rollback + 11 * NS,
                status_updated: story.rollback + 11 * NS,
            },
            PodSpec {
                name: "inventory-6f9d7c8b5-kq7xd".into(),
                uid: uid(),
                app: 3,
                hash: "6f9d7c8b5".into(),
                replicaset_uid: inventory_old_rs,
                node: 2,
                ip: "10.244.3.29".into(),
                created: story.rollback,
                started: story.rollback + 4 * NS,
                oom_killed: None,
                ready_since: story.rollback + 12 * NS,
                status_updated: story.rollback + 12 * NS,
            },
        ];
        Cluster {
            apps,
            pods,
            replicasets,
            story_rollout: story.rollout,
            story_rollback: story.rollback,
            readiness: (story.readiness_first, story.readiness_last),
            q4hjn: (story.q4hjn_down, story.q4hjn_up),
            resource_version: std::cell::Cell::new(48_211_907),
            uids: std::cell::RefCell::new(Rng::new(0x00c1_u64 << 40 | 0x5eed)),
        }
    }

    fn next_resource_version(&self) -> String {
        let next = self.resource_version.get() + 1_731;
        self.resource_version.set(next);
        next.to_string()
    }

    fn uid(&self) -> String {
        self.uids.borrow_mut().uuid()
    }

    fn container_hex(&self) -> String {
        self.uids.borrow_mut().hex(64)
    }

    /// A `kubectl get … -o json` list: always `kind: List`, whatever the item kind.
    fn list(items: Vec<Json>) -> String {
        obj! {
            "apiVersion" => "v1",
            "items" => items,
            "kind" => "List",
            "metadata" => obj! {"resourceVersion" => ""},
        }
        .encode(KUBECTL)
    }

    fn container_spec(&self, app: &App, image: &str) -> Json {
        obj! {
            "image" => image,
            "imagePullPolicy" => "IfNotPresent",
            "name" => app.container,
            "ports" => vec![obj! {"containerPort" => app.port, "name" => "http", "protocol" => "TCP"}],
            "readinessProbe" => obj! {
                "failureThreshold" => 3i64,
                "httpGet" => obj! {"path" => "/healthz", "port" => "http", "scheme" => "HTTP"},
                "periodSeconds" => 10i64,
                "successThreshold" => 1i64,
                "timeoutSeconds" => 1i64,
            },
            "resources" => obj! {
                "limits" => obj! {"memory" => app.memory_limit},
                "requests" => obj! {"cpu" => "100m", "memory" => app.memory_limit},
            },
            "terminationMessagePath" => "/dev/termination-log",
            "terminationMessagePolicy" => "File",
        }
    }

    fn container_fields(app: &App) -> Vec<Vec<String>> {
        let key = format!("k:{{\"name\":\"{}\"}}", app.container);
        let leaves = [
            vec!["."],
            vec!["f:image"],
            vec!["f:imagePullPolicy"],
            vec!["f:name"],
            vec!["f:ports", "."],
            vec!["f:readinessProbe", "."],
            vec!["f:readinessProbe", "f:failureThreshold"],
            vec!["f:readinessProbe", "f:httpGet", "."],
            vec!["f:readinessProbe", "f:httpGet", "f:path"],
            vec!["f:readinessProbe", "f:httpGet", "f:port"],
            vec!["f:readinessProbe", "f:httpGet", "f:scheme"],
            vec!["f:readinessProbe", "f:periodSeconds"],
            vec!["f:readinessProbe", "f:successThreshold"],
            vec!["f:readinessProbe", "f:timeoutSeconds"],
            vec!["f:resources", "."],
            vec!["f:resources", "f:limits", "."],
            vec!["f:resources", "f:limits", "f:memory"],
            vec!["f:resources", "f:requests", "."],
            vec!["f:resources", "f:requests", "f:cpu"],
            vec!["f:resources", "f:requests", "f:memory"],
            vec!["f:terminationMessagePath"],
            vec!["f:terminationMessagePolicy"],
        ];
        leaves
            .iter()
            .map(|leaf| {
                let mut path = vec![key.clone()];
                path.extend(leaf.iter().map(|part| part.to_string()));
                path
            })
            .collect()
    }

    fn pod(&self, pod: &PodSpec) -> Json {
        let app = &self.apps[pod.app];
        let ahead = node_ahead(pod.node);
        let node_time = |instant: Nanos| k8s_time(instant + ahead);
        let replicaset_name = format!("{}-{}", app.name, pod.hash);
        let volume = format!("kube-api-access-{}", &self.uids.borrow_mut().hex(5));
        let mut container = self.container_spec(app, app.image);
        if let Json::Object(fields) = &mut container {
            fields.push((
                "volumeMounts".into(),
                Json::Array(vec![obj! {
                    "mountPath" => "/var/run/secrets/kubernetes.io/serviceaccount",
                    "name" => volume.clone(),
                    "readOnly" => true,
                }]),
            ));
        }
        let container_paths = Cluster::container_fields(app);
        let mut controller_paths: Vec<Vec<String>> = vec![
            vec!["f:metadata".into(), "f:generateName".into()],
            vec!["f:metadata".into(), "f:labels".into(), ".".into()],
            vec!["f:metadata".into(), "f:labels".into(), "f:app".into()],
            vec!["f:metadata".into(), "f:labels".into(), "f:pod-template-hash".into()],
            vec!["f:metadata".into(), "f:ownerReferences".into(), ".".into()],
            vec!["f:metadata".into(), "f:ownerReferences".into(), format!("k:{{\"uid\":\"{}\"}}", pod.replicaset_uid)],
        ];
        for path in &container_paths {
            let mut full = vec!["f:spec".to_owned(), "f:containers".to_owned()];
            full.extend(path.iter().cloned());
            controller_paths.push(full);
        }
        for leaf in [
            "f:dnsPolicy",
            "f:enableServiceLinks",
            "f:restartPolicy",
            "f:schedulerName",
            "f:securityContext",
            "f:terminationGracePeriodSeconds",
        ] {
            controller_paths.push(vec!["f:spec".into(), leaf.into()]);
        }
        let controller_refs: Vec<Vec<&str>> =
            controller_paths.iter().map(|path| path.iter().map(String::as_str).collect()).collect();
        let controller_slices: Vec<&[&str]> = controller_refs.iter().map(Vec::as_slice).collect();

        let condition_key = |kind: &str| format!("k:{{\"type\":\"{kind}\"}}");
        let ip_key = format!("k:{{\"ip\":\"{}\"}}", pod.ip);
        let host_ip_key = format!("k:{{\"ip\":\"{}\"}}", NODE_IPS[pod.node]);
        let mut status_paths: Vec<Vec<String>> = Vec::new();
        for kind in ["ContainersReady", "Initialized", "PodReadyToStartContainers", "Ready"] {
            for leaf in [".", "f:lastProbeTime", "f:lastTransitionTime", "f:status", "f:type"] {
                status_paths.push(vec!["f:status".into(), "f:conditions".into(), condition_key(kind), leaf.into()]);
            }
        }
        for leaf in ["f:containerStatuses", "f:hostIP", "f:phase", "f:podIP", "f:startTime"] {
            status_paths.push(vec!["f:status".into(), leaf.into()]);
        }
        status_paths.push(vec!["f:status".into(), "f:hostIPs".into(), ".".into()]);
        status_paths.push(vec!["f:status".into(), "f:hostIPs".into(), host_ip_key.clone(), ".".into()]);
        status_paths.push(vec!["f:status".into(), "f:hostIPs".into(), host_ip_key, "f:ip".into()]);
        status_paths.push(vec!["f:status".into(), "f:podIPs".into(), ".".into()]);
        status_paths.push(vec!["f:status".into(), "f:podIPs".into(), ip_key.clone(), ".".into()]);
        status_paths.push(vec!["f:status".into(), "f:podIPs".into(), ip_key, "f:ip".into()]);
        let status_refs: Vec<Vec<&str>> =
            status_paths.iter().map(|path| path.iter().map(String::as_str).collect()).collect();
        let status_slices: Vec<&[&str]> = status_refs.iter().map(Vec::as_slice).collect();

        let container_id = format!("containerd://{}", self.container_hex());
        let last_state = match pod.oom_killed {
            Some((started, finished)) => obj! {
                "terminated" => obj! {
                    "containerID" => format!("containerd://{}", self.container_hex()),
                    "exitCode" => 137i64,
                    "finishedAt" => node_time(finished),
                    "reason" => "OOMKilled",
                    "startedAt" => node_time(started),
                }
            },
            None => empty(),
        };
        let restart_count: i64 = if pod.oom_killed.is_some() { 1 } else { 0 };
        let image_digest = self.container_hex();
        let scheduled = pod.created;
        let condition = |kind: &str, transition: Nanos| {
            obj! {
                "lastProbeTime" => Json::Null,
                "lastTransitionTime" => transition_text(kind, transition, ahead),
                "status" => "True",
                "type" => kind,
            }
        };
        obj! {
            "apiVersion" => "v1",
            "kind" => "Pod",
            "metadata" => obj! {
                "creationTimestamp" => k8s_time(pod.created),
                "generateName" => format!("{replicaset_name}-"),
                "labels" => obj! {"app" => app.name, "pod-template-hash" => pod.hash.clone()},
                "managedFields" => vec![
                    obj! {
                        "apiVersion" => "v1",
                        "fieldsType" => "FieldsV1",
                        "fieldsV1" => fields_v1(&controller_slices),
                        "manager" => "kube-controller-manager",
                        "operation" => "Update",
                        "time" => k8s_time(pod.created),
                    },
                    obj! {
                        "apiVersion" => "v1",
                        "fieldsType" => "FieldsV1",
                        "fieldsV1" => fields_v1(&status_slices),
                        "manager" => "kubelet",
                        "operation" => "Update",
                        "subresource" => "status",
                        // Set by the apiserver, so on the true clock even for node-2.
                        "time" => k8s_time(pod.status_updated),
                    },
                ],
                "name" => pod.name.clone(),
                "namespace" => "shop",
                "ownerReferences" => vec![obj! {
                    "apiVersion" => "apps/v1",
                    "blockOwnerDeletion" => true,
                    "controller" => true,
                    "kind" => "ReplicaSet",
                    "name" => replicaset_name.clone(),
                    "uid" => pod.replicaset_uid.clone(),
                }],
                "resourceVersion" => self.next_resource_version(),
                "uid" => pod.uid.clone(),
            },
            "spec" => obj! {
                "containers" => vec![container],
                "dnsPolicy" => "ClusterFirst",
                "enableServiceLinks" => true,
                "nodeName" => NODES[pod.node],
                "preemptionPolicy" => "PreemptLowerPriority",
                "priority" => 0i64,
                "restartPolicy" => "Always",
                "schedulerName" => "default-scheduler",
                "securityContext" => empty(),
                "serviceAccount" => "default",
                "serviceAccountName" => "default",
                "terminationGracePeriodSeconds" => 30i64,
                "tolerations" => vec![
                    obj! {"effect" => "NoExecute", "key" => "node.kubernetes.io/not-ready", "operator" => "Exists", "tolerationSeconds" => 300i64},
                    obj! {"effect" => "NoExecute", "key" => "node.kubernetes.io/unreachable", "operator" => "Exists", "tolerationSeconds" => 300i64},
                ],
                "volumes" => vec![obj! {
                    "name" => volume,
                    "projected" => obj! {
                        "defaultMode" => 420i64,
                        "sources" => vec![
                            obj! {"serviceAccountToken" => obj! {"expirationSeconds" => 3607i64, "path" => "token"}},
                            obj! {"configMap" => obj! {
                                "items" => vec![obj! {"key" => "ca.crt", "path" => "ca.crt"}],
                                "name" => "kube-root-ca.crt",
                            }},
                            obj! {"downwardAPI" => obj! {
                                "items" => vec![obj! {
                                    "fieldRef" => obj! {"apiVersion" => "v1", "fieldPath" => "metadata.namespace"},
                                    "path" => "namespace",
                                }],
                            }},
                        ],
                    },
                }],
            },
            "status" => obj! {
                "conditions" => vec![
                    condition("PodReadyToStartContainers", pod.started - NS),
                    condition("Initialized", pod.created + 2 * NS),
                    condition("Ready", pod.ready_since),
                    condition("ContainersReady", pod.ready_since),
                    condition("PodScheduled", scheduled),
                ],
                "containerStatuses" => vec![obj! {
                    "containerID" => container_id,
                    "image" => app.image,
                    "imageID" => format!("{}@sha256:{image_digest}", app.image.split(':').next().unwrap_or(app.image)),
                    "lastState" => last_state,
                    "name" => app.container,
                    "ready" => true,
                    "restartCount" => restart_count,
                    "started" => true,
                    "state" => obj! {"running" => obj! {"startedAt" => node_time(pod.started)}},
                }],
                "hostIP" => NODE_IPS[pod.node],
                "hostIPs" => vec![obj! {"ip" => NODE_IPS[pod.node]}],
                "phase" => "Running",
                "podIP" => pod.ip.clone(),
                "podIPs" => vec![obj! {"ip" => pod.ip.clone()}],
                "qosClass" => "Burstable",
                "startTime" => node_time(pod.created + NS),
            },
        }
    }

    fn pods(&self) -> String {
        Cluster::list(self.pods.iter().map(|pod| self.pod(pod)).collect())
    }

    /// A core/v1 Event as a kubelet's recorder writes it: times from the node's clock,
    /// `creationTimestamp` from the apiserver's, the name from the first time in hex nanos.
    #[allow(clippy::too_many_arguments)]
    fn kubelet_event(
        &self,
        pod_name: &str,
        node: usize,
        event_type: &str,
        reason: &str,
        message: String,
        first: Nanos,
        last: Nanos,
        count: i64,
    ) -> Json {
        let ahead = node_ahead(node);
        let pod = self.pods.iter().find(|pod| pod.name == pod_name).expect("events name known pods");
        let app = &self.apps[pod.app];
        obj! {
            "apiVersion" => "v1",
            "count" => count,
            "eventTime" => Json::Null,
            "firstTimestamp" => k8s_time(first + ahead),
            "involvedObject" => obj! {
                "apiVersion" => "v1",
                "fieldPath" => format!("spec.containers{{{}}}", app.container),
                "kind" => "Pod",
                "name" => pod_name,
                "namespace" => "shop",
                "resourceVersion" => self.next_resource_version(),
                "uid" => pod.uid.clone(),
            },
            "kind" => "Event",
            "lastTimestamp" => k8s_time(last + ahead),
            "message" => message,
            "metadata" => obj! {
                "creationTimestamp" => k8s_time(first),
                "name" => format!("{pod_name}.{:x}", first + ahead),
                "namespace" => "shop",
                "resourceVersion" => self.next_resource_version(),
                "uid" => self.uid(),
            },
            "reason" => reason,
            "reportingComponent" => "kubelet",
            "reportingInstance" => NODES[node],
            "source" => obj! {"component" => "kubelet", "host" => NODES[node]},
            "type" => event_type,
        }
    }

    fn core_events(&self) -> String {
        let (readiness_first, readiness_last) = self.readiness;
        let (down, up) = self.q4hjn;
        let q4hjn = "checkout-api-7d9f8b6c5-q4hjn";
        let events = vec![
            self.kubelet_event(
                "checkout-api-7d9f8b6c5-x2kqp",
                0,
                "Warning",
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503".into(),
                readiness_first + 318 * MS,
                readiness_last + 522 * MS,
                12,
            ),
            self.kubelet_event(
                q4hjn,
                1,
                "Warning",
                "BackOff",
                format!("Back-off restarting failed container app in pod {q4hjn}_shop({Q4HJN_UID})"),
                down + 12 * NS + 77 * MS,
                up - 15 * NS + 604 * MS,
                31,
            ),
            self.kubelet_event(
                q4hjn,
                1,
                "Normal",
                "Pulled",
                "Container image \"registry.example.com/shop/checkout-api:1.8.2\" already present on machine".into(),
                up - 880 * MS,
                up - 880 * MS,
                1,
            ),
            self.kubelet_event(
                q4hjn,
                1,
                "Normal",
                "Created",
                "Created container app".into(),
                up - 851 * MS,
                up - 851 * MS,
                1,
            ),
            self.kubelet_event(
                q4hjn,
                1,
                "Normal",
                "Started",
                "Started container app".into(),
                up + 9 * MS,
                up + 9 * MS,
                1,
            ),
        ];
        Cluster::list(events)
    }

    /// The deployment controller's ScalingReplicaSet events, read through events.k8s.io/v1.
    fn k8s_io_events(&self) -> String {
        let inventory = &self.apps[3];
        let event = |at: Nanos, note: &str| {
            obj! {
                "action" => "ScalingReplicaSet",
                "apiVersion" => "events.k8s.io/v1",
                "deprecatedFirstTimestamp" => Json::Null,
                "deprecatedLastTimestamp" => Json::Null,
                "deprecatedSource" => empty(),
                "eventTime" => rfc3339(at, Fraction::Micros),
                "kind" => "Event",
                "metadata" => obj! {
                    "creationTimestamp" => k8s_time(at),
                    "name" => format!("inventory.{:x}", at),
                    "namespace" => "shop",
                    "resourceVersion" => self.next_resource_version(),
                    "uid" => self.uid(),
                },
                "note" => note,
                "reason" => "ScalingReplicaSet",
                "regarding" => obj! {
                    "apiVersion" => "apps/v1",
                    "kind" => "Deployment",
                    "name" => "inventory",
                    "namespace" => "shop",
                    "resourceVersion" => self.next_resource_version(),
                    "uid" => inventory.deployment_uid.clone(),
                },
                "reportingController" => "deployment-controller",
                "reportingInstance" => "",
                "series" => Json::Null,
                "type" => "Normal",
            }
        };
        let rollout = self.story_rollout;
        let rollback = self.story_rollback;
        Cluster::list(vec![
            event(rollout + 214_512 * US, "Scaled up replica set inventory-58c4d9b7f6 from 0 to 2"),
            event(rollout + 12 * NS + 532_109 * US, "Scaled down replica set inventory-6f9d7c8b5 from 2 to 0"),
            event(rollback + 118_734 * US, "Scaled up replica set inventory-6f9d7c8b5 from 0 to 2"),
            event(rollback + 12 * NS + 402_281 * US, "Scaled down replica set inventory-58c4d9b7f6 from 2 to 0"),
        ])
    }

    fn pod_template(&self, app: &App, image: &str, hash: Option<&str>) -> Json {
        let labels = match hash {
            Some(hash) => obj! {"app" => app.name, "pod-template-hash" => hash},
            None => obj! {"app" => app.name},
        };
        obj! {
            "metadata" => obj! {"creationTimestamp" => Json::Null, "labels" => labels},
            "spec" => obj! {
                "containers" => vec![self.container_spec(app, image)],
                "dnsPolicy" => "ClusterFirst",
                "restartPolicy" => "Always",
                "schedulerName" => "default-scheduler",
                "securityContext" => empty(),
                "terminationGracePeriodSeconds" => 30i64,
            },
        }
    }

    fn replicaset(&self, replicaset: &ReplicaSetSpec) -> Json {
        let app = &self.apps[replicaset.app];
        let mut annotations = vec![
            (
                "deployment.kubernetes.io/desired-replicas".to_owned(),
                Json::from(if app.name == "checkout-api" || app.name == "inventory" { "2" } else { "1" }),
            ),
            (
                "deployment.kubernetes.io/max-replicas".to_owned(),
                Json::from(if app.name == "checkout-api" || app.name == "inventory" { "4" } else { "2" }),
            ),
            ("deployment.kubernetes.io/revision".to_owned(), Json::from(replicaset.revision.to_string())),
        ];
        let mut spec_paths: Vec<Vec<String>> = vec![
            vec!["f:metadata".into(), "f:annotations".into(), ".".into()],
            vec!["f:metadata".into(), "f:annotations".into(), "f:deployment.kubernetes.io/desired-replicas".into()],
            vec!["f:metadata".into(), "f:annotations".into(), "f:deployment.kubernetes.io/max-replicas".into()],
            vec!["f:metadata".into(), "f:annotations".into(), "f:deployment.kubernetes.io/revision".into()],
        ];
        if let Some(history) = replicaset.revision_history {
            annotations.push(("deployment.kubernetes.io/revision-history".to_owned(), Json::from(history)));
            spec_paths.push(vec![
                "f:metadata".into(),
                "f:annotations".into(),
                "f:deployment.kubernetes.io/revision-history".into(),
            ]);
        }
        for path in [
            vec!["f:metadata", "f:labels", "."],
            vec!["f:metadata", "f:labels", "f:app"],
            vec!["f:metadata", "f:labels", "f:pod-template-hash"],
            vec!["f:metadata", "f:ownerReferences", "."],
        ] {
            spec_paths.push(path.into_iter().map(String::from).collect());
        }
        spec_paths.push(vec![
            "f:metadata".into(),
            "f:ownerReferences".into(),
            format!("k:{{\"uid\":\"{}\"}}", app.deployment_uid),
        ]);
        for path in [
            vec!["f:spec", "f:replicas"],
            vec!["f:spec", "f:selector"],
            vec!["f:spec", "f:template", "f:metadata", "f:labels", "."],
            vec!["f:spec", "f:template", "f:metadata", "f:labels", "f:app"],
            vec!["f:spec", "f:template", "f:metadata", "f:labels", "f:pod-template-hash"],
        ] {
            spec_paths.push(path.into_iter().map(String::from).collect());
        }
        for path in Cluster::container_fields(app) {
            let mut full: Vec<String> =
                ["f:spec", "f:template", "f:spec", "f:containers"].into_iter().map(String::from).collect();
            full.extend(path);
            spec_paths.push(full);
        }
        let spec_refs: Vec<Vec<&str>> =
            spec_paths.iter().map(|path| path.iter().map(String::as_str).collect()).collect();
        let spec_slices: Vec<&[&str]> = spec_refs.iter().map(Vec::as_slice).collect();
        let status_slices: Vec<&[&str]> = vec![
            &["f:status", "f:availableReplicas"],
            &["f:status", "f:fullyLabeledReplicas"],
            &["f:status", "f:observedGeneration"],
            &["f:status", "f:readyReplicas"],
            &["f:status", "f:replicas"],
        ];
        let mut status = vec![
            ("fullyLabeledReplicas".to_owned(), Json::from(replicaset.replicas)),
            ("observedGeneration".to_owned(), Json::from(if replicaset.replicas == 0 { 3i64 } else { 4 })),
            ("replicas".to_owned(), Json::from(replicaset.replicas)),
        ];
        if replicaset.replicas > 0 {
            status.insert(0, ("availableReplicas".to_owned(), Json::from(replicaset.replicas)));
            status.insert(3, ("readyReplicas".to_owned(), Json::from(replicaset.replicas)));
        }
        obj! {
            "apiVersion" => "apps/v1",
            "kind" => "ReplicaSet",
            "metadata" => obj! {
                "annotations" => Json::Object(annotations),
                "creationTimestamp" => k8s_time(replicaset.created),
                "generation" => if replicaset.replicas == 0 { 3i64 } else { 4 },
                "labels" => obj! {"app" => app.name, "pod-template-hash" => replicaset.hash.clone()},
                "managedFields" => vec![
                    obj! {
                        "apiVersion" => "apps/v1",
                        "fieldsType" => "FieldsV1",
                        "fieldsV1" => fields_v1(&spec_slices),
                        "manager" => "kube-controller-manager",
                        "operation" => "Update",
                        "time" => k8s_time(replicaset.spec_updated),
                    },
                    obj! {
                        "apiVersion" => "apps/v1",
                        "fieldsType" => "FieldsV1",
                        "fieldsV1" => fields_v1(&status_slices),
                        "manager" => "kube-controller-manager",
                        "operation" => "Update",
                        "subresource" => "status",
                        "time" => k8s_time(replicaset.status_updated),
                    },
                ],
                "name" => replicaset.name.clone(),
                "namespace" => "shop",
                "ownerReferences" => vec![obj! {
                    "apiVersion" => "apps/v1",
                    "blockOwnerDeletion" => true,
                    "controller" => true,
                    "kind" => "Deployment",
                    "name" => app.name,
                    "uid" => app.deployment_uid.clone(),
                }],
                "resourceVersion" => self.next_resource_version(),
                "uid" => replicaset.uid.clone(),
            },
            "spec" => obj! {
                "replicas" => replicaset.replicas,
                "selector" => obj! {"matchLabels" => obj! {"app" => app.name, "pod-template-hash" => replicaset.hash.clone()}},
                "template" => self.pod_template(app, &replicaset.image, Some(&replicaset.hash)),
            },
            "status" => Json::Object(status),
        }
    }

    fn replicasets(&self) -> String {
        Cluster::list(self.replicasets.iter().map(|replicaset| self.replicaset(replicaset)).collect())
    }

    fn deployment(&self, app_idx: usize) -> Json {
        let app = &self.apps[app_idx];
        let current = self
            .replicasets
            .iter()
            .find(|replicaset| replicaset.app == app_idx && replicaset.replicas > 0)
            .expect("every app has a live ReplicaSet");
        let replicas: i64 = if app.name == "checkout-api" || app.name == "inventory" { 2 } else { 1 };
        let is_inventory = app.name == "inventory";
        // kubectl apply records what it applied; `rollout undo` does not touch it, so after
        // the rollback it still names inventory 2.4.0.
        let applied_image = if is_inventory { "registry.example.com/shop/inventory:2.4.0" } else { app.image };
        let last_applied = format!(
            "{{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{{\"annotations\":{{}},\"labels\":{{\"app\":\"{name}\"}},\"name\":\"{name}\",\"namespace\":\"shop\"}},\"spec\":{{\"replicas\":{replicas},\"selector\":{{\"matchLabels\":{{\"app\":\"{name}\"}}}},\"strategy\":{{\"rollingUpdate\":{{\"maxSurge\":\"100%\",\"maxUnavailable\":0}}}},\"template\":{{\"metadata\":{{\"labels\":{{\"app\":\"{name}\"}}}},\"spec\":{{\"containers\":[{{\"image\":\"{applied_image}\",\"name\":\"{container}\",\"ports\":[{{\"containerPort\":{port},\"name\":\"http\"}}],\"readinessProbe\":{{\"httpGet\":{{\"path\":\"/healthz\",\"port\":\"http\"}}}},\"resources\":{{\"limits\":{{\"memory\":\"{memory}\"}},\"requests\":{{\"cpu\":\"100m\",\"memory\":\"{memory}\"}}}}}}]}}}}}}}}\n",
            name = app.name,
            container = app.container,
            port = app.port,
            memory = app.memory_limit,
        );
        let apply_time = if is_inventory { self.story_rollout } else { current.created };
        let mut apply_paths: Vec<Vec<String>> = vec![
            vec!["f:metadata".into(), "f:annotations".into(), ".".into()],
            vec![
                "f:metadata".into(),
                "f:annotations".into(),
                "f:kubectl.kubernetes.io/last-applied-configuration".into(),
            ],
            vec!["f:metadata".into(), "f:labels".into(), ".".into()],
            vec!["f:metadata".into(), "f:labels".into(), "f:app".into()],
        ];
        for leaf in ["f:progressDeadlineSeconds", "f:replicas", "f:revisionHistoryLimit", "f:selector"] {
            apply_paths.push(vec!["f:spec".into(), leaf.into()]);
        }
        for path in [
            vec!["f:spec", "f:strategy", "f:rollingUpdate", "."],
            vec!["f:spec", "f:strategy", "f:rollingUpdate", "f:maxSurge"],
            vec!["f:spec", "f:strategy", "f:rollingUpdate", "f:maxUnavailable"],
            vec!["f:spec", "f:strategy", "f:type"],
            vec!["f:spec", "f:template", "f:metadata", "f:labels", "."],
            vec!["f:spec", "f:template", "f:metadata", "f:labels", "f:app"],
        ] {
            apply_paths.push(path.into_iter().map(String::from).collect());
        }
        for path in Cluster::container_fields(app) {
            // After `rollout undo`, the image belongs to kubectl-rollout.
            if is_inventory && path.last().map(String::as_str) == Some("f:image") {
                continue;
            }
            let mut full: Vec<String> =
                ["f:spec", "f:template", "f:spec", "f:containers"].into_iter().map(String::from).collect();
            full.extend(path);
            apply_paths.push(full);
        }
        for leaf in [
            "f:dnsPolicy",
            "f:restartPolicy",
            "f:schedulerName",
            "f:securityContext",
            "f:terminationGracePeriodSeconds",
        ] {
            apply_paths.push(vec!["f:spec".into(), "f:template".into(), "f:spec".into(), leaf.into()]);
        }
        let apply_refs: Vec<Vec<&str>> =
            apply_paths.iter().map(|path| path.iter().map(String::as_str).collect()).collect();
        let apply_slices: Vec<&[&str]> = apply_refs.iter().map(Vec::as_slice).collect();
        let container_key = format!("k:{{\"name\":\"{}\"}}", app.container);
        let rollout_path = ["f:spec", "f:template", "f:spec", "f:containers", container_key.as_str(), "f:image"];
        let rollout_slices: Vec<&[&str]> = vec![&rollout_path];
        let revision_slices: Vec<&[&str]> =
            vec![&["f:metadata", "f:annotations", "f:deployment.kubernetes.io/revision"]];
        let status_slices: Vec<&[&str]> = vec![
            &["f:status", "f:availableReplicas"],
            &["f:status", "f:conditions", "."],
            &["f:status", "f:conditions", "k:{\"type\":\"Available\"}", "."],
            &["f:status", "f:conditions", "k:{\"type\":\"Available\"}", "f:lastTransitionTime"],
            &["f:status", "f:conditions", "k:{\"type\":\"Available\"}", "f:lastUpdateTime"],
            &["f:status", "f:conditions", "k:{\"type\":\"Available\"}", "f:message"],
            &["f:status", "f:conditions", "k:{\"type\":\"Available\"}", "f:reason"],
            &["f:status", "f:conditions", "k:{\"type\":\"Available\"}", "f:status"],
            &["f:status", "f:conditions", "k:{\"type\":\"Available\"}", "f:type"],
            &["f:status", "f:conditions", "k:{\"type\":\"Progressing\"}", "."],
            &["f:status", "f:conditions", "k:{\"type\":\"Progressing\"}", "f:lastTransitionTime"],
            &["f:status", "f:conditions", "k:{\"type\":\"Progressing\"}", "f:lastUpdateTime"],
            &["f:status", "f:conditions", "k:{\"type\":\"Progressing\"}", "f:message"],
            &["f:status", "f:conditions", "k:{\"type\":\"Progressing\"}", "f:reason"],
            &["f:status", "f:conditions", "k:{\"type\":\"Progressing\"}", "f:status"],
            &["f:status", "f:conditions", "k:{\"type\":\"Progressing\"}", "f:type"],
            &["f:status", "f:observedGeneration"],
            &["f:status", "f:readyReplicas"],
            &["f:status", "f:replicas"],
            &["f:status", "f:updatedReplicas"],
        ];
        let managed_entry = |manager: &str, time: Nanos, fields: Json, status: bool| {
            let mut entry = vec![
                ("apiVersion".to_owned(), Json::from("apps/v1")),
                ("fieldsType".to_owned(), Json::from("FieldsV1")),
                ("fieldsV1".to_owned(), fields),
                ("manager".to_owned(), Json::from(manager)),
                ("operation".to_owned(), Json::from("Update")),
            ];
            if status {
                entry.push(("subresource".to_owned(), Json::from("status")));
            }
            entry.push(("time".to_owned(), Json::from(k8s_time(time))));
            Json::Object(entry)
        };
        let mut managed = vec![
            managed_entry("kubectl-client-side-apply", apply_time, fields_v1(&apply_slices), false),
            managed_entry(
                "kube-controller-manager",
                current.spec_updated.max(apply_time),
                fields_v1(&revision_slices),
                false,
            ),
            managed_entry("kube-controller-manager", current.status_updated, fields_v1(&status_slices), true),
        ];
        if is_inventory {
            managed.push(managed_entry("kubectl-rollout", self.story_rollback, fields_v1(&rollout_slices), false));
        }
        let progressed = current.status_updated;
        obj! {
            "apiVersion" => "apps/v1",
            "kind" => "Deployment",
            "metadata" => obj! {
                "annotations" => obj! {
                    "deployment.kubernetes.io/revision" => current.revision.to_string(),
                    "kubectl.kubernetes.io/last-applied-configuration" => last_applied,
                },
                "creationTimestamp" => k8s_time(app.deployment_created),
                "generation" => (current.revision as i64) + 3,
                "labels" => obj! {"app" => app.name},
                "managedFields" => managed,
                "name" => app.name,
                "namespace" => "shop",
                "resourceVersion" => self.next_resource_version(),
                "uid" => app.deployment_uid.clone(),
            },
            "spec" => obj! {
                "progressDeadlineSeconds" => 600i64,
                "replicas" => replicas,
                "revisionHistoryLimit" => 10i64,
                "selector" => obj! {"matchLabels" => obj! {"app" => app.name}},
                "strategy" => obj! {
                    "rollingUpdate" => obj! {"maxSurge" => "100%", "maxUnavailable" => 0i64},
                    "type" => "RollingUpdate",
                },
                "template" => self.pod_template(app, &current.image, None),
            },
            "status" => obj! {
                "availableReplicas" => replicas,
                "conditions" => vec![
                    obj! {
                        "lastTransitionTime" => k8s_time(current.created.min(progressed)),
                        "lastUpdateTime" => k8s_time(current.created.min(progressed)),
                        "message" => "Deployment has minimum availability.",
                        "reason" => "MinimumReplicasAvailable",
                        "status" => "True",
                        "type" => "Available",
                    },
                    obj! {
                        "lastTransitionTime" => k8s_time(app.deployment_created),
                        "lastUpdateTime" => k8s_time(progressed),
                        "message" => format!("ReplicaSet \"{}\" has successfully progressed.", current.name),
                        "reason" => "NewReplicaSetAvailable",
                        "status" => "True",
                        "type" => "Progressing",
                    },
                ],
                "observedGeneration" => (current.revision as i64) + 3,
                "readyReplicas" => replicas,
                "replicas" => replicas,
                "updatedReplicas" => replicas,
            },
        }
    }

    fn deployments(&self) -> String {
        Cluster::list((0..self.apps.len()).map(|app_idx| self.deployment(app_idx)).collect())
    }
}

/// Pod conditions are stamped by the kubelet (node clock), except `PodScheduled`, which
/// the scheduler sets on the true clock.
fn transition_text(kind: &str, transition: Nanos, ahead: Nanos) -> String {
    if kind == "PodScheduled" { k8s_time(transition) } else { k8s_time(transition + ahead) }
}

// ---------------------------------------------------------------------------------------
// Prometheus

const ERRORS_QUERY: &str =
    "sum by (pod) (rate(http_requests_total{namespace=\"shop\",service=\"checkout-api\",code=~\"5..\"}[1m]))";
const LATENCY_QUERY: &str = "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace=\"shop\",service=\"checkout-api\"}[1m])))";
const NODE_CLOCK_QUERY: &str = "node_time_seconds - timestamp(node_time_seconds)";
const TIMEX_OFFSET_QUERY: &str = "node_timex_offset_seconds";
const TIMEX_SYNC_QUERY: &str = "node_timex_sync_status";

/// A query_range response body: compact, values as strings, times as integer seconds
/// (the step is whole seconds), Go's shortest float formatting.
fn query_range(series: Vec<(Json, Vec<(Nanos, f64)>)>) -> String {
    let result = series
        .into_iter()
        .map(|(metric, samples)| {
            let values = samples
                .into_iter()
                .map(|(instant, value)| {
                    Json::Array(vec![Json::Number((instant / NS).to_string()), Json::String(prom_float(value))])
                })
                .collect::<Vec<_>>();
            obj! {"metric" => metric, "values" => values}
        })
        .collect::<Vec<_>>();
    obj! {
        "status" => "success",
        "data" => obj! {"resultType" => "matrix", "result" => result},
    }
    .encode(GO_COMPACT)
    .trim_end()
    .to_owned()
}

/// `strconv.FormatFloat(value, 'f', -1, 64)`, with Prometheus' spellings of the specials.
fn prom_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{value}")
    }
}

fn steps(story: &Story) -> impl Iterator<Item = Nanos> + '_ {
    (0..)
        .map(move |step_idx| story.prom_start + step_idx * 15 * NS)
        .take_while(move |instant| *instant <= story.prom_end)
}

fn node_exporter_labels(node_idx: usize, name: Option<&str>) -> Json {
    let pods = ["node-exporter-7kq2x", "node-exporter-m4v9d", "node-exporter-xp2lw"];
    let mut labels = Vec::new();
    if let Some(name) = name {
        labels.push(("__name__".to_owned(), Json::from(name)));
    }
    for (key, value) in [
        ("container", "kube-rbac-proxy"),
        ("endpoint", "https"),
        ("instance", NODES[node_idx]),
        ("job", "node-exporter"),
        ("namespace", "monitoring"),
        ("pod", pods[node_idx]),
        ("service", "node-exporter"),
    ] {
        labels.push((key.to_owned(), Json::from(value)));
    }
    Json::Object(labels)
}

fn prometheus_files(story: &Story, rng: &mut Rng) -> Vec<(String, String)> {
    let (high_from, high_to) = story.rate_high;
    let mut errors = Vec::new();
    for pod in ["checkout-api-7d9f8b6c5-q4hjn", "checkout-api-7d9f8b6c5-x2kqp"] {
        let mut samples = Vec::new();
        for instant in steps(story) {
            let down = pod.ends_with("q4hjn") && instant > story.q4hjn_down && instant < story.q4hjn_up + 5 * NS;
            if down {
                continue;
            }
            let value = if instant >= high_from && instant < high_to {
                1.6 * (1.0 + 0.06 * rng.normal())
            } else {
                0.01 + 0.02 * rng.unit()
            };
            samples.push((instant, value));
        }
        errors.push((obj! {"pod" => pod}, samples));
    }

    let (gap_from, gap_to) = story.latency_gap;
    let latency_samples = steps(story)
        .filter(|instant| *instant <= gap_from || *instant >= gap_to)
        .map(|instant| {
            let value = if instant >= high_from && instant < high_to {
                2.4 * (1.0 + 0.05 * rng.normal())
            } else {
                0.12 * (1.0 + 0.08 * rng.normal())
            };
            (instant, value)
        })
        .collect();

    let clock_centres = [0.002, 90.0, -0.003];
    let node_clock = (0..3)
        .map(|node_idx| {
            let samples =
                steps(story).map(|instant| (instant, clock_centres[node_idx] + 0.0006 * rng.normal())).collect();
            (node_exporter_labels(node_idx, None), samples)
        })
        .collect();
    let timex_offset = (0..3)
        .map(|node_idx| {
            let samples = steps(story)
                .map(|instant| {
                    // An unsynchronised kernel stops updating its offset: node-2 reads 0.
                    let value = match node_idx {
                        0 => 0.000_21 + 0.000_05 * rng.normal(),
                        1 => 0.0,
                        _ => -0.000_35 + 0.000_05 * rng.normal(),
                    };
                    (instant, value)
                })
                .collect();
            (node_exporter_labels(node_idx, Some(TIMEX_OFFSET_QUERY)), samples)
        })
        .collect();
    let timex_sync = (0..3)
        .map(|node_idx| {
            let value = if node_idx == 1 { 0.0 } else { 1.0 };
            let samples = steps(story).map(|instant| (instant, value)).collect();
            (node_exporter_labels(node_idx, Some(TIMEX_SYNC_QUERY)), samples)
        })
        .collect();

    vec![
        ("errors_by_pod.json".into(), query_range(errors)),
        ("latency_p99.json".into(), query_range(vec![(empty(), latency_samples)])),
        ("node_clock.json".into(), query_range(node_clock)),
        ("node_timex_offset.json".into(), query_range(timex_offset)),
        ("node_timex_sync.json".into(), query_range(timex_sync)),
    ]
}

fn queries_json() -> String {
    obj! {
        "errors_by_pod.json" => ERRORS_QUERY,
        "latency_p99.json" => LATENCY_QUERY,
        "node_clock.json" => NODE_CLOCK_QUERY,
        "node_timex_offset.json" => TIMEX_OFFSET_QUERY,
        "node_timex_sync.json" => TIMEX_SYNC_QUERY,
    }
    .encode(Style { indent: Some("  "), sort_keys: false })
}

// ---------------------------------------------------------------------------------------
// README

fn readme(logs: &Logs) -> String {
    let line_count = |sink: &LogSink| sink.lines.len();
    let first_500 = logs.frontend.prefix_span("\" 500 ").expect("the story has 500s");
    let x2kqp_errors = logs.x2kqp.prefix_span("\"level\":\"error\"").expect("x2kqp logs errors");
    let q4hjn_errors = logs.q4hjn.prefix_span("\"level\":\"error\"").expect("q4hjn logs errors");
    let slow_x2kqp = logs.x2kqp.prefix_span("slow query on orders table").expect("baseline warning present");
    let slow_q4hjn = logs.q4hjn.prefix_span("slow query on orders table").expect("baseline warning present");
    let mut q4hjn_prefixes: Vec<Nanos> = logs.q4hjn.lines.iter().map(|(prefix, _)| *prefix).collect();
    q4hjn_prefixes.sort();
    let (gap_start, gap_end) = q4hjn_prefixes
        .windows(2)
        .map(|pair| (pair[0], pair[1]))
        .max_by_key(|(start, end)| end - start)
        .expect("q4hjn has lines");
    let skewed = |instant: Nanos| hms_millis(instant);
    let true_of = |instant: Nanos| hms_millis(instant - NODE2_AHEAD);

    let mut out = String::new();
    let _ = write!(
        out,
        r#"# Example incident: checkout outage after an inventory rollout

Generated by `cargo run --example generate_incident` (deterministic; do not edit by hand:
change the generator and re-run it). Every file is in the shape the real tool exports;
nothing here was copied from a real system.

Draft it offline with:

```sh
cargo run --release -- draft examples/checkout-outage
```

## The story (2025-02-09, true UTC, namespace `shop`)

At 10:04:10 someone runs `kubectl apply` with inventory 2.4.0. From 10:05:23.4 about 40% of
checkout requests fail with `inventory reservation failed: upstream returned 503`; nginx
returns 500 for them. `HighErrorRate` starts at 10:06:15 and pages Alice at 10:06:50. Alice
acknowledges at 10:12:00. At 10:15:30 the checkout-api pod on node-2 is OOM-killed and stays
down until 10:22:25. Alice notes at 10:18:00 that errors began with the rollout, raises the
incident to P1 and adds Bob. At 10:30:05 `kubectl rollout undo` brings inventory 2.3.1 back;
the last failure is at 10:31:49.7, the alert resolves at 10:35:00 and the page at 10:36:00.
Prometheus has no p99 latency samples from 10:24:00 to 10:27:00.

Clocks: node-1 and node-3 are right. **node-2 runs 90 s ahead** (NTP unsynchronised): the
kubelet prefix and the embedded times of `checkout-api-7d9f8b6c5-q4hjn`, the kubelet's events
on node-2 (`source.host: node-2`) and that pod's status times all read 90 s late; the
apiserver's own times (`creationTimestamp`, `managedFields[].time`) stay right.
payments (node-3) writes **zone-less Asia/Tokyo wall times** (`2025-02-09 19:05:24,120`)
behind a correct UTC kubelet prefix: a +09:00 zone error, not a clock error.

## Files

| File | Shape |
|------|-------|
| `frontend-6c8f7d9b4-h2k9m_nginx.log` | `kubectl logs --timestamps`, node-1: nginx combined + `request_id=` ({frontend} lines) |
| `checkout-api-7d9f8b6c5-x2kqp_app.log` | same, node-1: JSON lines ({x2kqp} lines) |
| `checkout-api-7d9f8b6c5-q4hjn_app.log` | same, node-2 (+90 s): `kubectl logs --previous` then `kubectl logs`, so the restart shows as silence ({q4hjn} lines) |
| `payments-5c6d7f8b9-r7t2w_app.log` | same, node-3: Logback lines in Tokyo wall time ({payments} lines) |
| `alertmanager-firing.json`, `alertmanager-resolved.json` | webhook v4 bodies for receiver `postmortemd` (Go encoder: `\u0026`, `\u003e`; firing `endsAt` is `0001-01-01T00:00:00Z`) |
| `alerts.json` | `amtool alert query -o json` at 10:25: API v2 `GettableAlert`s (HighErrorRate, KubePodCrashLooping) |
| `pagerduty-log-entries.json` | REST `GET /incidents/{{id}}/log_entries`, newest first |
| `pagerduty-webhooks.ndjson` | three v3 webhook bodies, one per line |
| `events.json` | `kubectl get events -o json` (core/v1, `kind: List`) |
| `events-k8s-io.json` | `kubectl get events.v1.events.k8s.io -o json` |
| `pods.json`, `replicasets.json`, `deployments.json` | `kubectl get … -o json` with managedFields, ownerReferences, status |
| `errors_by_pod.json`, `latency_p99.json`, `node_clock.json`, `node_timex_offset.json`, `node_timex_sync.json` | Prometheus `query_range` bodies, step 15 s, 09:46:00–10:45:00 |
| `queries.json` | file name → PromQL |

Log files are named `<pod>_<container>.log`; `pods.json` gives each pod's node.

## Planted facts

Times are true UTC unless marked "node-2 clock". A correct draft shows each of these, with
the time within the tolerance.

| Fact | Where | Expected | Tolerance |
|------|-------|----------|-----------|
| Rollout of inventory revision 8 (`inventory:2.4.0`) by `kubectl-client-side-apply` | `replicasets.json` (RS `inventory-58c4d9b7f6` created), `deployments.json` managedFields, `events-k8s-io.json` | 10:04:10 | ±1 s |
| First 5xx: nginx 500 | frontend log | {first_500} | ±1 s |
| First `inventory reservation failed: upstream returned 503` (error, new template) | x2kqp log | {x2kqp_first} | ±1 s |
| Same template on q4hjn | q4hjn log | {q4hjn_first_true} (reads {q4hjn_first_skewed} on the node-2 clock) | ±1 s after correction |
| `HighErrorRate` fires (critical, `service=checkout-api`, summary "API 5xx ratio above 5%") | `alertmanager-firing.json`, `alerts.json` | startsAt 10:06:15.347 | ±1 s |
| 5xx rate by pod leaves baseline (~0.02 → ~1.6) | `errors_by_pod.json` | 10:06:00 | ±30 s |
| p99 latency leaves baseline (~0.12 s → ~2.4 s) | `latency_p99.json` | 10:06:00 | ±30 s |
| Incident triggered / Alice notified by SMS | `pagerduty-log-entries.json` | 10:06:50 / 10:06:51 | ±1 s |
| Readiness probe failures on x2kqp (Warning Unhealthy, count 12) | `events.json` (kubelet, node-1) | first 10:07:10, last 10:30:40 | ±1 s |
| Alice acknowledges | `pagerduty-log-entries.json` | 10:12:00 | ±1 s |
| q4hjn container OOMKilled (exit 137), restartCount 1 | `pods.json` lastState (finishedAt 10:17:00 node-2 clock) | 10:15:30 | ±5 s |
| Warning BackOff for q4hjn (kubelet on node-2) | `events.json` (firstTimestamp 10:17:12 node-2 clock) | 10:15:42 | ±5 s after correction |
| `KubePodCrashLooping` for q4hjn | `alerts.json` | startsAt 10:16:45.812 | ±1 s |
| Note by Alice: "Errors began right after inventory 2.4.0 rollout; rolling back" | `pagerduty-webhooks.ndjson` (and the same note as `annotate_log_entry`: one row, not two) | 10:18:00 | ±1 s |
| Priority P1 / Bob Example added as responder | `pagerduty-webhooks.ndjson` | 10:19:00 / 10:19:30 | ±1 s |
| q4hjn running again (Pulled, Created, Started; startedAt 10:23:55 node-2 clock) | `events.json`, `pods.json` | 10:22:25 | ±5 s |
| Rollback: inventory revision 9 (`inventory:2.3.1`, revision-history 7) by `kubectl-rollout` | `deployments.json` (kubectl-rollout at 10:30:05), `replicasets.json` (RS `inventory-6f9d7c8b5` managedFields 10:30:05, status 10:30:17), `events-k8s-io.json` | 10:30:05 | +15 s (a parser taking the status entry's time gets 10:30:17) |
| Last failure | q4hjn log | {last_error_true} (node-2 clock {last_error_skewed}) | ±1 s after correction |
| 5xx rate and p99 back to baseline | `errors_by_pod.json`, `latency_p99.json` | 10:32:30 | ±30 s |
| `HighErrorRate` resolved | `alertmanager-resolved.json` | endsAt 10:35:00.347 | ±1 s |
| Incident resolved (through the API) | `pagerduty-log-entries.json` | 10:36:00 | ±1 s |

Doubts a correct draft reports:

| Doubt | Evidence | Expected | Tolerance |
|-------|----------|----------|-----------|
| Clock skew of node-2: +90 s, flagged; its entries corrected | `node_clock.json` (node-2 ≈ 90.0, node-1 ≈ 0.002, node-3 ≈ −0.003); `node_timex_sync.json` (node-2 = 0); request ids shared by the frontend (node-1) and q4hjn (node-2) | +90 s | ±5 s |
| No skew flagged for node-1 or node-3 | same | \|offset\| < 2 s | — |
| Zone error on payments: embedded times +09:00 against the kubelet prefix (`assumed_zone`/`zone_mismatch`, not clock skew) | payments log | +09:00 | exact quarter-hours |
| Gap: q4hjn log silent (container restarted) | q4hjn log: last line at {gap_start_true} (node-2 clock {gap_start_skewed}), next at {gap_end_true} (node-2 clock {gap_end_skewed}) | 10:15:30 → 10:22:25 | ±1 min each end |
| Gap: `latency_p99.json` has no samples | last sample 10:24:00, next 10:27:00 | 10:24:00 → 10:27:00 | ±1 min each end |

Allowed, not required: a gap in q4hjn's series of `errors_by_pod.json` (last sample 10:15:30,
next 10:22:30), the same restart seen by Prometheus.

Nothing else should be flagged: no other gaps, no skew on node-1 or node-3, and no row for the baseline warning `slow query on orders table`
(about every 2 minutes in both checkout-api pods since 09:40: {slow_x2kqp} + {slow_q4hjn}
lines) nor for the info templates, `db pool stats`, kube-probe lines, payments' housekeeping,
or q4hjn's startup lines. ReplicaSets and Deployments of frontend, checkout-api and payments
were last rolled out on 2025-02-08, before the window: no rows for them.
"#,
        frontend = line_count(&logs.frontend),
        x2kqp = line_count(&logs.x2kqp),
        q4hjn = line_count(&logs.q4hjn),
        payments = line_count(&logs.payments),
        first_500 = hms_millis(first_500.0),
        x2kqp_first = hms_millis(x2kqp_errors.0),
        q4hjn_first_true = true_of(q4hjn_errors.0),
        q4hjn_first_skewed = skewed(q4hjn_errors.0),
        last_error_true = true_of(q4hjn_errors.1),
        last_error_skewed = skewed(q4hjn_errors.1),
        gap_start_true = true_of(gap_start),
        gap_start_skewed = skewed(gap_start),
        gap_end_true = true_of(gap_end),
        gap_end_skewed = skewed(gap_end),
        slow_x2kqp = slow_x2kqp.2,
        slow_q4hjn = slow_q4hjn.2,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_time(nanos: Nanos, fraction: Fraction, expected: &str) {
        assert_eq!(rfc3339(nanos, fraction), expected);
        let parsed: jiff::Timestamp = expected.parse().expect("expected text is RFC 3339");
        let truncation = match fraction {
            Fraction::None => NS,
            Fraction::Millis => MS,
            Fraction::Micros => US,
            Fraction::Nanos | Fraction::GoTrimmed => 1,
        };
        assert_eq!(
            parsed.as_nanosecond(),
            i128::from(nanos - nanos.rem_euclid(truncation)),
            "jiff reads {expected} as another instant"
        );
    }

    #[test]
    fn rfc3339_matches_jiff() {
        let rows: [(&str, Fraction, &str); 7] = [
            ("10:05:23.412345678", Fraction::Nanos, "2025-02-09T10:05:23.412345678Z"),
            ("10:05:23.412345678", Fraction::Millis, "2025-02-09T10:05:23.412Z"),
            ("10:05:23.412345678", Fraction::Micros, "2025-02-09T10:05:23.412345Z"),
            ("10:05:23.412345678", Fraction::None, "2025-02-09T10:05:23Z"),
            ("10:06:15.347", Fraction::GoTrimmed, "2025-02-09T10:06:15.347Z"),
            ("10:06:15", Fraction::GoTrimmed, "2025-02-09T10:06:15Z"),
            ("00:00:00.000000001", Fraction::Nanos, "2025-02-09T00:00:00.000000001Z"),
        ];
        for (clock, fraction, expected) in rows {
            check_time(at(clock), fraction, expected);
        }
        check_time(day_at("2024-02-29", "23:59:59"), Fraction::None, "2024-02-29T23:59:59Z");
        check_time(day_at("1999-12-31", "12:00:00"), Fraction::None, "1999-12-31T12:00:00Z");
    }

    #[test]
    fn log_time_formats() {
        let rows: [(fn(Nanos) -> String, Nanos, &str); 3] = [
            (clf, at("10:05:23.9"), "09/Feb/2025:10:05:23 +0000"),
            (logback, at("10:05:24.120") + TOKYO, "2025-02-09 19:05:24,120"),
            (logback, day_at("2025-02-09", "23:30:00") + TOKYO, "2025-02-10 08:30:00,000"),
        ];
        for (format, nanos, expected) in rows {
            assert_eq!(format(nanos), expected);
        }
    }

    #[track_caller]
    fn check_json(value: Json, style: Style, expected: &str) {
        assert_eq!(value.encode(style), expected);
    }

    #[test]
    fn json_is_escaped_like_go() {
        let rows: [(Json, Style, &str); 4] = [
            (
                obj! {"url" => "a?b=1&c=<2>", "n" => 3i64},
                GO_COMPACT,
                "{\"url\":\"a?b=1\\u0026c=\\u003c2\\u003e\",\"n\":3}\n",
            ),
            (obj! {"b" => empty(), "a" => Vec::<Json>::new()}, KUBECTL, "{\n    \"a\": [],\n    \"b\": {}\n}\n"),
            (obj! {"k" => "quote \" and \\ and \n"}, GO_COMPACT, "{\"k\":\"quote \\\" and \\\\ and \\n\"}\n"),
            (obj! {"k" => "\u{2028}\u{1}"}, GO_COMPACT, "{\"k\":\"\\u2028\\u0001\"}\n"),
        ];
        for (value, style, expected) in rows {
            check_json(value, style, expected);
        }
    }

    #[test]
    fn hashes_match_known_values() {
        let rows: [(&str, &str); 2] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ];
        for (input, expected) in rows {
            assert_eq!(sha256_hex(input.as_bytes()), expected);
        }
        // The empty label set hashes to FNV-1a's offset basis.
        assert_eq!(fingerprint(&[]), "cbf29ce484222325");
    }

    #[test]
    fn query_escape_matches_go() {
        assert_eq!(query_escape("rate(x{a=\"b\"}[5m]) > 0.05"), "rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29+%3E+0.05");
    }
}
