//! Generates benchmark input for `postmortemd draft`: N log lines spread over a number of
//! `kubectl logs --timestamps` files (`DIR/<pod>_<container>.log`) with realistic app lines
//! (JSON, logfmt, nginx access lines, a few error templates), plus one Prometheus
//! query_range body with a series per pod and the `queries.json` naming it.
//!
//! It owns only the data; timing the pipeline is `bench/draft.sh`'s job. Output is
//! deterministic (seeded splitmix64, fixed start instant) and fast: lines are formatted
//! by hand into byte buffers, one thread per file up to the machine's parallelism.
//!
//! Run: `cargo run --release --example generate_load -- --lines 1000000 --out DIR`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant as WallClock;

const NS: i64 = 1_000_000_000;
const MS: i64 = 1_000_000;

/// 2025-02-09T09:30:00Z: the data spans one hour from here.
const START: i64 = 1_739_093_400 * NS;
const SPAN: i64 = 3600 * NS;

struct Options {
    lines: u64,
    containers: usize,
    out: PathBuf,
    seed: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options =
        Options { lines: 1_000_000, containers: 20, out: PathBuf::from("target/bench-data/load"), seed: 1 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--lines" => {
                options.lines =
                    value("--lines")?.replace('_', "").parse().map_err(|error| format!("--lines: {error}"))?
            }
            "--containers" => {
                options.containers = value("--containers")?.parse().map_err(|error| format!("--containers: {error}"))?
            }
            "--out" => options.out = PathBuf::from(value("--out")?),
            "--seed" => options.seed = value("--seed")?.parse().map_err(|error| format!("--seed: {error}"))?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.containers == 0 {
        return Err("--containers must be at least 1".into());
    }
    Ok(options)
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("generate_load: {error}");
            eprintln!("usage: generate_load [--lines N] [--containers 20] [--out DIR] [--seed S]");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(&options) {
        eprintln!("generate_load: {error}");
        std::process::exit(1);
    }
}

fn run(options: &Options) -> io::Result<()> {
    fs::create_dir_all(&options.out)?;
    let streams = streams(options.containers);
    let per_file = options.lines / options.containers as u64;
    let remainder = options.lines % options.containers as u64;
    let started = WallClock::now();

    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map(usize::from).unwrap_or(1).min(streams.len());
    let results: Vec<io::Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut bytes = 0;
                    loop {
                        let stream_idx = next.fetch_add(1, Ordering::Relaxed);
                        let Some(stream) = streams.get(stream_idx) else {
                            return Ok(bytes);
                        };
                        let lines = per_file + u64::from((stream_idx as u64) < remainder);
                        let path = options.out.join(format!("{}_{}.log", stream.pod, stream.container));
                        bytes += write_stream(
                            &path,
                            stream,
                            lines,
                            options.seed ^ (stream_idx as u64).wrapping_mul(0x9e37),
                        )?;
                    }
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("writer thread panicked")).collect()
    });
    let mut bytes = 0;
    for result in results {
        bytes += result?;
    }
    write_query_range(&options.out, &streams, options.seed)?;

    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "wrote {} lines ({:.1} MB) in {} files to {} in {:.2} s ({:.1} M lines/s)",
        options.lines,
        bytes as f64 / 1e6,
        streams.len(),
        options.out.display(),
        seconds,
        options.lines as f64 / seconds / 1e6
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Streams

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Json,
    Logfmt,
    Nginx,
}

struct Stream {
    pod: String,
    container: &'static str,
    flavour: Flavour,
}

/// Deployments in the generated namespace, by flavour: a spread like a small shop's.
const APPS: [(&str, &str, Flavour); 7] = [
    ("frontend", "nginx", Flavour::Nginx),
    ("checkout-api", "app", Flavour::Json),
    ("cart", "app", Flavour::Json),
    ("catalog", "app", Flavour::Json),
    ("payments", "app", Flavour::Logfmt),
    ("inventory", "app", Flavour::Logfmt),
    ("ingress", "controller", Flavour::Nginx),
];

fn streams(count: usize) -> Vec<Stream> {
    let mut rng = Rng(0x10ad);
    (0..count)
        .map(|stream_idx| {
            let (app, container, flavour) = APPS[stream_idx % APPS.len()];
            let hash = rng.alnum(9);
            let suffix = rng.alnum(5);
            Stream { pod: format!("{app}-{hash}-{suffix}"), container, flavour }
        })
        .collect()
}

fn write_stream(path: &Path, stream: &Stream, lines: u64, seed: u64) -> io::Result<u64> {
    let mut file = File::create(path)?;
    let mut rng = Rng(seed);
    let mut clock = Clock::default();
    let mut buffer: Vec<u8> = Vec::with_capacity(4 << 20);
    let mut written = 0u64;
    // Mean spacing so the file spans the hour; jitter keeps it irregular but monotonic.
    let gap = (SPAN / lines.max(1) as i64).max(1);
    let mut now = START + (rng.next() % gap as u64) as i64;
    for _ in 0..lines {
        now += 1 + (rng.next() % (2 * gap as u64)) as i64;
        clock.kubelet(now, &mut buffer);
        buffer.push(b' ');
        match stream.flavour {
            Flavour::Json => json_line(&mut rng, &mut clock, now, &mut buffer),
            Flavour::Logfmt => logfmt_line(&mut rng, &mut clock, now, &mut buffer),
            Flavour::Nginx => nginx_line(&mut rng, &mut clock, now, &mut buffer),
        }
        buffer.push(b'\n');
        if buffer.len() >= (4 << 20) - 4096 {
            file.write_all(&buffer)?;
            written += buffer.len() as u64;
            buffer.clear();
        }
    }
    file.write_all(&buffer)?;
    written += buffer.len() as u64;
    Ok(written)
}

// ---------------------------------------------------------------------------------------
// Line templates

const PATHS: [&[u8]; 6] =
    [b"/api/cart", b"/api/products/", b"/api/checkout", b"/api/orders/", b"/api/cart/items", b"/api/search?q="];

/// The planted incident: from 60 % to 75 % of the span a new error template appears in the
/// JSON services and nginx answers 503 on checkout, so a draft of the load has rows to draw.
fn in_incident(now: i64) -> bool {
    let offset = now - START;
    (SPAN / 10 * 6..SPAN / 4 * 3).contains(&offset)
}

fn json_line(rng: &mut Rng, clock: &mut Clock, now: i64, out: &mut Vec<u8>) {
    let embedded = now - 150_000;
    out.extend_from_slice(b"{\"ts\":\"");
    clock.millis(embedded, out);
    let roll = rng.next() % 1000;
    if in_incident(now) && roll >= 950 {
        out.extend_from_slice(
            b"\",\"level\":\"error\",\"msg\":\"inventory reservation failed: upstream returned 503\",\"request_id\":\"",
        );
        hex16(rng.next(), out);
        out.extend_from_slice(b"\"}");
    } else if roll < 4 {
        out.extend_from_slice(
            b"\",\"level\":\"error\",\"msg\":\"db query failed: connection reset by peer\",\"request_id\":\"",
        );
        hex16(rng.next(), out);
        out.extend_from_slice(b"\",\"db\":\"orders-db.shop.svc:5432\",\"attempt\":");
        itoa(1 + rng.next() % 3, out);
        out.push(b'}');
    } else if roll < 12 {
        out.extend_from_slice(b"\",\"level\":\"warn\",\"msg\":\"slow query on orders table\",\"query_ms\":");
        itoa(500 + rng.next() % 900, out);
        out.extend_from_slice(b",\"rows\":");
        itoa(1000 + rng.next() % 9000, out);
        out.push(b'}');
    } else if roll < 40 {
        out.extend_from_slice(b"\",\"level\":\"info\",\"msg\":\"db pool stats\",\"open\":");
        let open = 8 + rng.next() % 12;
        itoa(open, out);
        out.extend_from_slice(b",\"idle\":");
        itoa(open / 3, out);
        out.extend_from_slice(b",\"wait_count\":0}");
    } else {
        let path = PATHS[(rng.next() % PATHS.len() as u64) as usize];
        out.extend_from_slice(b"\",\"level\":\"info\",\"msg\":\"request served\",\"request_id\":\"");
        hex16(rng.next(), out);
        out.extend_from_slice(b"\",\"method\":\"GET\",\"path\":\"");
        out.extend_from_slice(path);
        if path.ends_with(b"/") || path.ends_with(b"=") {
            itoa(1000 + rng.next() % 9000, out);
        }
        out.extend_from_slice(b"\",\"status\":200,\"duration_ms\":");
        itoa(2 + rng.next() % 60, out);
        out.push(b'}');
    }
}

fn logfmt_line(rng: &mut Rng, clock: &mut Clock, now: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"time=");
    clock.millis(now - 90_000, out);
    let roll = rng.next() % 1000;
    if roll < 5 {
        out.extend_from_slice(
            b" level=error msg=\"payment provider timeout\" provider=acquirer-eu timeout_ms=3000 id=",
        );
        hex16(rng.next(), out);
    } else if roll < 30 {
        out.extend_from_slice(b" level=info msg=\"settlement batch flushed\" count=");
        itoa(1 + rng.next() % 40, out);
        out.extend_from_slice(b" took_ms=");
        itoa(20 + rng.next() % 300, out);
    } else {
        out.extend_from_slice(b" level=info msg=\"reservation ok\" sku=sku-");
        itoa(1000 + rng.next() % 9000, out);
        out.extend_from_slice(b" quantity=");
        itoa(1 + rng.next() % 4, out);
        out.extend_from_slice(b" duration=");
        itoa(1 + rng.next() % 40, out);
        out.extend_from_slice(b"ms id=");
        hex16(rng.next(), out);
    }
}

const AGENTS: [&[u8]; 3] = [
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1",
    b"Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0",
];

fn nginx_line(rng: &mut Rng, clock: &mut Clock, now: i64, out: &mut Vec<u8>) {
    let random = rng.next();
    out.extend_from_slice(b"10.0.");
    itoa(2 + random % 4, out);
    out.push(b'.');
    itoa(10 + (random >> 8) % 240, out);
    out.extend_from_slice(b" - - [");
    clock.clf(now, out);
    let roll = (random >> 20) % 1000;
    if roll >= 980 {
        // The kubelet's readiness probe, a steady template of its own.
        out.extend_from_slice(b"] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\" request_id=");
        hex16(rng.next(), out);
        return;
    }
    let path = PATHS[((random >> 32) % PATHS.len() as u64) as usize];
    out.extend_from_slice(if roll < 150 { b"] \"POST " } else { b"] \"GET " });
    out.extend_from_slice(path);
    if path.ends_with(b"/") || path.ends_with(b"=") {
        itoa(1000 + (random >> 40) % 9000, out);
    }
    let (status, bytes): (&[u8], u64) = if in_incident(now) && roll >= 940 {
        (b" HTTP/1.1\" 503 ", 33)
    } else if roll < 3 {
        (b" HTTP/1.1\" 502 ", 157)
    } else if roll < 5 {
        (b" HTTP/1.1\" 504 ", 167)
    } else {
        (b" HTTP/1.1\" 200 ", 200 + (random >> 44) % 3000)
    };
    out.extend_from_slice(status);
    itoa(bytes, out);
    out.extend_from_slice(b" \"-\" \"");
    out.extend_from_slice(AGENTS[((random >> 56) % AGENTS.len() as u64) as usize]);
    out.extend_from_slice(b"\" request_id=");
    hex16(rng.next(), out);
}

// ---------------------------------------------------------------------------------------
// Formatting by hand: the generator must outrun the pipeline it feeds.

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    fn alnum(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..len).map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize] as char).collect()
    }
}

fn hex16(value: u64, out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 16];
    for (digit_idx, slot) in text.iter_mut().enumerate() {
        *slot = DIGITS[((value >> (60 - 4 * digit_idx)) & 0xf) as usize];
    }
    out.extend_from_slice(&text);
}

fn itoa(mut value: u64, out: &mut Vec<u8>) {
    let mut text = [0u8; 20];
    let mut start = text.len();
    loop {
        start -= 1;
        text[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&text[start..]);
}

fn digits(value: u64, width: usize, out: &mut Vec<u8>) {
    let mut text = [b'0'; 20];
    let mut remaining = value;
    for slot in text[..width].iter_mut().rev() {
        *slot = b'0' + (remaining % 10) as u8;
        remaining /= 10;
    }
    out.extend_from_slice(&text[..width]);
}

const MONTHS: [&[u8]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// Remembers the formatted second of the previous line: times only move forward, so
/// most lines reuse it and format just their fraction.
#[derive(Default)]
struct Clock {
    second: Option<i64>,
    /// `2025-02-09T09:30:00`
    rfc3339: Vec<u8>,
    /// `09/Feb/2025:09:30:00 +0000`
    clf: Vec<u8>,
}

impl Clock {
    fn set_second(&mut self, second: i64) {
        if self.second == Some(second) {
            return;
        }
        self.second = Some(second);
        let (year, month, day) = civil_from_days(second.div_euclid(86_400));
        let second_of_day = second.rem_euclid(86_400) as u64;
        let (hour, minute, sec) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
        self.rfc3339.clear();
        digits(year as u64, 4, &mut self.rfc3339);
        self.rfc3339.push(b'-');
        digits(u64::from(month), 2, &mut self.rfc3339);
        self.rfc3339.push(b'-');
        digits(u64::from(day), 2, &mut self.rfc3339);
        self.rfc3339.push(b'T');
        digits(hour, 2, &mut self.rfc3339);
        self.rfc3339.push(b':');
        digits(minute, 2, &mut self.rfc3339);
        self.rfc3339.push(b':');
        digits(sec, 2, &mut self.rfc3339);
        self.clf.clear();
        digits(u64::from(day), 2, &mut self.clf);
        self.clf.push(b'/');
        self.clf.extend_from_slice(MONTHS[(month - 1) as usize]);
        self.clf.push(b'/');
        digits(year as u64, 4, &mut self.clf);
        self.clf.push(b':');
        digits(hour, 2, &mut self.clf);
        self.clf.push(b':');
        digits(minute, 2, &mut self.clf);
        self.clf.push(b':');
        digits(sec, 2, &mut self.clf);
        self.clf.extend_from_slice(b" +0000");
    }

    /// The kubelet prefix: RFC 3339 with exactly nine fraction digits and `Z`.
    fn kubelet(&mut self, nanos: i64, out: &mut Vec<u8>) {
        self.set_second(nanos.div_euclid(NS));
        out.extend_from_slice(&self.rfc3339);
        out.push(b'.');
        digits(nanos.rem_euclid(NS) as u64, 9, out);
        out.push(b'Z');
    }

    fn millis(&mut self, nanos: i64, out: &mut Vec<u8>) {
        self.set_second(nanos.div_euclid(NS));
        out.extend_from_slice(&self.rfc3339);
        out.push(b'.');
        digits((nanos.rem_euclid(NS) / MS) as u64, 3, out);
        out.push(b'Z');
    }

    fn clf(&mut self, nanos: i64, out: &mut Vec<u8>) {
        self.set_second(nanos.div_euclid(NS));
        out.extend_from_slice(&self.clf);
    }
}

/// Howard Hinnant's days-to-civil.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

// ---------------------------------------------------------------------------------------
// Prometheus

const RATE_QUERY: &str = "sum by (pod) (rate(http_requests_total{namespace=\"shop\"}[1m]))";

fn write_query_range(dir: &Path, streams: &[Stream], seed: u64) -> io::Result<()> {
    let mut rng = Rng(seed ^ 0x9a0e);
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[");
    for (stream_idx, stream) in streams.iter().enumerate() {
        if stream_idx > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"metric\":{\"pod\":\"");
        out.extend_from_slice(stream.pod.as_bytes());
        out.extend_from_slice(b"\"},\"values\":[");
        let base = 5.0 + (rng.next() % 400) as f64 / 10.0;
        for step_idx in 0..=(SPAN / (15 * NS)) {
            if step_idx > 0 {
                out.push(b',');
            }
            out.push(b'[');
            itoa(((START + step_idx * 15 * NS) / NS) as u64, &mut out);
            let noise = (rng.next() % 2000) as f64 / 1000.0 - 1.0;
            let value = base * (1.0 + 0.05 * noise);
            out.extend_from_slice(format!(",\"{value}\"]").as_bytes());
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]}}");
    fs::write(dir.join("rate_by_pod.json"), &out)?;
    fs::write(
        dir.join("queries.json"),
        format!("{{\n  \"rate_by_pod.json\": \"{}\"\n}}\n", RATE_QUERY.replace('"', "\\\"")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(nanos: i64, expected_kubelet: &str, expected_clf: &str) {
        let mut clock = Clock::default();
        let mut out = Vec::new();
        clock.kubelet(nanos, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), expected_kubelet);
        let parsed: jiff::Timestamp = expected_kubelet.parse().expect("valid RFC 3339");
        assert_eq!(parsed.as_nanosecond(), i128::from(nanos));
        out.clear();
        clock.clf(nanos, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), expected_clf);
    }

    #[test]
    fn timestamps() {
        let rows = [
            (START, "2025-02-09T09:30:00.000000000Z", "09/Feb/2025:09:30:00 +0000"),
            (START + SPAN + 7, "2025-02-09T10:30:00.000000007Z", "09/Feb/2025:10:30:00 +0000"),
            (951_868_799 * NS + 999_999_999, "2000-02-29T23:59:59.999999999Z", "29/Feb/2000:23:59:59 +0000"),
        ];
        for (nanos, kubelet, clf) in rows {
            check(nanos, kubelet, clf);
        }
    }

    #[test]
    fn numbers() {
        let rows: [(u64, &str); 3] = [(0, "0"), (7, "7"), (18_446_744_073_709_551_615, "18446744073709551615")];
        for (value, expected) in rows {
            let mut out = Vec::new();
            itoa(value, &mut out);
            assert_eq!(String::from_utf8_lossy(&out), expected);
        }
        let mut out = Vec::new();
        hex16(0x00ab_cdef_0123_4567, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), "00abcdef01234567");
    }
}
