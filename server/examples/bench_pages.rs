//! The web pages' benchmark (scripts/bench-pages): seeds a database through `server::storage`
//! with a registry of 10,000 Model Sets and one big set of 10 models with 30 days of
//! per-minute and hourly rollups, starts the real `setpoint serve` on it, and times
//! sequential requests over one kept-alive loopback connection: the set page (server-rendered
//! HTML, whole body) at 7 days, 24 hours and 1 hour, the charts' server function, the registry
//! (first page, searches, orders, and its server function) and the models page.
//!
//! Usage: `bench_pages --server target/release/setpoint --database-url URL [--requests N]`.
//! A `sqlite://PATH` URL must name a file that does not exist yet; a `postgres://` URL is an
//! admin URL (scripts/with-postgres exports one): a database of its own is created there.
//!
//! The rollups are what the metrics writer would have stored: every minute row is a real
//! `metrics::rollup::Rollup` built from generated `RequestRecord`s (a few distinct minutes per
//! model, reused through the month), and every hourly row is the merge of its hour's minute
//! rows. They are written with multi-row inserts on the same tables (`upsert_rollups` writes
//! a row per statement, too slow for 440,000 rows); everything else goes through `Storage`.
//! The per-set hourly rows are not written here: the server makes them when it starts, as it
//! does for a database written before that table existed (`Storage::backfill_set_hours`), so
//! its start takes a few seconds longer on a seeded database.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use app::model_set::{Comparator, Dimension, EvalSettings, ModelSetSpec, Objective, Requirement, Statistic};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use server::metrics::rollup::Rollup;
use server::storage::{self, Grain, NewModelSet, RequestRecord, RollupRow, SetContent, SharedStorage};
use sqlx::{Connection, Executor};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// The big set's address.
const BIG_OWNER: &str = "bench";
const BIG_SLUG: &str = "production-router";
/// A word in a few hundred names and in every "chat" set's category, and one in three
/// descriptions only: the registry's common and rare searches.
const COMMON_WORD: &str = "chat";
const RARE_WORD: &str = "zephyr";
const RARE_SETS: usize = 3;
/// The rollups' writer name (one writer, as a single server has).
const WRITER: &str = "bench-seed";
/// Distinct minute rollups generated per model; the month reuses them.
const MINUTE_VARIANTS: usize = 24;
/// Rollup rows per insert statement (17 parameters each: under SQLite's 32,766).
const ROWS_PER_INSERT: usize = 500;

#[derive(Parser, Debug)]
#[command(about = "Times Setpoint's set page, registry and models page on a seeded database")]
struct Args {
    /// The `setpoint` binary to start.
    #[arg(long, default_value = "target/release/setpoint")]
    server: PathBuf,
    /// `sqlite://PATH` (a new file) or a PostgreSQL admin URL (a new database is made there).
    #[arg(long)]
    database_url: String,
    /// The browser bundle's directory; a stand-in is made when it has no pkg/setpoint.js.
    #[arg(long, default_value = "target/site")]
    site_root: PathBuf,
    /// Timed requests per case, spread over `rounds`.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Rounds: each times every case in turn, so a slow spell of the machine is shared.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Untimed requests per case first.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Model Sets in the registry (the big one included).
    #[arg(long, default_value_t = 10_000)]
    sets: usize,
    /// Days of rollups for the big set.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Sets besides the big one with hourly traffic in the last two days.
    #[arg(long, default_value_t = 300)]
    active_sets: usize,
    /// A name for this run in the output (e.g. the backend).
    #[arg(long, default_value = "")]
    label: String,
    /// Appends one JSON line per case here.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Leaves the PostgreSQL database in place afterwards (for EXPLAIN); a SQLite file always stays.
    #[arg(long)]
    keep_database: bool,
}

/// Three more models beside server/src/default.toml's seven, so the big set has ten; the
/// server is started with the default configuration plus these (figment replaces arrays).
const EXTRA_CATALOG: &str = r#"
[[catalog]]
id = "openai/gpt-4.1-mini"
provider = "openai"
upstream_name = "gpt-4.1-mini"
input_price_per_mtok = 0.40
output_price_per_mtok = 1.60
context_window = 1047576
capabilities = { tools = true, vision = true, json_output = true }
simulation = { ttft_ms = 500, tokens_per_s = 90, output_tokens = 200, error_rate = 0.005 }

[[catalog]]
id = "mistral/mistral-large"
provider = "mistral"
upstream_name = "mistral-large-latest"
input_price_per_mtok = 2.00
output_price_per_mtok = 6.00
context_window = 128000
capabilities = { tools = true, vision = false, json_output = true }
simulation = { ttft_ms = 700, tokens_per_s = 45, output_tokens = 220, error_rate = 0.01 }

[[catalog]]
id = "deepseek/deepseek-reasoner"
provider = "deepseek"
upstream_name = "deepseek-reasoner"
input_price_per_mtok = 0.55
output_price_per_mtok = 2.19
context_window = 64000
capabilities = { tools = false, vision = false, json_output = true }
simulation = { ttft_ms = 2500, tokens_per_s = 40, output_tokens = 400, error_rate = 0.01 }
"#;

/// The catalog the server runs with: (id, median TTFT ms, tokens/s, output tokens, $/Mtok in,
/// $/Mtok out), for generating plausible records.
const MODELS: [(&str, f64, f64, f64, f64, f64); 10] = [
    ("openai/gpt-4o-mini", 450.0, 85.0, 180.0, 0.15, 0.60),
    ("openai/gpt-4o", 600.0, 70.0, 220.0, 2.50, 10.00),
    ("anthropic/claude-3-5-haiku", 700.0, 65.0, 200.0, 0.80, 4.00),
    ("anthropic/claude-3-7-sonnet", 1100.0, 55.0, 260.0, 3.00, 15.00),
    ("groq/llama-3.1-8b-instant", 150.0, 600.0, 150.0, 0.05, 0.08),
    ("mistral/mistral-small", 400.0, 110.0, 170.0, 0.10, 0.30),
    ("deepseek/deepseek-chat", 900.0, 50.0, 200.0, 0.27, 1.10),
    ("openai/gpt-4.1-mini", 500.0, 90.0, 200.0, 0.40, 1.60),
    ("mistral/mistral-large", 700.0, 45.0, 220.0, 2.00, 6.00),
    ("deepseek/deepseek-reasoner", 2500.0, 40.0, 400.0, 0.55, 2.19),
];

const ADJECTIVES: [&str; 24] = [
    "Budget", "Fast", "Quality", "Snappy", "Reliable", "Cheap", "Balanced", "Smart", "Lean", "Robust", "Steady",
    "Swift", "Careful", "Precise", "Friendly", "Compact", "Bold", "Calm", "Bright", "Clever", "Frugal", "Sturdy",
    "Nimble", "Patient",
];
const NOUNS: [&str; 20] = [
    "Chat",
    "Assistant",
    "Autocomplete",
    "Summarizer",
    "Translator",
    "Coder",
    "Router",
    "Classifier",
    "Extractor",
    "Agent",
    "Support Bot",
    "Writer",
    "Reviewer",
    "Tutor",
    "Search",
    "Planner",
    "Analyst",
    "Helper",
    "Chatbot",
    "Drafter",
];
const DOMAINS: [&str; 14] = [
    "customer support",
    "legal review",
    "healthcare intake",
    "retail",
    "finance",
    "education",
    "gaming",
    "travel",
    "media",
    "logistics",
    "internal tools",
    "sales",
    "research",
    "onboarding",
];
const GOALS: [&str; 8] = [
    "the lowest cost that still answers within a few seconds",
    "answers that start in under half a second",
    "the most relevant answers under a cent a request",
    "a steady error rate below one percent",
    "long documents at a predictable price",
    "high throughput for batch jobs overnight",
    "tool calls that return valid JSON",
    "a balance of speed, price and quality",
];
const CATEGORIES: [&str; 10] = [
    "chat",
    "assistant",
    "coding",
    "summarization",
    "translation",
    "extraction",
    "classification",
    "agents",
    "search",
    "support",
];
const TAGS: [&str; 12] = [
    "budget",
    "fast",
    "quality",
    "low-latency",
    "eu",
    "open-weights",
    "long-context",
    "json",
    "tools",
    "vision",
    "batch",
    "experimental",
];
const FIRST_NAMES: [&str; 20] = [
    "ada", "bruno", "carla", "dmitri", "elena", "farid", "greta", "hiro", "ines", "jonas", "kemal", "lena", "mateo",
    "nadia", "oskar", "priya", "quinn", "rosa", "sven", "tomas",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let work = tempfile::tempdir()?;
    let (url, admin) = database(&args).await?;
    let outcome = run(&args, work.path(), &url).await;
    if let Some((admin, name)) = admin.filter(|_| !args.keep_database) {
        // Leave the throwaway server as we found it (it may hold other runs' databases).
        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
            let _ = conn.execute(format!("DROP DATABASE IF EXISTS {name}").as_str()).await;
        }
    }
    outcome
}

/// The URL to seed and serve, and for PostgreSQL the admin URL and the database made there.
async fn database(args: &Args) -> Result<(String, Option<(String, String)>), Box<dyn std::error::Error>> {
    let url = &args.database_url;
    if storage::is_postgres_url(url) {
        let name = format!("bench_pages_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(url).await?;
        conn.execute(format!("DROP DATABASE IF EXISTS {name}").as_str()).await?;
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
        let (base, _) = url.rsplit_once('/').ok_or("the PostgreSQL URL names no database")?;
        Ok((format!("{base}/{name}"), Some((url.clone(), name))))
    } else if storage::is_sqlite_url(url) {
        let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        if Path::new(path).exists() {
            return Err(format!("{path} exists: give the benchmark a new file").into());
        }
        Ok((url.clone(), None))
    } else {
        Err(format!("not a database URL: {url}").into())
    }
}

async fn run(args: &Args, work: &Path, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let label = if args.label.is_empty() {
        if storage::is_postgres_url(url) {
            "postgres".to_string()
        } else {
            "sqlite".to_string()
        }
    } else {
        args.label.clone()
    };
    let started = Instant::now();
    let storage = storage::connect(url).await?;
    let seeded = seed(args, &storage, url).await?;
    let seed_time = started.elapsed();
    eprintln!(
        "[{label}] seeded in {:.1} s: {} sets, {} minute and {} hourly rollup rows",
        seed_time.as_secs_f64(),
        seeded.sets,
        seeded.minute_rows,
        seeded.hourly_rows
    );
    drop(storage);

    let mut server = Server::start(args, work, url)?;
    eprintln!("[{label}] server {} at {}", args.server.display(), server.base);
    // The server merged the per-set hourly rows at its start (before it listens), after the
    // seed's vacuum: vacuumed again, as autovacuum would within a minute of those inserts.
    // Unvacuumed, PostgreSQL read the registry's traffic sums from the table's wide rows
    // rather than from the index alone (5.8 ms against 1.4).
    Bulk::connect(url).await?.finish().await?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()?;
    let cases = cases();
    for case in &cases {
        let (status, body) = case.send(&client, &server.base).await?;
        if status != 200 || !body.contains(case.expect) {
            let head: String = body.chars().take(600).collect();
            return Err(format!(
                "{}: status {status}, expected {:?} in the body: {head}",
                case.name, case.expect
            )
            .into());
        }
    }
    let mut timings: Vec<Timing> = cases.iter().map(|_| Timing::default()).collect();
    for (case, timing) in cases.iter().zip(&mut timings) {
        for _ in 0..args.warmup {
            case.send(&client, &server.base).await?;
        }
        timing.bytes = case.send(&client, &server.base).await?.1.len();
    }
    let per_round = args.requests.div_ceil(args.rounds.max(1));
    for _ in 0..args.rounds.max(1) {
        for (case, timing) in cases.iter().zip(&mut timings) {
            let cpu_before = server.cpu_ticks();
            for _ in 0..per_round {
                let t = Instant::now();
                let (status, _) = case.send(&client, &server.base).await?;
                let elapsed = t.elapsed();
                if status != 200 {
                    return Err(format!("{}: status {status}", case.name).into());
                }
                timing.samples.push(elapsed.as_secs_f64() * 1000.0);
            }
            timing.cpu_ticks += server.cpu_ticks().saturating_sub(cpu_before);
        }
    }
    server.stop();

    let tick_ms = 1000.0 / clock_ticks_per_second();
    println!(
        "[{label}] {} requests per case, sequential, one kept-alive connection; milliseconds to the whole body",
        per_round * args.rounds.max(1)
    );
    println!(
        "{:<30} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}  target",
        "case", "p50", "p95", "p99", "max", "cpu/req", "body KB"
    );
    let mut out = match &args.results {
        Some(path) => Some(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
        None => None,
    };
    for (case, timing) in cases.iter().zip(&timings) {
        let mut s = timing.samples.clone();
        s.sort_by(f64::total_cmp);
        let (p50, p95, p99, max) = (
            pct(&s, 0.50),
            pct(&s, 0.95),
            pct(&s, 0.99),
            s.last().copied().unwrap_or(0.0),
        );
        let cpu = timing.cpu_ticks as f64 * tick_ms / s.len().max(1) as f64;
        let verdict = match case.target_ms {
            Some(t) if p95 <= t => format!("p95 <= {t} ms: met"),
            Some(t) => format!("p95 <= {t} ms: MISSED"),
            None => String::new(),
        };
        println!(
            "{:<30} {p50:>8.2} {p95:>8.2} {p99:>8.2} {max:>8.2} {cpu:>9.2} {:>9.1}  {verdict}",
            case.name,
            timing.bytes as f64 / 1024.0
        );
        if let Some(f) = &mut out {
            let line = serde_json::json!({
                "label": label, "case": case.name, "n": s.len(), "p50": p50, "p95": p95, "p99": p99,
                "max": max, "cpu_ms": cpu, "bytes": timing.bytes, "target_ms": case.target_ms,
                "seed_s": seed_time.as_secs_f64(),
            });
            writeln!(f, "{line}")?;
        }
    }
    println!("[{label}] server CPU per request is the server process's only (PostgreSQL's own work is not in it)");
    Ok(())
}

/// Nearest-rank percentile of sorted samples.
fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn clock_ticks_per_second() -> f64 {
    // Linux's USER_HZ is 100 on every mainstream configuration.
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[derive(Default)]
struct Timing {
    samples: Vec<f64>,
    cpu_ticks: u64,
    bytes: usize,
}

struct Case {
    name: &'static str,
    path: String,
    /// A server function's url-encoded arguments (POST), or none (GET).
    form: Option<String>,
    /// A string the answer must contain.
    expect: &'static str,
    target_ms: Option<f64>,
}

impl Case {
    fn get(name: &'static str, path: &str, expect: &'static str, target_ms: Option<f64>) -> Case {
        Case {
            name,
            path: path.to_string(),
            form: None,
            expect,
            target_ms,
        }
    }

    fn post(name: &'static str, path: &str, form: &str, expect: &'static str, target_ms: Option<f64>) -> Case {
        Case {
            name,
            path: path.to_string(),
            form: Some(form.to_string()),
            expect,
            target_ms,
        }
    }

    async fn send(&self, client: &reqwest::Client, base: &str) -> Result<(u16, String), reqwest::Error> {
        let url = format!("{base}{}", self.path);
        let request = match &self.form {
            Some(form) => client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(form.clone()),
            None => client.get(url).header("accept", "text/html"),
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }
}

fn cases() -> Vec<Case> {
    let set = format!("/model-sets/@{BIG_OWNER}/{BIG_SLUG}");
    // Every model's line: the heaviest series the page asks for ("Each model").
    let series = |range: &str| format!("owner={BIG_OWNER}&slug={BIG_SLUG}&range={range}&lines=models");
    let registry = |q: &str| format!("params[q]={q}&params[sort]=most_used&params[page]=1");
    vec![
        Case::get(
            "set page 7d (SSR)",
            &format!("{set}?range=7d"),
            "data-testid=\"set-name\"",
            Some(50.0),
        ),
        Case::get("set page 24h (SSR)", &set, "data-testid=\"set-name\"", None),
        Case::get(
            "set page 1h (SSR)",
            &format!("{set}?range=1h"),
            "data-testid=\"set-name\"",
            None,
        ),
        Case::post(
            "POST /api/set_series 7d",
            "/api/set_series",
            &series("7d"),
            "buckets",
            None,
        ),
        Case::post(
            "POST /api/set_series 30d",
            "/api/set_series",
            &series("30d"),
            "buckets",
            None,
        ),
        Case::get("registry first page (SSR)", "/model-sets", "model-sets", Some(20.0)),
        Case::get(
            "registry q=common (SSR)",
            &format!("/model-sets?q={COMMON_WORD}"),
            "model-sets",
            Some(20.0),
        ),
        Case::get(
            "registry q=rare (SSR)",
            &format!("/model-sets?q={RARE_WORD}"),
            RARE_WORD,
            Some(20.0),
        ),
        Case::get(
            "registry sort=active (SSR)",
            "/model-sets?sort=active",
            "model-sets",
            Some(20.0),
        ),
        Case::get(
            "registry sort=new (SSR)",
            "/model-sets?sort=new",
            "model-sets",
            Some(20.0),
        ),
        Case::post(
            "POST /api/registry q=common",
            "/api/registry",
            &registry(COMMON_WORD),
            "cards",
            Some(20.0),
        ),
        Case::post(
            "POST /api/registry q=rare",
            "/api/registry",
            &registry(RARE_WORD),
            RARE_WORD,
            Some(20.0),
        ),
        Case::get("models page (SSR)", "/models", "gpt-4o-mini", None),
    ]
}

/// A running `setpoint serve`, stopped (SIGTERM) when dropped.
struct Server {
    base: String,
    child: Child,
}

impl Server {
    fn start(args: &Args, work: &Path, url: &str) -> Result<Server, Box<dyn std::error::Error>> {
        let config = work.join("bench-pages.toml");
        std::fs::write(
            &config,
            format!("{}\n{EXTRA_CATALOG}", include_str!("../src/default.toml")),
        )?;
        let site = if args.site_root.join("pkg/setpoint.js").is_file() {
            args.site_root.clone()
        } else {
            // The pages' HTML only links the bundle; the server checks that it exists.
            let site = work.join("site");
            std::fs::create_dir_all(site.join("pkg"))?;
            std::fs::write(site.join("pkg/setpoint.js"), "// bench stand-in\n")?;
            site
        };
        let mut child = Command::new(&args.server)
            .arg("serve")
            .env("SETPOINT_CONFIG", &config)
            .env("SETPOINT_ADDR", "127.0.0.1:0")
            .env("SETPOINT_DATABASE_URL", url)
            .env("SETPOINT_SITE_ROOT", &site)
            .env_remove("SETPOINT_LOG")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", args.server.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        // Reads the bound address from the log and keeps draining it so the server never blocks;
        // warnings and errors are shown.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr.split_whitespace().next().unwrap_or_default().to_string());
                    }
                } else if line.contains("WARN") || line.contains("ERROR") {
                    eprintln!("[server] {line}");
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            return Err("the server did not report its address within 60 s".into());
        };
        Ok(Server {
            base: format!("http://{addr}"),
            child,
        })
    }

    /// User plus system CPU time of the server so far, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces), from field 3 on.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        field(14) + field(15)
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

struct Seeded {
    sets: usize,
    minute_rows: usize,
    hourly_rows: usize,
}

async fn seed(args: &Args, storage: &SharedStorage, url: &str) -> Result<Seeded, Box<dyn std::error::Error>> {
    let mut rng = StdRng::seed_from_u64(20_240_601);
    let now = server::clock::now_ms();
    let t = Instant::now();

    // Accounts: the big set's owner and 400 others ("!" is no password hash: none can log in).
    let bench = storage.create_account(BIG_OWNER, "!", now).await?;
    let mut owners = Vec::new();
    for i in 0..400 {
        let name = format!("{}{}", FIRST_NAMES[i % FIRST_NAMES.len()], 10 + i);
        owners.push(storage.create_account(&name, "!", now).await?.id);
    }

    // The big set: ten models, requirements on most dimensions.
    let big = storage
        .create_model_set(
            &NewModelSet {
                owner_id: bench.id,
                slug: BIG_SLUG.into(),
                name: "Production Router".into(),
                content: SetContent {
                    description: "Every model we run in production, held to our latency, cost and error budgets."
                        .into(),
                    categories: vec!["chat".into(), "assistant".into()],
                    tags: vec!["quality".into(), "fast".into()],
                    spec: ModelSetSpec {
                        models: MODELS.iter().map(|m| m.0.to_string()).collect(),
                        requirements: vec![
                            Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, 4000.0),
                            Requirement::new(Dimension::Ttft, Statistic::P50, Comparator::AtMost, 800.0),
                            Requirement::new(Dimension::Cost, Statistic::Mean, Comparator::AtMost, 0.002),
                            Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.02),
                        ],
                        objective: Objective::Minimize(Dimension::Cost),
                        evals: EvalSettings::default(),
                    },
                },
                cloned_from: None,
            },
            now,
        )
        .await?;

    // The registry: varied names, descriptions, categories, tags and models, created over
    // the last year. Concurrently on PostgreSQL; SQLite writes one at a time anyway.
    let mut new_sets = Vec::new();
    let mut names = HashSet::new();
    let rare: HashSet<usize> = (0..RARE_SETS).map(|i| (i + 1) * args.sets / (RARE_SETS + 1)).collect();
    for i in 1..args.sets {
        let (name, slug) = loop {
            let name = format!(
                "{} {} {}",
                ADJECTIVES[rng.random_range(0..ADJECTIVES.len())],
                NOUNS[rng.random_range(0..NOUNS.len())],
                rng.random_range(1..1000)
            );
            let slug = name.to_lowercase().replace(' ', "-");
            if names.insert(slug.clone()) {
                break (name, slug);
            }
        };
        let domain = DOMAINS[rng.random_range(0..DOMAINS.len())];
        let goal = GOALS[rng.random_range(0..GOALS.len())];
        let mut description = format!("{name} for {domain}: {goal}.");
        if rare.contains(&i) {
            description.push_str(&format!(" Codename {RARE_WORD}."));
        }
        let mut categories = vec![CATEGORIES[rng.random_range(0..CATEGORIES.len())].to_string()];
        if rng.random_bool(0.3) {
            let c = CATEGORIES[rng.random_range(0..CATEGORIES.len())].to_string();
            if !categories.contains(&c) {
                categories.push(c);
            }
        }
        let mut tags = Vec::new();
        for _ in 0..rng.random_range(0..4) {
            let t = TAGS[rng.random_range(0..TAGS.len())].to_string();
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let mut models = Vec::new();
        for _ in 0..rng.random_range(2..5) {
            let m = MODELS[rng.random_range(0..7)].0.to_string();
            if !models.contains(&m) {
                models.push(m);
            }
        }
        let mut requirements = Vec::new();
        if rng.random_bool(0.6) {
            requirements.push(Requirement::new(
                Dimension::Latency,
                Statistic::P90,
                Comparator::AtMost,
                f64::from(rng.random_range(2..10) * 500),
            ));
        }
        if rng.random_bool(0.4) {
            requirements.push(Requirement::new(
                Dimension::Cost,
                Statistic::Mean,
                Comparator::AtMost,
                f64::from(rng.random_range(1..20)) / 1000.0,
            ));
        }
        if rng.random_bool(0.3) {
            requirements.push(Requirement::new(
                Dimension::ErrorRate,
                Statistic::Mean,
                Comparator::AtMost,
                0.02,
            ));
        }
        let objective = match rng.random_range(0..3) {
            0 => Objective::Minimize(Dimension::Cost),
            1 => Objective::Minimize(Dimension::Latency),
            _ => Objective::Minimize(Dimension::Ttft),
        };
        let created = now - rng.random_range(0..365 * 24 * HOUR_MS);
        new_sets.push((
            NewModelSet {
                owner_id: owners[rng.random_range(0..owners.len())],
                slug,
                name,
                content: SetContent {
                    description,
                    categories,
                    tags,
                    spec: ModelSetSpec {
                        models,
                        requirements,
                        objective,
                        evals: EvalSettings::default(),
                    },
                },
                cloned_from: None,
            },
            created,
        ));
    }
    let concurrency = if storage::is_postgres_url(url) { 8 } else { 1 };
    let ids: Vec<i64> = futures::stream::iter(new_sets)
        .map(|(set, created)| {
            let storage = storage.clone();
            async move { storage.create_model_set(&set, created).await.map(|s| s.id) }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    eprintln!("  {} sets created in {:.1} s", ids.len() + 1, t.elapsed().as_secs_f64());

    // The big set's rollups, per minute and per hour, ending with the current minute.
    let t = Instant::now();
    let bulk = Bulk::connect(url).await?;
    let last_minute = now - now.rem_euclid(MINUTE_MS);
    let first_minute = last_minute - (args.days * 24 * 60 - 1) * MINUTE_MS;
    let variants: Vec<Vec<Rollup>> = (0..MODELS.len())
        .map(|m| {
            (0..MINUTE_VARIANTS)
                .map(|v| minute_rollup(&mut rng, big.id, m, v))
                .collect()
        })
        .collect();
    let variant_rows: Vec<Vec<RollupRow>> = variants
        .iter()
        .map(|vs| vs.iter().map(Rollup::to_row).collect())
        .collect();
    // Which variant a (model, minute) uses: a fixed scramble, so neighbouring minutes differ.
    let pick = |model: usize, minute: i64| -> usize {
        let x = (minute / MINUTE_MS) as u64 ^ ((model as u64) << 40);
        let x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((x >> 33) % MINUTE_VARIANTS as u64) as usize
    };
    let mut minute_rows = 0;
    let mut batch = Vec::with_capacity(ROWS_PER_INSERT * 20);
    let mut minute = first_minute;
    while minute <= last_minute {
        for (m, rows) in variant_rows.iter().enumerate() {
            let mut row = rows[pick(m, minute)].clone();
            row.minute = minute;
            batch.push(row);
        }
        if batch.len() >= ROWS_PER_INSERT * 20 {
            minute_rows += batch.len();
            bulk.insert(Grain::Minute, &batch).await?;
            batch.clear();
        }
        minute += MINUTE_MS;
    }
    minute_rows += batch.len();
    bulk.insert(Grain::Minute, &batch).await?;
    batch.clear();
    eprintln!("  {minute_rows} minute rows in {:.1} s", t.elapsed().as_secs_f64());

    // Hourly rows: each the merge of its hour's minute rollups, as the writer keeps them.
    let t = Instant::now();
    let mut hourly = Vec::new();
    let first_hour = first_minute - first_minute.rem_euclid(HOUR_MS);
    let mut hour = first_hour;
    while hour <= last_minute {
        for (m, vs) in variants.iter().enumerate() {
            let mut merged: Option<Rollup> = None;
            let mut minute = hour.max(first_minute);
            while minute < hour + HOUR_MS && minute <= last_minute {
                let v = &vs[pick(m, minute)];
                match &mut merged {
                    Some(r) => r.merge(v),
                    None => merged = Some(v.clone()),
                }
                minute += MINUTE_MS;
            }
            if let Some(mut r) = merged {
                r.row.minute = hour;
                hourly.push(r.to_row());
            }
        }
        hour += HOUR_MS;
    }
    let mut hourly_rows = hourly.len();

    // Recent hourly traffic on some other sets, so the registry's orders have work: one to
    // three of each set's models, over the last two days, in a long-tailed volume.
    let sketch_rows: Vec<RollupRow> = hourly.iter().step_by(97).take(16).cloned().collect();
    let current_hour = last_minute - last_minute.rem_euclid(HOUR_MS);
    let mut others = Vec::new();
    for k in 0..args.active_sets.min(ids.len()) {
        let set_id = ids[(k * 7919) % ids.len()];
        let volume = 2_000.0 / (1.0 + k as f64).powf(0.8);
        let models = 1 + k % 3;
        for h in 0..48 {
            if rng.random_bool(0.3) {
                continue;
            }
            for m in 0..models {
                let mut row = sketch_rows[(k + h + m) % sketch_rows.len()].clone();
                row.set_id = set_id;
                row.model_id = MODELS[(k + m) % 7].0.to_string();
                row.minute = current_hour - h as i64 * HOUR_MS;
                row.count = (volume * rng.random_range(0.5..1.5)).ceil() as i64;
                row.errors = row.count / 100;
                others.push(row);
            }
        }
    }
    hourly_rows += others.len();
    hourly.extend(others);
    for chunk in hourly.chunks(ROWS_PER_INSERT * 20) {
        bulk.insert(Grain::Hour, chunk).await?;
    }
    bulk.finish().await?;
    eprintln!("  {hourly_rows} hourly rows in {:.1} s", t.elapsed().as_secs_f64());
    Ok(Seeded {
        sets: ids.len() + 1,
        minute_rows,
        hourly_rows,
    })
}

/// One minute of one model of the big set: a handful of requests (busier in some variants),
/// log-normal latencies around the model's profile, and about 1.5 % failures.
fn minute_rollup(rng: &mut StdRng, set_id: i64, model: usize, variant: usize) -> Rollup {
    let (id, ttft, tps, tokens, price_in, price_out) = MODELS[model];
    let mut rollup = Rollup::empty(set_id, id, 0, WRITER);
    let spread = LogNormal::new(0.0, 0.35).expect("valid log-normal");
    let requests = 2 + variant % 7;
    for i in 0..requests {
        let first = ttft * spread.sample(rng);
        let completion = (tokens * spread.sample(rng)).round().max(1.0);
        let speed = tps * spread.sample(rng);
        let prompt = rng.random_range(50..1500);
        let error_class = rng
            .random_bool(0.015)
            .then(|| ["timeout", "upstream_5xx", "upstream_429"][rng.random_range(0..3)].to_string());
        rollup.add(&RequestRecord {
            request_id: format!("bench-{model}-{variant}-{i}"),
            at: 0,
            account_id: 1,
            api_key_id: None,
            model_set_id: Some(set_id),
            model_id: id.to_string(),
            status: if error_class.is_some() { 502 } else { 200 },
            error_class,
            latency_ms: first + completion / speed * 1000.0,
            ttft_ms: Some(first),
            output_tokens_per_s: Some(speed),
            prompt_tokens: prompt,
            completion_tokens: completion as i64,
            cost_usd: (prompt as f64 * price_in + completion * price_out) / 1e6,
            eval_sampled: false,
            eval_cost_usd: 0.0,
        });
    }
    rollup
}

/// Multi-row inserts into the rollup tables, in transactions of a few statements.
enum Bulk {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

const ROLLUP_COLUMNS: &str = "set_id, model_id, minute, writer, count, errors, latency_ms_sum, ttft_ms_sum, \
     ttft_count, tokens_per_s_sum, tokens_per_s_count, prompt_tokens, completion_tokens, cost_usd, latency_sketch, \
     ttft_sketch, error_classes";

/// Binds a rollup row's 17 columns in `ROLLUP_COLUMNS` order.
macro_rules! bind_rollup {
    ($query:expr, $r:expr) => {
        $query
            .bind($r.set_id)
            .bind(&$r.model_id)
            .bind($r.minute)
            .bind(&$r.writer)
            .bind($r.count)
            .bind($r.errors)
            .bind($r.latency_ms_sum)
            .bind($r.ttft_ms_sum)
            .bind($r.ttft_count)
            .bind($r.tokens_per_s_sum)
            .bind($r.tokens_per_s_count)
            .bind($r.prompt_tokens)
            .bind($r.completion_tokens)
            .bind($r.cost_usd)
            .bind(&$r.latency_sketch)
            .bind(&$r.ttft_sketch)
            .bind(&$r.error_classes)
    };
}

impl Bulk {
    async fn connect(url: &str) -> Result<Bulk, sqlx::Error> {
        Ok(if storage::is_postgres_url(url) {
            Bulk::Postgres(sqlx::PgPool::connect(url).await?)
        } else {
            Bulk::Sqlite(sqlx::SqlitePool::connect(url).await?)
        })
    }

    fn sql(&self, grain: Grain, rows: usize) -> String {
        let table = match grain {
            Grain::Minute => "request_rollups",
            Grain::Hour => "request_rollups_hourly",
        };
        let values: Vec<String> = (0..rows)
            .map(|r| {
                let params: Vec<String> = (1..=17)
                    .map(|c| match self {
                        Bulk::Sqlite(_) => "?".to_string(),
                        Bulk::Postgres(_) => format!("${}", r * 17 + c),
                    })
                    .collect();
                format!("({})", params.join(", "))
            })
            .collect();
        format!("INSERT INTO {table} ({ROLLUP_COLUMNS}) VALUES {}", values.join(", "))
    }

    /// Inserts `rows` in statements of [`ROWS_PER_INSERT`], all in one transaction.
    async fn insert(&self, grain: Grain, rows: &[RollupRow]) -> Result<(), sqlx::Error> {
        match self {
            Bulk::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(ROWS_PER_INSERT) {
                    let sql = self.sql(grain, chunk.len());
                    let mut query = sqlx::query(&sql);
                    for r in chunk {
                        query = bind_rollup!(query, r);
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await
            }
            Bulk::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(ROWS_PER_INSERT) {
                    let sql = self.sql(grain, chunk.len());
                    let mut query = sqlx::query(&sql);
                    for r in chunk {
                        query = bind_rollup!(query, r);
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await
            }
        }
    }

    /// PostgreSQL: vacuum and analyze, as autovacuum would have by the time anyone reads a
    /// month of rows (and so that it does not start during the timing). SQLite is left as
    /// the server leaves it: Setpoint never runs ANALYZE there.
    async fn finish(&self) -> Result<(), sqlx::Error> {
        match self {
            Bulk::Sqlite(pool) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await?;
            }
            Bulk::Postgres(pool) => {
                sqlx::query("VACUUM ANALYZE").execute(pool).await?;
            }
        }
        Ok(())
    }
}
