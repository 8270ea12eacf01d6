//! Benchmarks of the pure timeline stages on generated input at realistic scale.
//!
//! `cargo bench --bench timeline` reports lines/s (divan's item throughput) for the
//! template miner over service logs as `kubectl logs` shows them: plain text, JSON and
//! logfmt lines of a few dozen event kinds with random ids, durations, IPs and paths.

use divan::Bencher;
use divan::counter::ItemsCount;
use postmortemd::timeline::templates::Miner;

fn main() {
    divan::main();
}

const N_LINES: usize = 200_000;

/// xorshift64*: deterministic, dependency-free randomness for generated lines.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Service log lines: each line one of 30 events, a third each plain, JSON and logfmt.
fn service_lines(n_lines: usize) -> Vec<String> {
    const VERBS: [&str; 10] = [
        "request completed",
        "cache miss for key",
        "connection reset by peer",
        "retrying upstream call",
        "user logged in",
        "payment authorized",
        "order created",
        "failed to reach database",
        "health check ok",
        "slow query detected",
    ];
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    (0..n_lines)
        .map(|_| {
            let verb = VERBS[random.below(VERBS.len() as u64) as usize];
            let id = random.next();
            let millis = random.below(5_000);
            let ip = format!(
                "10.{}.{}.{}",
                random.below(256),
                random.below(256),
                random.below(256)
            );
            let path = format!("/api/v1/orders/{}", random.below(100_000));
            match random.below(3) {
                0 => format!(
                    "2025-02-09T10:05:23.{millis:03}Z INFO {verb} id={id:x} from {ip} path={path} took {millis}ms"
                ),
                1 => format!(
                    r#"{{"ts":"2025-02-09T10:05:23.{millis:03}Z","level":"info","msg":"{verb}","request_id":"{id:x}","remote":"{ip}","path":"{path}","duration_ms":{millis}}}"#
                ),
                _ => format!(
                    r#"time=2025-02-09T10:05:23.{millis:03}Z level=warn msg="{verb}" request_id={id:x} remote={ip} path={path} duration={millis}ms"#
                ),
            }
        })
        .collect()
}

#[divan::bench]
fn mine_service_lines(bencher: Bencher) {
    let lines = service_lines(N_LINES);
    bencher.counter(ItemsCount::new(lines.len())).bench_local(|| {
        let mut miner = Miner::new();
        for line in &lines {
            divan::black_box(miner.add(divan::black_box(line)));
        }
        miner.len()
    });
}

/// Alert records as a long incident's stored notifications give them: every notification
/// repeats its group's alerts, each with its `generatorURL`, beside the range query of one
/// expression. The timeline must cost about linearly in them (issue 14: 200 k in ≤ 2 s).
fn alert_records(n_alerts: usize) -> Vec<postmortemd::record::Record> {
    use postmortemd::record::{AlertRecord, AlertStatus, Record, SeriesKind, SeriesRecord};
    let start: jiff::Timestamp = "2025-02-09T10:00:00Z".parse().unwrap();
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let mut records: Vec<Record> = (0..n_alerts)
        .map(|index| {
            let pod = format!("api-{}", random.below(500));
            let starts_at = start + jiff::SignedDuration::from_secs(random.below(3_600) as i64);
            let resolved = index % 3 == 0;
            Record::Alert(AlertRecord {
                name: format!("Alert{}", index % 40),
                status: if resolved { AlertStatus::Resolved } else { AlertStatus::Firing },
                labels: [("alertname".to_owned(), format!("Alert{}", index % 40)), ("pod".to_owned(), pod)].into(),
                annotations: [("summary".to_owned(), "something is wrong".to_owned())].into(),
                starts_at,
                ends_at: resolved.then(|| starts_at + jiff::SignedDuration::from_mins(5)),
                fingerprint: Some(format!("{:016x}", random.next() % 5_000)),
                generator_url: Some(format!(
                    "http://prom:9090/graph?g0.expr=up%7Bjob%3D%22j{}%22%7D+%3D%3D+0",
                    index % 40
                )),
            })
        })
        .collect();
    for job in 0..40 {
        let samples = (0..240).map(|step| (start + jiff::SignedDuration::from_secs(step * 15), 1.0)).collect();
        records.push(Record::Series(SeriesRecord {
            query: format!("up{{job=\"j{job}\"}} == 0"),
            name: None,
            kind: SeriesKind::Plain,
            labels: Default::default(),
            samples,
        }));
    }
    records
}

#[divan::bench(args = [20_000, 200_000], sample_count = 3)]
fn build_from_alert_records(bencher: Bencher, n_alerts: usize) {
    use postmortemd::timeline::{self, Evidence, Options, Window};
    let records = alert_records(n_alerts);
    let window = Window {
        start: "2025-02-09T09:40:00Z".parse().unwrap(),
        end: "2025-02-09T11:20:00Z".parse().unwrap(),
        baseline_end: "2025-02-09T09:55:00Z".parse().unwrap(),
    };
    bencher.counter(ItemsCount::new(n_alerts)).bench_local(|| {
        let evidence = Evidence {
            title: "bench".to_owned(),
            window,
            records: records.clone(),
            digests: Vec::new(),
            coverage: Vec::new(),
            written_by: None,
        };
        timeline::build(evidence, &Options::default()).entries.len()
    });
}
