//! The `postmortemd` command line: parses arguments and calls into the library.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use jiff::SignedDuration;
use jiff::tz::TimeZone;

use postmortemd::artifacts::files::ArtifactKind;
use postmortemd::artifacts::inspect::{ReportFormat, inspect_times};
use postmortemd::artifacts::logs::{TemplateInput, write_templates};
use postmortemd::config;
use postmortemd::draft::{self, DraftOptions};
use postmortemd::normalize::time::{self, Finder, TimeContext};
use postmortemd::page;
use postmortemd::postmortem;
use postmortemd::record::{Instant, NotConfiguredRecord};
use postmortemd::timeline::render::{self, Format};

#[derive(Parser)]
#[command(name = "postmortemd", version, about = "Draft incident timelines in one UTC clock")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: Alertmanager and PagerDuty webhooks in, incidents and timelines out.
    Serve(ServeArgs),
    /// Draft the timeline of an incident from files exported by hand.
    Draft(DraftArgs),
    /// Draft the post-mortem of an incident from files exported by hand: the draft's
    /// timeline with key moments, response times, impact, contributing-factor and
    /// action-item candidates, for the authors to finish (docs/postmortem.md).
    Report(DraftArgs),
    /// Check a written post-mortem (Markdown) against the practice: prints
    /// `FILE:LINE: RULE: MESSAGE`; exit 1 when a finding is an error.
    Lint {
        /// `text` (one finding a line) or `json` (`{"findings": [...]}`).
        #[arg(long, default_value = "text", value_parser = parse_lint_format)]
        format: LintFormat,
        /// The post-mortem, Markdown.
        file: PathBuf,
    },
    /// Print a post-mortem's action items as tracker input: `gh issue create` lines, JSON or CSV.
    Actions {
        /// `gh`, `json` or `csv`.
        #[arg(long, default_value = "gh")]
        format: postmortemd::postmortem::actions::ActionFormat,
        /// The post-mortem, Markdown.
        file: PathBuf,
    },
    /// Mine log templates and print `LineId,EventTemplate` CSV (the Loghub convention).
    Templates {
        /// What is mined of each line: `message`, what a draft mines (kubectl's prefixes
        /// and kubelet time stripped, the message field of JSON and logfmt lines, the text
        /// after a line's own leading time), or `raw`, the whole line.
        #[arg(long, default_value = "message", value_parser = parse_template_input)]
        input: TemplateInput,
        /// Log files, one record per line.
        files: Vec<PathBuf>,
    },
    /// Show, line by line, which embedded timestamp was read and how: a `#` header, then
    /// `LINE<TAB>TIME<TAB>LAYOUT<TAB>FLAGS<TAB>YEAR<TAB>MATCHED<TAB>KUBELET<TAB>WHY`.
    InspectTimes {
        /// Incident window `START/END` (RFC 3339); year-less times take their year from it.
        #[arg(long, value_parser = parse_window)]
        window: Option<(Instant, Instant)>,
        /// Zone for zone-less times: `UTC`, an offset like `+09:00`, or an IANA name.
        #[arg(long, default_value = "UTC", value_parser = parse_zone)]
        zone: TimeZone,
        /// `text` (a `#` header, the rows, a `#` summary) or `tsv` (the rows only).
        #[arg(long, default_value = "text", value_parser = parse_report_format)]
        format: ReportFormat,
        /// A log file, one line per record.
        file: PathBuf,
    },
    /// Work on a store directly (stop the daemons that use it first).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Print the effective settings (defaults < FILE < POSTMORTEMD_* env) as TOML, secrets
    /// masked; exit 2 naming the key of an invalid setting.
    Config {
        /// A TOML settings file (see config/postmortemd.example.toml).
        #[arg(long = "config", value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy every webhook, incident, collection job, evidence chunk, reconciliation position
    /// and responder's input of one store into another, empty one, keeping their ids (moving
    /// from SQLite to PostgreSQL: docs/install.md). One transaction on the target.
    Copy {
        /// The store to copy, e.g. sqlite:///var/lib/postmortemd/postmortemd.db.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The empty store to copy into, e.g. postgres://user@host/postmortemd?sslmode=verify-full.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// The settings file (TOML); environment POSTMORTEMD_<SECTION>__<KEY> overrides it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (server.listen).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Store URL (store.url), e.g. sqlite://./data/postmortemd.db.
    #[arg(long)]
    store: Option<String>,
    /// Log lines as plain text or JSON (filter from POSTMORTEMD_LOG, else RUST_LOG).
    #[arg(long, default_value = "plain", value_parser = parse_log_format)]
    log_format: postmortemd::telemetry::LogFormat,
}

#[derive(Args, Clone)]
struct DraftArgs {
    /// Files or folders of exported artifacts (kubectl logs, query_range JSON, alerts,
    /// PagerDuty, kubectl get -o json); each file's kind is recognised from its content.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, default_value = "md", value_parser = parse_format)]
    format: Format,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The incident window, `START/END` in RFC 3339 (default: from the alerts and pages).
    #[arg(long, value_parser = parse_window)]
    window: Option<(Instant, Instant)>,
    /// The title (default: from the first alert or page).
    #[arg(long)]
    title: Option<String>,
    /// Lead-in before the first signal: the baseline.
    #[arg(long, default_value = "20m", value_parser = parse_duration)]
    lead_in: SignedDuration,
    /// Tail after the last resolution.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    tail: SignedDuration,
    /// Zone of zone-less timestamps: UTC, an offset like +09:00, or an IANA name like
    /// Asia/Tokyo; `PATTERN=ZONE` sets it for the files or streams whose name contains PATTERN
    /// (repeatable). Default UTC.
    #[arg(long = "zone", value_name = "[PATTERN=]ZONE", value_parser = parse_source_zone)]
    zones: Vec<(Option<String>, TimeZone)>,
    /// Read files as this kind instead of recognising it; `PATTERN=KIND` only the files whose
    /// name contains PATTERN (repeatable). Kinds: kubectl-logs, plain-log, prom-query-range,
    /// alertmanager-webhook, alertmanager-alerts, pagerduty-log-entries, pagerduty-events,
    /// k8s-events, replicasets, deployments, pods, queries, gaps, prom-rules, prom-targets.
    #[arg(long = "kind", value_name = "[PATTERN=]KIND", value_parser = parse_source_kind)]
    kinds: Vec<(Option<String>, ArtifactKind)>,
    /// At most this many rows; what is cut is said in a note row.
    #[arg(long, default_value_t = 200)]
    max_entries: usize,
    /// Keep recorded times even where a clock offset is established.
    #[arg(long)]
    no_skew_correction: bool,
    /// Offsets below this many seconds are reported but not flagged.
    #[arg(long, default_value_t = 2.0)]
    skew_threshold: f64,
    /// Field names of request/trace ids (repeatable; replaces the defaults).
    #[arg(long = "request-id-field", value_name = "NAME")]
    request_id_fields: Vec<String>,
    /// Exit 1 naming every file that cannot be read or is not recognised, instead of
    /// skipping it with a note row.
    #[arg(long)]
    strict: bool,
}

fn parse_format(text: &str) -> Result<Format, render::UnknownFormat> {
    text.parse()
}

fn parse_window(text: &str) -> Result<(Instant, Instant), String> {
    time::parse_window(text).ok_or_else(|| format!("{text:?} is not START/END in RFC 3339"))
}

fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    text.parse::<SignedDuration>().map_err(|error| format!("{text:?}: {error}"))
}

fn parse_zone(text: &str) -> Result<TimeZone, String> {
    time::parse_zone(text)
        .ok_or_else(|| format!("{text:?} is neither UTC, an offset like +09:00 nor a known IANA zone"))
}

fn parse_source_zone(text: &str) -> Result<(Option<String>, TimeZone), String> {
    match text.rsplit_once('=') {
        Some((pattern, zone)) => Ok((Some(pattern.to_owned()), parse_zone(zone)?)),
        None => Ok((None, parse_zone(text)?)),
    }
}

fn parse_source_kind(text: &str) -> Result<(Option<String>, ArtifactKind), String> {
    let (pattern, kind) = match text.rsplit_once('=') {
        Some((pattern, kind)) => (Some(pattern.to_owned()), kind),
        None => (None, text),
    };
    Ok((pattern, kind.parse::<ArtifactKind>().map_err(|error| error.to_string())?))
}

fn parse_template_input(text: &str) -> Result<TemplateInput, String> {
    text.parse()
}

fn parse_report_format(text: &str) -> Result<ReportFormat, String> {
    match text {
        "text" => Ok(ReportFormat::Text),
        "tsv" => Ok(ReportFormat::Tsv),
        _ => Err(format!("{text:?}: expected text or tsv")),
    }
}

#[derive(Clone, Copy)]
enum LintFormat {
    Text,
    Json,
}

fn parse_lint_format(text: &str) -> Result<LintFormat, String> {
    match text {
        "text" => Ok(LintFormat::Text),
        "json" => Ok(LintFormat::Json),
        _ => Err(format!("{text:?}: expected text or json")),
    }
}

fn parse_log_format(text: &str) -> Result<postmortemd::telemetry::LogFormat, String> {
    text.parse().map_err(|_| format!("{text:?}: expected plain or json"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Draft(args) => {
            let timeline = draft_timeline(&args)?;
            write_output(args.output.as_deref(), &page::render(&timeline, args.format, &page::Served::default()))
        }
        Command::Report(args) => {
            let timeline = draft_timeline(&args)?;
            let post_mortem = postmortem::draft(&timeline);
            write_output(args.output.as_deref(), &postmortem::render::render(&timeline, &post_mortem, args.format))
        }
        Command::Lint { format, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let findings = postmortem::lint::lint(&text);
            let mut out = String::new();
            match format {
                LintFormat::Text => {
                    for finding in &findings {
                        out.push_str(&format!(
                            "{}:{}: {}: {}\n",
                            file.display(),
                            finding.line,
                            finding.rule,
                            finding.message
                        ));
                    }
                }
                LintFormat::Json => {
                    out = render::json::to_json(&serde_json::json!({ "findings": findings }));
                }
            }
            std::io::stdout().lock().write_all(out.as_bytes())?;
            if postmortem::lint::has_errors(&findings) {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Actions { format, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let stem = file.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
            let id = postmortem::actions::post_mortem_id(&text, &stem);
            let items = postmortem::actions::items(&text);
            std::io::stdout().lock().write_all(postmortem::actions::render(&id, &items, format).as_bytes())?;
            Ok(())
        }
        Command::Serve(args) => run_serve(args),
        Command::Templates { input, files } => {
            let mut readers = Vec::with_capacity(files.len());
            for file in &files {
                readers.push(File::open(file).with_context(|| format!("cannot open {}", file.display()))?);
            }
            let stdout = std::io::stdout().lock();
            write_templates(readers, input, BufWriter::new(stdout)).context("cannot mine the templates csv")?;
            Ok(())
        }
        Command::InspectTimes { window, zone, format, file } => {
            let input = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            // Without a window, the file's modification year is the last resort for
            // year-less times (flagged assumed_year); the wall clock never is.
            let files = [file.clone()];
            let fallback_until =
                postmortemd::artifacts::newest_modified(&postmortemd::artifacts::Files(&files), [file.as_path()]);
            let context = TimeContext { zone, window, fallback_until, ..TimeContext::default() };
            let stdout = std::io::stdout().lock();
            let mut output = std::io::BufWriter::with_capacity(1 << 16, stdout);
            let written = inspect_times(&input, &mut Finder::new(context), format, &mut output)
                .and_then(|()| std::io::Write::flush(&mut output));
            match written {
                // A reader that stopped early (`| head`) is not a failure of ours.
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                written => written.context("writing the report to stdout"),
            }
        }
        Command::Store { command: StoreCommand::Copy { from, to } } => copy_store(&from, &to),
        Command::Config { file } => match config::load(file.as_deref(), None, &config::Overrides::default()) {
            Ok(settings) => {
                std::io::stdout().lock().write_all(config::render(&settings).as_bytes())?;
                Ok(())
            }
            Err(error) => {
                eprintln!("postmortemd: {error}");
                std::process::exit(2)
            }
        },
    }
}

/// `store copy`: every row of `from` into the empty store `to`; prints what it copied.
fn copy_store(from: &str, to: &str) -> anyhow::Result<()> {
    use postmortemd::store::{Store, redacted_url};
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let source =
            Store::open(from).await.with_context(|| format!("cannot open the store {}", redacted_url(from)))?;
        let target = Store::open(to).await.with_context(|| format!("cannot open the store {}", redacted_url(to)))?;
        let copied = source
            .copy_to(&target)
            .await
            .with_context(|| format!("cannot copy {} to {}", redacted_url(from), redacted_url(to)))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "copied {} to {}:", redacted_url(from), redacted_url(to))?;
        for (table, rows) in copied.tables {
            writeln!(out, "  {table}: {rows} rows")?;
        }
        Ok(())
    })
}

fn write_output(output: Option<&std::path::Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

/// The timeline `draft` and `report` both start from.
fn draft_timeline(args: &DraftArgs) -> anyhow::Result<postmortemd::timeline::Timeline> {
    let args = args.clone();
    let mut options = DraftOptions {
        paths: args.paths,
        kinds: args.kinds,
        window: args.window,
        title: args.title,
        lead_in: args.lead_in,
        tail: args.tail,
        strict: args.strict,
        ..DraftOptions::default()
    };
    for (pattern, zone) in args.zones {
        match pattern {
            Some(pattern) => options.zones.push((pattern, zone)),
            None => options.zone = zone,
        }
    }
    if !args.request_id_fields.is_empty() {
        options.request_id_fields = args.request_id_fields;
    }
    options.timeline.max_entries = args.max_entries;
    options.timeline.skew_correction = !args.no_skew_correction;
    options.timeline.skew_threshold_seconds = args.skew_threshold;
    Ok(draft::draft(&options)?)
}

fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    postmortemd::telemetry::init_tracing(args.log_format);
    let overrides = config::Overrides { listen: args.listen, store: args.store };
    let settings = config::load(args.config.as_deref(), None, &overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store = postmortemd::store::Store::open(&settings.store.url).await.with_context(|| {
            format!("cannot open the store {}", postmortemd::store::redacted_url(&settings.store.url))
        })?;
        let mut collectors: Vec<std::sync::Arc<dyn postmortemd::collect::Collector>> = Vec::new();
        // What the daemon runs without is named in every timeline's coverage.
        let mut not_configured = Vec::new();
        let missing = |source: &str, hint: String| NotConfiguredRecord { source: source.to_owned(), hint };
        // Kubernetes first: its pods name the nodes whose clocks Prometheus is asked for.
        // Secrets are redacted by the collectors and the webhook routes, before the store is
        // handed anything.
        let redactor = std::sync::Arc::new(
            postmortemd::normalize::redact::Redactor::new(
                settings.redact.iter().map(|rule| (rule.name.as_str(), rule.pattern.as_str())),
            )
            .context("redact")?,
        );
        match postmortemd::collect::kubernetes::KubeCollector::new(&settings.kubernetes).await {
            Ok(kubernetes) => {
                collectors.push(std::sync::Arc::new(kubernetes.with_redactor(redactor.clone())));
            }
            // A kubeconfig set on purpose that cannot be used is a mistake to fix, not a mode.
            Err(error) if settings.kubernetes.kubeconfig.is_some() => {
                return Err(anyhow::Error::new(error).context("kubernetes.kubeconfig"));
            }
            Err(error) => {
                let error = anyhow::Error::new(error);
                tracing::warn!(
                    error = %error,
                    "No Kubernetes collection: set kubernetes.kubeconfig, or run in a cluster with a service account."
                );
                not_configured.push(missing(
                    "kubernetes",
                    format!("set kubernetes.kubeconfig, or run in a cluster with a service account ({error})"),
                ));
            }
        }
        if settings.prometheus.url.is_empty() {
            not_configured.push(missing("prometheus", "set prometheus.url".to_owned()));
        } else {
            let prometheus = postmortemd::collect::prometheus::PrometheusCollector::new(&settings.prometheus)
                .context("prometheus.url")?;
            collectors.push(std::sync::Arc::new(prometheus));
        }
        let state = postmortemd::api::AppState::new(settings, store).not_collecting(not_configured).redacting(redactor);
        // Reconciliation: one task beside the server, stopped once the server has shut down.
        let (stop_reconciling, stop) = tokio::sync::watch::channel(false);
        let reconciler =
            postmortemd::reconcile::Reconciler::new(&state.settings, state.store.clone(), state.metrics.clone())
                .context("reconcile")?
                .map(|reconciler| tokio::spawn(reconciler.run(stop)));
        let served = postmortemd::api::serve(state, collectors).await;
        let _ = stop_reconciling.send(true);
        if let Some(reconciler) = reconciler {
            let _ = reconciler.await;
        }
        served?;
        anyhow::Ok(())
    })
}
