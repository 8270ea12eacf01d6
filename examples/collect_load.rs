//! Benchmark input for `bench/collect.sh`: the fake Kubernetes API server of the tests,
//! serving a Deployment `shop/checkout` of N pods with M log lines each over an incident an
//! hour long three days ago (errors for the middle twenty minutes), until it is killed.
//!
//! Usage: `collect_load DIR [PODS] [LINES_PER_POD]` (default 20 × 200,000). Writes
//! `DIR/kubeconfig` and `DIR/incident.env` (FIRED_AT, RESOLVED_AT), then serves.

#[path = "../tests/kube_fake/mod.rs"]
mod kube_fake;

use jiff::{SignedDuration, Timestamp};
use kube_fake::{Cluster, FakeKube, LogLine, container, deployment, pod};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: collect_load DIR [PODS] [LINES_PER_POD]"));
    let n_pods: usize = args.next().map_or(20, |text| text.parse().expect("PODS is a number"));
    let n_lines: usize = args.next().map_or(200_000, |text| text.parse().expect("LINES_PER_POD is a number"));
    let now = Timestamp::now();
    let day = now.as_second() / 86_400 * 86_400;
    let fired = Timestamp::from_second(day - 3 * 86_400 + 10 * 3600).expect("a time three days ago");
    let resolved = fired + SignedDuration::from_mins(60);
    // Lines from the lead-in before the first signal to past the tail.
    let (first, last) = (fired - SignedDuration::from_mins(25), resolved + SignedDuration::from_mins(15));
    let spacing_nanos = (last - first).as_nanos() / n_lines as i128;
    let (errors_from, errors_to) = (fired - SignedDuration::from_mins(2), fired + SignedDuration::from_mins(20));

    let mut cluster = Cluster::new();
    cluster.add(
        deployment("shop", "checkout")
            .selector(&[("app", "checkout")])
            .image("app", "registry.example/checkout:1.42.0")
            .replicas(n_pods as u32)
            .build(),
    );
    for pod_idx in 0..n_pods {
        let name = format!("checkout-7d9f8b6c5-{pod_idx:05}");
        cluster.add(
            pod("shop", &name)
                .labels(&[("app", "checkout")])
                .node(&format!("node-{}", pod_idx % 4 + 1))
                .created(first - SignedDuration::from_hours(1))
                .container(container("app").running(first - SignedDuration::from_hours(1)))
                .build(),
        );
        let lines = (0..n_lines).map(|line_idx| {
            let time = first + SignedDuration::from_nanos((spacing_nanos * line_idx as i128 + pod_idx as i128 * 997) as i64);
            let request = format!("{:016x}", (line_idx as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ pod_idx as u64);
            let text = if time >= errors_from && time < errors_to && line_idx % 3 == 0 {
                format!(r#"{{"level":"error","msg":"payment authorization failed: upstream returned 503","request_id":"{request}","attempt":{}}}"#, line_idx % 4)
            } else {
                format!(r#"{{"level":"info","msg":"order placed","request_id":"{request}","duration_ms":{},"items":{}}}"#, line_idx % 250, line_idx % 7 + 1)
            };
            LogLine::new(time, text)
        });
        cluster.log("shop", &name, "app", lines);
    }
    let fake = FakeKube::start(cluster).await;
    std::fs::create_dir_all(&dir).expect("create DIR");
    fake.kubeconfig(&dir);
    std::fs::write(dir.join("incident.env"), format!("FIRED_AT={fired}\nRESOLVED_AT={resolved}\n"))
        .expect("write incident.env");
    println!("serving {} on {}", n_pods * n_lines, fake.url());
    std::future::pending::<()>().await;
}
