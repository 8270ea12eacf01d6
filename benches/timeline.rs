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
