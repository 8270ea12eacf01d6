//! Speed of the `normalize` stage on generated log lines: the timestamp finder per line
//! format (ns per line; the product target is well under 300 ns) and the kubelet prefix
//! against jiff's general parser. Lines are generated here in each format's shape, with
//! times and messages that change from line to line; no real log text is used.
//!
//! Redaction (`normalize::redact`) is measured per byte over the same lines, mixed, with no
//! secret, a secret in one line of 100, or in every line: its cost per MB of logs.
//!
//! Run: `cargo bench --bench normalize`.

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use postmortemd::normalize::redact::{Counts, Redactor, StreamState};
use postmortemd::normalize::time::{Finder, TimeContext, kubelet_time};
use postmortemd::record::Instant;

fn main() {
    divan::main();
}

const LINES: usize = 10_000;

const SHAPES: &[&str] = &[
    "rfc3339",
    "iso8601_java",
    "klog",
    "syslog",
    "logcat",
    "hdfs",
    "clf_midline",
    "ctime",
    "file_prefix_then_iso",
    "json_epoch",
    "json_docker",
    "logfmt_epoch",
    "no_timestamp",
    "mixed",
];

/// One generated line of `shape`; `index` moves the clock and the message.
fn line(shape: &str, index: usize) -> String {
    let second = index % 60;
    let minute = index / 60 % 60;
    let micros = index * 7919 % 1_000_000;
    let millis = micros / 1000;
    let request = index * 2_654_435_761 % 1_000_000_007;
    let epoch = 1_739_095_200 + index as u64;
    match shape {
        "rfc3339" => format!(
            "2025-02-09T10:{minute:02}:{second:02}.{micros:06}Z INFO handler: request {request} served in {millis} ms"
        ),
        "iso8601_java" => format!(
            "2025-02-09 10:{minute:02}:{second:02},{millis:03} INFO [pool-2-thread-{}] com.example.OrderService: order {request} accepted",
            index % 8
        ),
        "klog" => format!(
            "I0209 10:{minute:02}:{second:02}.{micros:06}       1 controller.go:{}] \"Synced\" object=\"prod/api-{request}\"",
            index % 400
        ),
        "syslog" => format!(
            "Feb  9 10:{minute:02}:{second:02} node-{} sshd[{}]: Accepted publickey for deploy from 10.0.{}.{} port 5{:04}",
            index % 5,
            1000 + index % 9000,
            index % 255,
            index % 200,
            index % 10_000
        ),
        "logcat" => format!(
            "02-09 10:{minute:02}:{second:02}.{millis:03}  {}  {} D ActivityManager: start proc {request}",
            1000 + index % 999,
            2000 + index % 999
        ),
        "hdfs" => format!(
            "250209 10{minute:02}{second:02} {} INFO dfs.DataNode$Responder: block blk_{request} of size 67108864 terminating",
            index % 300
        ),
        "clf_midline" => format!(
            "10.0.{}.{} - - [09/Feb/2025:19:{minute:02}:{second:02} +0900] \"GET /api/v1/orders/{request} HTTP/1.1\" 200 {}",
            index % 255,
            index % 200,
            index % 5000
        ),
        "ctime" => format!(
            "[Sun Feb 09 10:{minute:02}:{second:02} 2025] [error] [client 10.0.0.{}] File does not exist: /var/www/{request}",
            index % 255
        ),
        "file_prefix_then_iso" => format!(
            "api.log.1.2025-02-09_08:00:00 2025-02-09 10:{minute:02}:{second:02}.{millis:03} 2931 INFO api.server [req-{request}] \"GET /v2/servers\" status: 200"
        ),
        "json_epoch" => format!(
            "{{\"level\":\"info\",\"ts\":{epoch}.{micros:06},\"caller\":\"server/handler.go:88\",\"msg\":\"request served\",\"id\":{request}}}"
        ),
        "json_docker" => format!(
            "{{\"log\":\"GET /healthz {request} 200\\n\",\"stream\":\"stdout\",\"time\":\"2025-02-09T10:{minute:02}:{second:02}.{micros:06}123Z\"}}"
        ),
        "logfmt_epoch" => format!(
            "ts={epoch}.{millis:03} level=info caller=main.go:{} msg=\"flushed batch\" batch={request}",
            index % 300
        ),
        "no_timestamp" => format!(
            "    at com.example.OrderService.process(OrderService.java:{}) request {request} took {millis} ms on worker 10.0.3.17",
            index % 900
        ),
        "mixed" => line(SHAPES[index % (SHAPES.len() - 2)], index),
        other => unreachable!("unknown shape {other}"),
    }
}

fn context() -> TimeContext {
    let start: Instant = "2025-02-09T09:00:00Z".parse().expect("valid window start");
    let end: Instant = "2025-02-09T11:00:00Z".parse().expect("valid window end");
    TimeContext { window: Some((start, end)), ..TimeContext::default() }
}

#[divan::bench(args = SHAPES)]
fn find(bencher: Bencher, shape: &str) {
    let lines: Vec<String> = (0..LINES).map(|index| line(shape, index)).collect();
    let expect_found = shape != "no_timestamp";
    let mut finder = Finder::new(context());
    let n_found = lines.iter().filter(|line| finder.find(line).is_some()).count();
    assert_eq!(n_found == LINES, expect_found, "shape {shape}: {n_found} found");
    bencher.counter(ItemsCount::new(LINES)).bench_local(|| {
        let mut finder = Finder::new(context());
        lines
            .iter()
            .filter_map(|line| finder.find(divan::black_box(line)))
            .map(|found| found.instant.as_second())
            .fold(0i64, i64::wrapping_add)
    });
}

fn kubelet_lines() -> Vec<String> {
    (0..LINES)
        .map(|index| {
            format!(
                "2025-02-09T10:{:02}:{:02}.{:09}Z I0209 10:05:23.123456 1 x.go:1] message {index}",
                index / 60 % 60,
                index % 60,
                index * 104_729 % 1_000_000_000
            )
        })
        .collect()
}

#[divan::bench]
fn kubelet_prefix_hand_parsed(bencher: Bencher) {
    let lines = kubelet_lines();
    bencher.counter(ItemsCount::new(LINES)).bench_local(|| {
        lines
            .iter()
            .filter_map(|line| kubelet_time(divan::black_box(line).as_bytes()))
            .filter_map(|time| Some(time.instant.as_second() + time.text_start? as i64))
            .fold(0i64, i64::wrapping_add)
    });
}

/// The baseline the hand parser has to beat: split at the space, then jiff's parser.
#[divan::bench]
fn kubelet_prefix_jiff(bencher: Bencher) {
    let lines = kubelet_lines();
    bencher.counter(ItemsCount::new(LINES)).bench_local(|| {
        lines
            .iter()
            .filter_map(|line| {
                let line = divan::black_box(line);
                let end = line.find(' ')?;
                let instant: Instant = line[..end].parse().ok()?;
                Some(instant.as_second() + end as i64 + 1)
            })
            .fold(0i64, i64::wrapping_add)
    });
}

/// How often a generated line carries a secret.
const SECRET_RATES: &[&str] = &["none", "1_in_100", "every_line"];

/// 10 k lines of every shape in turn, with secrets planted at `rate`.
fn lines_with_secrets(rate: &str) -> Vec<String> {
    const SECRETS: &[&str] = &[
        " password=hunter2-{}",
        " Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl{}",
        " \"api_key\": \"k-{}-live\"",
        " id AKIAIOSFODNN7EXAMPLE ({})",
    ];
    (0..LINES)
        .map(|index| {
            let mut text = line(SHAPES[index % SHAPES.len()], index);
            let planted = match rate {
                "every_line" => true,
                "1_in_100" => index % 100 == 0,
                _ => false,
            };
            if planted {
                text.push_str(&SECRETS[index % SECRETS.len()].replace("{}", &index.to_string()));
            }
            text
        })
        .collect()
}

#[divan::bench(args = SECRET_RATES)]
fn redact(bencher: Bencher, rate: &str) {
    let lines = lines_with_secrets(rate);
    let bytes: usize = lines.iter().map(|line| line.len() + 1).sum();
    let redactor = Redactor::builtin();
    bencher.counter(BytesCount::new(bytes)).bench_local(|| {
        let mut state = StreamState::default();
        let mut counts = Counts::new();
        let mut n_changed = 0usize;
        for line in &lines {
            n_changed +=
                usize::from(matches!(redactor.text(&mut state, line, &mut counts), std::borrow::Cow::Owned(_)));
        }
        divan::black_box(n_changed)
    });
}
