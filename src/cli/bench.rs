//! `greenfetch bench`: the fetch machinery swept over pool sizes, against the embedded fixture
//! server or a `--target` with the same endpoints.
//!
//! Each level is what `greenfetch fetch -c N` does with N-sized pools: a fresh
//! [`Fetcher`](greenfetch::fetch::Fetcher) built by the same `fetch_config` from the same
//! network options, and a [`GreenPool`] of the level's size. Its N green threads take request
//! numbers in order and tally their results themselves (no hand-over per request). A fresh
//! fetcher means fresh connections, so levels do not share warm connections and connection
//! set-up counts in each.
//!
//! Two ways to drive load:
//!
//! - **closed loop** (the default): a pool slot sends its next request when its last one ends;
//!   latency is measured from the moment the slot starts on it.
//! - **open loop** (`--rate R`): request `i` is due at `t0 + i/R`. The slot that takes it sleeps
//!   (a green sleep) until then if it is early, and its latency runs from the due time, not from
//!   when a slot took it. Slots take requests in order as they free up, so a request that could
//!   not start on time because the pool (or the server) was behind is charged for the wait:
//!   the correction for coordinated omission that wrk2 and oha make.
//!
//! Per level: requests/s, MB/s, latency percentiles from an HDR histogram (successful
//! requests only), errors by [`ErrorKind`], peak RSS so far, and, for `/delay` workloads, the
//! efficiency against the ideal `ceil(N/c) x delay`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenfetch::error::ErrorKind;
use greenfetch::fetch::Fetcher;
use greenfetch::server::FixtureServer;
use greenfetch::wait::lock;
use greenfetch::{GreenPool, hub};
use hdrhistogram::Histogram;
use serde::Serialize;

use super::args::BenchArgs;
use super::config::{configure_hub, cookie_engine, fetch_config, save_jar};
use super::plot;
use super::{
    EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, INTERRUPTED, install_interrupt_handler, progress,
    usage_error,
};
use greenfetch::fetch::cookies::Cookies;

/// The delay of the default workload.
const DEFAULT_DELAY_MS: u64 = 10;
/// Default requests per level: this many per pool slot...
const DEFAULT_ROUNDS: u64 = 20;
/// ...and at least this many.
const DEFAULT_MIN_REQUESTS: u64 = 500;
/// The longest latency the histogram holds (longer ones are counted at this value).
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// The fixture server's longest `/delay`.
const MAX_DELAY_MS: u64 = 600_000;
/// Shards of a level's tally (each a histogram of about 190 KB).
const TALLY_SHARDS: usize = 8;

/// What every request of a level asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Workload {
    /// `/delay/{ms}/{i}`.
    Delay(u64),
    /// `/bytes/{n}`.
    Bytes(u64),
    /// `/feed/{rss|atom|json}/{i}`, parsed for its title.
    Feeds,
    /// A path, `{i}` replaced by the request's number.
    Path(String),
}

impl Workload {
    fn from_args(a: &BenchArgs) -> Result<Workload, String> {
        if let Some(d) = a.delay {
            let ms = d.0.map_or(0.0, |d| d.as_secs_f64() * 1000.0).round() as u64;
            if ms > MAX_DELAY_MS {
                return Err(format!(
                    "--delay: at most {MAX_DELAY_MS}ms (the fixture's limit)"
                ));
            }
            return Ok(Workload::Delay(ms));
        }
        if let Some(s) = a.size {
            return Ok(Workload::Bytes(s.0));
        }
        if a.feeds {
            return Ok(Workload::Feeds);
        }
        if let Some(p) = &a.path {
            let p = if p.starts_with('/') {
                p.clone()
            } else {
                format!("/{p}")
            };
            return Ok(Workload::Path(p));
        }
        Ok(Workload::Delay(DEFAULT_DELAY_MS))
    }

    /// The path of request `i`.
    fn path(&self, i: u64) -> String {
        match self {
            Workload::Delay(ms) => format!("/delay/{ms}/{i}"),
            Workload::Bytes(n) => format!("/bytes/{n}"),
            Workload::Feeds => format!("/feed/{}/{i}", ["rss", "atom", "json"][(i % 3) as usize]),
            Workload::Path(p) => p.replace("{i}", &i.to_string()),
        }
    }

    /// The path with the request number left as `{i}`, for reports.
    fn pattern(&self) -> String {
        match self {
            Workload::Delay(ms) => format!("/delay/{ms}/{{i}}"),
            Workload::Bytes(n) => format!("/bytes/{n}"),
            Workload::Feeds => "/feed/{rss|atom|json}/{i}".to_owned(),
            Workload::Path(p) => p.clone(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Workload::Delay(_) => "delay",
            Workload::Bytes(_) => "bytes",
            Workload::Feeds => "feeds",
            Workload::Path(_) => "path",
        }
    }

    /// The server-side wait of every request, when there is one to compare against.
    fn delay(&self) -> Option<Duration> {
        match self {
            Workload::Delay(ms) if *ms > 0 => Some(Duration::from_millis(*ms)),
            _ => None,
        }
    }
}

/// One request's result, as a pool task hands it back.
#[derive(Debug)]
struct Sample {
    /// From the task's start (closed loop) or the request's due time (open loop).
    latency: Duration,
    bytes: u64,
    attempts: u32,
    error: Option<ErrorKind>,
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    p99_9: f64,
    max: f64,
    mean: f64,
}

/// One level's tally.
#[derive(Debug)]
struct Level {
    concurrency: usize,
    requests: u64,
    ok: u64,
    errors: BTreeMap<&'static str, u64>,
    attempts: u64,
    /// Body bytes of the successful requests.
    bytes: u64,
    connections_opened: u64,
    elapsed: Duration,
    /// Latencies of the successful requests, in microseconds.
    latency_us: Histogram<u64>,
    /// `ceil(N/c) x delay`, or more in open loop when the schedule is the limit.
    ideal: Option<Duration>,
    peak_rss_kib: Option<u64>,
}

impl Level {
    fn new(concurrency: usize, requests: u64) -> Result<Level, String> {
        Ok(Level {
            concurrency,
            requests,
            ok: 0,
            errors: BTreeMap::new(),
            attempts: 0,
            bytes: 0,
            connections_opened: 0,
            elapsed: Duration::ZERO,
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .map_err(|e| format!("latency histogram: {e:?}"))?,
            ideal: None,
            peak_rss_kib: None,
        })
    }

    fn record(&mut self, s: &Sample) {
        self.attempts += u64::from(s.attempts);
        match s.error {
            None => {
                self.ok += 1;
                self.bytes += s.bytes;
                let us = u64::try_from(s.latency.as_micros()).unwrap_or(u64::MAX);
                self.latency_us.saturating_record(us.max(1));
            }
            Some(kind) => *self.errors.entry(kind.as_str()).or_default() += 1,
        }
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds another tally of the same level (a shard) to this one.
    fn merge(&mut self, other: &Level) -> Result<(), String> {
        self.ok += other.ok;
        self.attempts += other.attempts;
        self.bytes += other.bytes;
        for (k, v) in &other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.latency_us
            .add(&other.latency_us)
            .map_err(|e| format!("latency histogram: {e:?}"))
    }

    fn secs(&self) -> f64 {
        self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Successful requests a second (failures are not throughput: they have their own column).
    fn requests_per_s(&self) -> f64 {
        self.ok as f64 / self.secs()
    }

    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.secs()
    }

    /// Percentiles of the successful requests (`None` if there were none). Each is the top of
    /// its histogram bucket (3 significant digits), so p50 <= p90 <= ... <= max always holds.
    fn percentiles(&self) -> Option<Percentiles> {
        let h = &self.latency_us;
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean().round() / 1000.0,
        })
    }

    /// Ideal time for the successful requests over actual time, as a percentage; `None`
    /// without a delay to compare against, or when nothing succeeded.
    fn efficiency_pct(&self) -> Option<f64> {
        self.ideal
            .filter(|_| self.ok > 0)
            .map(|ideal| ideal.as_secs_f64() / self.secs() * 100.0)
    }

    /// Every request of the level failed.
    fn all_failed(&self) -> bool {
        self.ok == 0 && self.error_count() > 0
    }
}

/// The ideal time for the `ok` successful requests of `delay` each through a pool of `c`,
/// and, in open loop, no sooner than the last of the `n` requests is due plus its delay.
fn ideal_time(ok: u64, n: u64, c: usize, delay: Duration, rate: Option<f64>) -> Duration {
    let rounds = ok.div_ceil(c.max(1) as u64);
    let pool_bound = delay.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX));
    match rate {
        Some(r) if n > 0 && ok > 0 => {
            pool_bound.max(Duration::from_secs_f64((n - 1) as f64 / r) + delay)
        }
        _ => pool_bound,
    }
}

/// The run's settings, as the JSON document records them.
#[derive(Debug, Serialize)]
struct Settings {
    greenfetch_version: &'static str,
    /// `closed` or `open`.
    mode: &'static str,
    rate_per_s: Option<f64>,
    target: String,
    embedded_server: bool,
    workload: WorkloadJson,
    /// As given with `--requests`; `null`: the default per level (in each level's `requests`).
    requests_per_level: Option<u64>,
    /// With `-z`: how long each level ran, in seconds (then `requests_per_level` is `null`).
    duration_per_level_s: Option<f64>,
    concurrency: Vec<usize>,
    workers: usize,
    retries: u32,
    latency: &'static str,
}

#[derive(Debug, Serialize)]
struct WorkloadJson {
    kind: &'static str,
    path: String,
    delay_ms: Option<u64>,
    size_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
struct LevelJson {
    concurrency: usize,
    requests: u64,
    ok: u64,
    errors: u64,
    errors_by_kind: BTreeMap<&'static str, u64>,
    attempts: u64,
    bytes: u64,
    connections_opened: u64,
    elapsed_s: f64,
    /// Successful requests a second.
    requests_per_s: f64,
    mb_per_s: f64,
    latency_ms: Option<Percentiles>,
    ideal_s: Option<f64>,
    efficiency_pct: Option<f64>,
    peak_rss_kib: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    settings: &'a Settings,
    interrupted: bool,
    levels: Vec<LevelJson>,
}

fn level_json(l: &Level) -> LevelJson {
    LevelJson {
        concurrency: l.concurrency,
        requests: l.requests,
        ok: l.ok,
        errors: l.error_count(),
        errors_by_kind: l.errors.clone(),
        attempts: l.attempts,
        bytes: l.bytes,
        connections_opened: l.connections_opened,
        elapsed_s: l.elapsed.as_secs_f64(),
        requests_per_s: l.requests_per_s(),
        mb_per_s: l.mb_per_s(),
        latency_ms: l.percentiles(),
        ideal_s: l.ideal.map(|d| d.as_secs_f64()),
        efficiency_pct: l.efficiency_pct(),
        peak_rss_kib: l.peak_rss_kib,
    }
}

/// Where `--json` goes.
enum JsonOut {
    Stdout,
    File(PathBuf, File),
}

/// `greenfetch bench`.
pub(crate) fn bench(a: BenchArgs) -> u8 {
    configure_hub(a.runtime.workers);
    let workload = match Workload::from_args(&a) {
        Ok(w) => w,
        Err(e) => return usage_error(e),
    };
    let baseline = match a.baseline.as_deref().map(Baseline::read).transpose() {
        Ok(b) => b,
        Err(e) => return usage_error(e),
    };
    let rate = a.rate.map(|r| r.0);
    // The network options are checked once, before anything starts.
    if let Err(e) = level_config(&a, 1) {
        return usage_error(e);
    }
    // One cookie engine for the whole sweep: every level starts from what -b gave and what
    // the levels before it were sent.
    let cookies = match cookie_engine(&a.cookies) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let target = a
        .target
        .as_deref()
        .map(|t| t.trim_end_matches('/').to_owned());
    if let Some(t) = &target {
        let sample = format!("{t}{}", workload.path(0));
        if let Err(e) = greenfetch::fetch::parse_line(sample.as_bytes()) {
            return usage_error(format!("--target {t}: {e}"));
        }
    }
    // Open the outputs before the sweep, so a bad path fails at once, not after it.
    let json_out = match &a.json {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(JsonOut::Stdout),
        Some(p) => match File::create(p) {
            Ok(f) => Some(JsonOut::File(p.clone(), f)),
            Err(e) => return usage_error(format!("--json {}: {e}", p.display())),
        },
    };
    let plot_out = match &a.plot {
        None => None,
        Some(p) => match File::create(p) {
            Ok(f) => Some((p.clone(), f)),
            Err(e) => return usage_error(format!("--plot {}: {e}", p.display())),
        },
    };

    let max_c = a.concurrency.iter().copied().max().unwrap_or(1);
    let embedded = a.target.is_none();
    let limit = super::raise_open_file_limit();
    let need = max_c as u64 * if embedded { 2 } else { 1 } + 64;
    if let Some(limit) = limit {
        if limit < need {
            eprintln!(
                "greenfetch: the open-file limit is {limit} and a level of {max_c} needs about \
                 {need}; expect connect errors (raise it with `ulimit -n`)"
            );
        }
    }

    // The server: embedded (same process, same workers) or the --target.
    let (server, base) = match target {
        Some(t) => (None, t),
        None => match FixtureServer::start("127.0.0.1:0") {
            Ok(s) => {
                let base = format!("http://{}", s.addr());
                (Some(s), base)
            }
            Err(e) => return usage_error(format!("starting the fixture server: {e}")),
        },
    };

    let settings = Settings {
        greenfetch_version: env!("CARGO_PKG_VERSION"),
        mode: if rate.is_some() { "open" } else { "closed" },
        rate_per_s: rate,
        target: base.clone(),
        embedded_server: embedded,
        workload: WorkloadJson {
            kind: workload.kind(),
            path: workload.pattern(),
            delay_ms: match workload {
                Workload::Delay(ms) => Some(ms),
                _ => None,
            },
            size_bytes: match workload {
                Workload::Bytes(n) => Some(n),
                _ => None,
            },
        },
        requests_per_level: a.requests,
        duration_per_level_s: a.duration.map(|d| d.as_secs_f64()),
        concurrency: a.concurrency.clone(),
        workers: hub::settings().workers,
        retries: a.net.retries.unwrap_or(0),
        latency: if rate.is_some() {
            "successful requests, from each request's due time (open loop: corrected for coordinated omission)"
        } else {
            "successful requests, from the start of each request's task (closed loop)"
        },
    };

    if let Some(b) = &baseline {
        if let Some(warning) = b.differs(&settings) {
            eprintln!("greenfetch: warning: --baseline {}: {warning}", b.name);
        }
    }

    install_interrupt_handler();
    let base: Arc<str> = base.into();
    let workload = Arc::new(workload);
    // The table is data: stdout, unless the JSON took stdout. Its rows are written as the
    // levels finish.
    let table_on_stderr = matches!(a.json.as_deref(), Some(p) if p.as_os_str() == "-");
    let mut table = Table::new(table_on_stderr);
    table.write(&format!(
        "{}\n{}",
        heading(&settings, &workload),
        header_lines(baseline.is_some())
    ));
    let mut levels = Vec::new();
    let mut interrupted = false;
    for &c in &a.concurrency {
        let n = a
            .requests
            .unwrap_or_else(|| (DEFAULT_ROUNDS.saturating_mul(c as u64)).max(DEFAULT_MIN_REQUESTS));
        let run = LevelRun {
            concurrency: c,
            requests: n,
            duration: a.duration,
            rate,
            base: base.clone(),
            workload: workload.clone(),
            cookies: cookies.clone(),
        };
        match run.run(&a) {
            Ok(Some(level)) => {
                let mut rows = align_row(&row(&level));
                if let Some(b) = baseline.as_ref().and_then(|b| b.level(c)) {
                    rows.push_str(&align_row(&delta_row(&level, b)));
                }
                table.write(&rows);
                levels.push(level);
            }
            Ok(None) => {
                interrupted = true;
                break;
            }
            Err(e) => {
                eprintln!("greenfetch: {e}");
                return EXIT_SOME_FAILED;
            }
        }
    }
    drop(server);
    let saved = save_jar(&a.cookies, cookies.as_deref());

    table.write(&footer(&levels, baseline.as_ref()));
    let mut status = table.status.map_err(|e| ("the table".to_owned(), e));
    if let Some(out) = json_out {
        let report = Report {
            settings: &settings,
            interrupted,
            levels: levels.iter().map(level_json).collect(),
        };
        status = status.and(match out {
            JsonOut::Stdout => {
                let mut o = io::stdout().lock();
                serde_json::to_writer_pretty(&mut o, &report)
                    .map_err(io::Error::from)
                    .and_then(|()| writeln!(o))
                    .and_then(|()| o.flush())
                    .map_err(|e| ("stdout".to_owned(), e))
            }
            JsonOut::File(p, f) => write_json(&p, f, &report),
        });
    }
    if let Some((p, mut f)) = plot_out {
        let points: Vec<plot::Point> = levels
            .iter()
            .map(|l| plot::Point {
                concurrency: l.concurrency,
                rps: l.requests_per_s(),
                p50_ms: l.percentiles().map(|p| p.p50),
                p99_ms: l.percentiles().map(|p| p.p99),
                ideal_rps: l
                    .ideal
                    .filter(|_| rate.is_none())
                    .and_then(|_| workload.delay())
                    .map(|d| l.concurrency as f64 / d.as_secs_f64()),
            })
            .collect();
        let doc = plot::svg(
            &format!("greenfetch bench: {}", workload.pattern()),
            &subtitle(&settings),
            &points,
        );
        status = status.and(
            f.write_all(doc.as_bytes())
                .and_then(|()| f.flush())
                .map_err(|e| (p.display().to_string(), e)),
        );
    }
    if let Err((what, e)) = status {
        if !super::output::is_broken_pipe(&e) {
            eprintln!("greenfetch: writing {what}: {e}");
            return EXIT_SOME_FAILED;
        }
    }
    if interrupted {
        EXIT_INTERRUPTED
    } else if !saved || levels.iter().any(|l| l.error_count() > 0) {
        EXIT_SOME_FAILED
    } else {
        EXIT_OK
    }
}

/// Where the table goes (stdout, or stderr when the JSON takes stdout), written piece by
/// piece; the first failure is kept and later writes are skipped.
struct Table {
    on_stderr: bool,
    status: io::Result<()>,
}

impl Table {
    fn new(on_stderr: bool) -> Table {
        Table {
            on_stderr,
            status: Ok(()),
        }
    }

    fn write(&mut self, text: &str) {
        if self.status.is_err() || text.is_empty() {
            return;
        }
        self.status = if self.on_stderr {
            io::stderr().write_all(text.as_bytes())
        } else {
            let mut o = io::stdout().lock();
            o.write_all(text.as_bytes()).and_then(|()| o.flush())
        };
    }
}

fn write_json(path: &Path, f: File, report: &Report<'_>) -> Result<(), (String, io::Error)> {
    let mut w = io::BufWriter::new(f);
    serde_json::to_writer_pretty(&mut w, report)
        .map_err(io::Error::from)
        .and_then(|()| writeln!(w))
        .and_then(|()| w.flush())
        .map_err(|e| (path.display().to_string(), e))
}

/// The fetch settings of a level of `c`: fetch's, from the same options, but with no retries
/// unless `--retries` asks for them (a benchmark counts failures rather than hiding them).
fn level_config(a: &BenchArgs, c: usize) -> Result<greenfetch::fetch::FetchConfig, String> {
    let mut cfg = fetch_config(&a.net, a.proxies(), Some((&a.request, &[])), c, None)?;
    cfg.retries = a.net.retries.unwrap_or(0);
    Ok(cfg)
}

impl BenchArgs {
    /// The proxy settings: a `--target` is reached as `fetch` would reach it (the
    /// environment's proxies, `-x`, `--noproxy`); the embedded server, in this very process,
    /// always directly.
    fn proxies(&self) -> Option<&super::args::ProxyArgs> {
        self.target.as_ref().map(|_| &self.proxy)
    }
}

/// One level, ready to run.
struct LevelRun {
    concurrency: usize,
    requests: u64,
    /// `-z`: run for this long instead of `requests` requests.
    duration: Option<Duration>,
    rate: Option<f64>,
    base: Arc<str>,
    workload: Arc<Workload>,
    cookies: Option<Arc<Cookies>>,
}

/// How often the live view of a level is brought up to date.
const LIVE_EVERY: Duration = Duration::from_millis(100);

impl LevelRun {
    /// Runs the level; `Ok(None)` if Ctrl-C stopped it.
    fn run(self, a: &BenchArgs) -> Result<Option<Level>, String> {
        let LevelRun {
            concurrency: c,
            requests: n,
            duration,
            rate,
            base,
            workload,
            cookies,
        } = self;
        let mut level = Level::new(c, n)?;
        let mut cfg = level_config(a, c)?;
        cfg.cookies = cookies;
        let fetcher = Arc::new(Fetcher::new(cfg));
        let pool = GreenPool::new(c);
        let bar_len = duration.map_or(n, |d| d.as_millis() as u64);
        let pb = progress::level_bar(a.quiet, bar_len, &format!("c={c}"), duration.is_some());
        let feeds = *workload == Workload::Feeds;
        let delay = workload.delay();
        // The level's tally, in shards that the green threads seldom contend for (each records
        // into the shard of its slot), merged when the level ends.
        let shards: Arc<Vec<Mutex<Level>>> = Arc::new(
            (0..TALLY_SHARDS.min(c.max(1)))
                .map(|_| Level::new(c, n).map(Mutex::new))
                .collect::<Result<_, _>>()?,
        );
        let next = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicU64::new(0));
        // A URL that is the same for every request is made once.
        let fixed_url: Option<Arc<str>> = match &*workload {
            Workload::Bytes(_) => Some(format!("{base}{}", workload.path(0)).into()),
            _ => None,
        };
        let t0 = Instant::now();
        // `-n`: requests 0..n; `-z`: as many as start before the time is up.
        let end = duration.map(|d| t0 + d);
        let n = if end.is_some() { u64::MAX } else { n };
        // One green thread per slot, each sending its next request when its last one ends
        // (closed loop) or when it is due (open loop), taking request numbers in order: what
        // `imap` over the pool did, without a green thread and a hand-over per request.
        for slot in 0..c.min(usize::try_from(n).unwrap_or(usize::MAX)) {
            let (fetcher, workload, base) = (fetcher.clone(), workload.clone(), base.clone());
            let (shards, next, done) = (shards.clone(), next.clone(), done.clone());
            let fixed_url = fixed_url.clone();
            pool.spawn_n(move || {
                let shard = &shards[slot % shards.len()];
                while !INTERRUPTED.load(Ordering::Relaxed) {
                    if end.is_some_and(|e| Instant::now() >= e) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let one = || {
                        let start = match rate {
                            Some(r) => {
                                let due = t0 + Duration::from_secs_f64(i as f64 / r);
                                let now = Instant::now();
                                if due > now {
                                    greenfetch::sleep(due - now);
                                }
                                due
                            }
                            None => Instant::now(),
                        };
                        let f = match &fixed_url {
                            Some(u) => fetcher.fetch(u),
                            None => fetcher.fetch(&format!("{base}{}", workload.path(i))),
                        };
                        let mut error = f.error.as_ref().map(|e| e.kind);
                        if feeds && error.is_none() {
                            if let Err(e) =
                                greenfetch::feed::title_only(&f.body, f.content_type.as_deref())
                            {
                                error = Some(e.kind);
                            }
                        }
                        Sample {
                            latency: start.elapsed(),
                            bytes: f.bytes,
                            attempts: f.attempts,
                            error,
                        }
                    };
                    // A request that panicked (a bug) still counts, as an internal error.
                    let sample = catch_unwind(AssertUnwindSafe(one)).unwrap_or(Sample {
                        latency: Duration::ZERO,
                        bytes: 0,
                        attempts: 1,
                        error: Some(ErrorKind::Internal),
                    });
                    lock(shard).record(&sample);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        loop {
            if INTERRUPTED.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let idle = pool.waitall_timeout(LIVE_EVERY);
            let so_far = done.load(Ordering::Relaxed);
            pb.0.set_position(match duration {
                Some(_) => t0.elapsed().as_millis() as u64,
                None => so_far,
            });
            // The live view: the shards' tallies so far, merged; only when it is shown (the
            // merge takes each shard's lock from the green threads recording into it).
            if !pb.0.is_hidden() {
                let mut live = Level::new(c, so_far)?;
                for shard in shards.iter() {
                    live.merge(&lock(shard))?;
                }
                pb.0.set_message(live_view(&live, t0.elapsed()));
            }
            if idle.unwrap_or(true) {
                break;
            }
        }
        level.elapsed = t0.elapsed();
        level.requests = done.load(Ordering::Relaxed);
        drop(pb);
        for shard in shards.iter() {
            level.merge(&lock(shard))?;
        }
        level.connections_opened = fetcher.client().connections_opened();
        level.ideal = delay.map(|d| ideal_time(level.ok, level.requests, c, d, rate));
        drop(pool);
        drop(fetcher);
        level.peak_rss_kib = peak_rss_kib();
        Ok(Some(level))
    }
}

/// The running level as the live view shows it: successful requests a second, p50 and p99 so
/// far, and errors.
fn live_view(l: &Level, elapsed: Duration) -> String {
    let rate = progress::rate(l.ok as f64 / elapsed.as_secs_f64().max(1e-3));
    let lat = match l.percentiles() {
        Some(p) => format!("p50 {} ms  p99 {} ms", fmt_ms(p.p50), fmt_ms(p.p99)),
        None => "p50 -  p99 -".to_owned(),
    };
    format!(
        "{rate} ok  {lat}  {}",
        progress::count(l.error_count(), "error", "errors")
    )
}

/// The process's peak resident set so far (`VmHWM`), in KiB; `None` where /proc has no such
/// line. It is a high-water mark: a level's figure includes every earlier level (and, with
/// the embedded server, the server).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_kib(&status)
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn mode_text(s: &Settings) -> String {
    match s.rate_per_s {
        Some(r) => format!("open loop at {r}/s (latency from each request's due time)"),
        None => "closed loop".to_owned(),
    }
}

fn server_text(s: &Settings) -> String {
    if s.embedded_server {
        format!(
            "embedded fixture server {} (same process)",
            s.target.trim_start_matches("http://")
        )
    } else {
        format!("target {}", s.target)
    }
}

/// The line above the table.
fn heading(s: &Settings, w: &Workload) -> String {
    format!(
        "greenfetch bench: {}, {}, {}, {} workers",
        w.pattern(),
        mode_text(s),
        server_text(s),
        s.workers
    )
}

/// The line under the chart's title.
fn subtitle(s: &Settings) -> String {
    format!(
        "{}; {}; {} workers",
        mode_text(s),
        server_text(s),
        s.workers
    )
}

/// Milliseconds with two decimals under 10, one under 1000, none above.
fn fmt_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 1000.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// Rates with three significant digits at least, no fraction above 100.
fn fmt_rate(r: f64) -> String {
    if r < 10.0 {
        format!("{r:.2}")
    } else if r < 100.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.0}")
    }
}

/// The table's columns: header and width (the first column's width is all its own; every
/// other cell gets one space before it). The whole row fits 100 columns.
const COLUMNS: [(&str, usize); 12] = [
    ("c", 5),
    ("requests", 8),
    ("errors", 6),
    ("ok/s", 7),
    ("MB/s", 7),
    ("p50", 7),
    ("p90", 7),
    ("p99", 7),
    ("p99.9", 7),
    ("max", 7),
    ("effic.", 7),
    ("RSS MiB", 7),
];

/// The two header lines: what the latency columns are, then the column names.
fn header_lines(baseline: bool) -> String {
    let names: Vec<String> = COLUMNS.iter().map(|(h, _)| (*h).to_owned()).collect();
    let lead = COLUMNS[..5].iter().map(|(_, w)| w + 1).sum::<usize>() - 1;
    let note = if baseline {
        "  (Δ: change against the baseline)"
    } else {
        ""
    };
    format!(
        "{:lead$} latency of successful requests, ms{note}\n{}",
        "",
        align_row(&names)
    )
}

fn row(l: &Level) -> Vec<String> {
    let p = l.percentiles();
    let ms = |f: fn(&Percentiles) -> f64| p.as_ref().map_or("-".to_owned(), |p| fmt_ms(f(p)));
    vec![
        l.concurrency.to_string(),
        l.requests.to_string(),
        l.error_count().to_string(),
        if l.ok == 0 {
            "0".to_owned()
        } else {
            fmt_rate(l.requests_per_s())
        },
        format!("{:.2}", l.mb_per_s()),
        ms(|p| p.p50),
        ms(|p| p.p90),
        ms(|p| p.p99),
        ms(|p| p.p99_9),
        ms(|p| p.max),
        l.efficiency_pct()
            .map_or("-".to_owned(), |e| format!("{e:.1}%")),
        l.peak_rss_kib
            .map_or("-".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
    ]
}

/// One row, right-aligned in the columns (a cell wider than its column pushes the rest right
/// rather than touching its neighbour).
fn align_row(cells: &[String]) -> String {
    let mut s = String::new();
    for (i, (cell, (_, w))) in cells.iter().zip(COLUMNS.iter()).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let len = cell.chars().count();
        s.push_str(&" ".repeat(w.saturating_sub(len)));
        s.push_str(cell);
    }
    s.push('\n');
    s
}

/// What the table says after its rows: the errors by kind of each level that had any (and
/// that a level failed whole), and which baseline levels had no match.
fn footer(levels: &[Level], baseline: Option<&Baseline>) -> String {
    let mut out = String::new();
    for l in levels.iter().filter(|l| l.error_count() > 0) {
        let kinds: Vec<String> = l.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let whole = if l.all_failed() {
            format!("every one of its {} requests failed: ", l.requests)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "errors at concurrency {}: {whole}{}\n",
            l.concurrency,
            kinds.join(", ")
        ));
    }
    if let Some(b) = baseline {
        let unmatched: Vec<String> = levels
            .iter()
            .filter(|l| b.level(l.concurrency).is_none())
            .map(|l| l.concurrency.to_string())
            .collect();
        if !unmatched.is_empty() {
            out.push_str(&format!(
                "no baseline for concurrency {} in {}\n",
                unmatched.join(", "),
                b.name
            ));
        }
    }
    out
}

/// A run to compare with (`--baseline FILE`): an earlier run's `--json` document.
#[derive(Debug)]
struct Baseline {
    /// The file, as named on the command line.
    name: String,
    doc: serde_json::Value,
}

impl Baseline {
    fn read(path: &Path) -> Result<Baseline, String> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| format!("--baseline {name}: {e}"))?;
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("--baseline {name}: not JSON ({e})"))?;
        if !doc["levels"].is_array() || !doc["settings"].is_object() {
            return Err(format!(
                "--baseline {name}: not a greenfetch bench --json document (no settings and levels)"
            ));
        }
        Ok(Baseline { name, doc })
    }

    /// The earlier run's level of concurrency `c`.
    fn level(&self, c: usize) -> Option<&serde_json::Value> {
        self.doc["levels"]
            .as_array()?
            .iter()
            .find(|l| l["concurrency"].as_u64() == Some(c as u64))
    }

    /// Why the two runs may not compare: another workload, mode or server.
    fn differs(&self, now: &Settings) -> Option<String> {
        let then = &self.doc["settings"];
        let mut what = Vec::new();
        if then["workload"]["path"].as_str() != Some(now.workload.path.as_str()) {
            what.push(format!(
                "its workload was {}, this run's is {}",
                then["workload"]["path"], now.workload.path
            ));
        }
        if then["mode"].as_str() != Some(now.mode) {
            what.push(format!(
                "it ran {} loop, this run {}",
                then["mode"], now.mode
            ));
        }
        if then["embedded_server"].as_bool() != Some(now.embedded_server) {
            what.push("one run used the embedded server, the other a --target".to_owned());
        }
        (!what.is_empty()).then(|| format!("{}: compare with care", what.join("; ")))
    }
}

/// The row under a level's row: each figure's change against the baseline's level of the
/// same concurrency: percent for rates, latencies and memory, a count for errors, points for
/// efficiency; `-` where either run has no figure.
fn delta_row(l: &Level, b: &serde_json::Value) -> Vec<String> {
    let pct = |now: Option<f64>, then: Option<f64>| match (now, then) {
        (Some(n), Some(t)) if t > 0.0 => format!("{:+.1}%", (n - t) / t * 100.0),
        _ => "-".to_owned(),
    };
    let p = l.percentiles();
    let lat = |key: &str, f: fn(&Percentiles) -> f64| {
        pct(p.as_ref().map(f), b["latency_ms"][key].as_f64())
    };
    let errors = match b["errors"].as_u64() {
        Some(t) => format!("{:+}", l.error_count() as i64 - t as i64),
        None => "-".to_owned(),
    };
    let requests = match b["requests"].as_u64() {
        Some(t) if t != l.requests => format!("{:+}", l.requests as i64 - t as i64),
        Some(_) => String::new(),
        None => "-".to_owned(),
    };
    let effic = match (l.efficiency_pct(), b["efficiency_pct"].as_f64()) {
        (Some(n), Some(t)) => format!("{:+.1}pt", n - t),
        _ => "-".to_owned(),
    };
    vec![
        "Δ".to_owned(),
        requests,
        errors,
        pct(Some(l.requests_per_s()), b["requests_per_s"].as_f64()),
        pct(Some(l.mb_per_s()), b["mb_per_s"].as_f64()),
        lat("p50", |p| p.p50),
        lat("p90", |p| p.p90),
        lat("p99", |p| p.p99),
        lat("p99_9", |p| p.p99_9),
        lat("max", |p| p.max),
        effic,
        pct(l.peak_rss_kib.map(|k| k as f64), b["peak_rss_kib"].as_f64()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(c: usize, latencies_ms: &[u64], errors: &[ErrorKind]) -> Level {
        let mut l = Level::new(c, (latencies_ms.len() + errors.len()) as u64).unwrap();
        for ms in latencies_ms {
            l.record(&Sample {
                latency: Duration::from_millis(*ms),
                bytes: 100,
                attempts: 1,
                error: None,
            });
        }
        for e in errors {
            l.record(&Sample {
                latency: Duration::from_millis(1),
                bytes: 0,
                attempts: 3,
                error: Some(*e),
            });
        }
        l.elapsed = Duration::from_secs(2);
        l
    }

    #[test]
    fn percentiles_from_the_histogram() {
        let lat: Vec<u64> = (1..=1000).collect();
        let l = level(10, &lat, &[]);
        let p = l.percentiles().unwrap();
        // Within the histogram's 3 significant digits.
        assert!((p.p50 - 500.0).abs() <= 0.5, "{p:?}");
        assert!((p.p90 - 900.0).abs() <= 0.5, "{p:?}");
        assert!((p.p99 - 990.0).abs() <= 1.0, "{p:?}");
        assert!((p.p99_9 - 999.0).abs() <= 1.0, "{p:?}");
        assert!((p.max - 1000.0).abs() <= 1.0, "{p:?}");
        assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p99_9 && p.p99_9 <= p.max);
        assert_eq!(l.requests_per_s(), 500.0);
        assert_eq!(l.mb_per_s(), 100_000.0 / 1e6 / 2.0);
        // Failures count in neither throughput nor bytes.
        let mixed = level(10, &[5, 5], &[ErrorKind::Connect; 6]);
        assert_eq!(mixed.requests_per_s(), 1.0);
        assert_eq!(mixed.bytes, 200);
    }

    #[test]
    fn errors_are_counted_by_kind_and_left_out_of_latency() {
        let l = level(
            4,
            &[5, 6],
            &[ErrorKind::Connect, ErrorKind::Connect, ErrorKind::Timeout],
        );
        assert_eq!(l.ok, 2);
        assert_eq!(l.error_count(), 3);
        assert_eq!(l.errors.get("connect"), Some(&2));
        assert_eq!(l.errors.get("timeout"), Some(&1));
        assert_eq!(l.attempts, 2 + 9);
        assert_eq!(l.latency_us.len(), 2);
        let mut none = level(4, &[], &[ErrorKind::HttpStatus]);
        assert_eq!(none.percentiles(), None);
        assert!(none.all_failed());
        none.ideal = Some(Duration::from_millis(10));
        assert_eq!(
            none.efficiency_pct(),
            None,
            "no efficiency without a success"
        );
        let r = row(&none);
        assert_eq!(
            (r[3].as_str(), r[5].as_str(), r[10].as_str()),
            ("0", "-", "-")
        );
    }

    #[test]
    fn ideal_times() {
        let d = Duration::from_millis(10);
        assert_eq!(ideal_time(200, 200, 1, d, None), Duration::from_secs(2));
        assert_eq!(
            ideal_time(200, 200, 10, d, None),
            Duration::from_millis(200)
        );
        assert_eq!(
            ideal_time(201, 201, 10, d, None),
            Duration::from_millis(210)
        );
        assert_eq!(ideal_time(5, 5, 1000, d, None), d);
        // Only successes make the ideal: 100 of 200 through 10 slots is 10 rounds.
        assert_eq!(
            ideal_time(100, 200, 10, d, None),
            Duration::from_millis(100)
        );
        // Open loop: 101 requests at 100/s, the last one due after 1 s.
        assert_eq!(
            ideal_time(101, 101, 1000, d, Some(100.0)),
            Duration::from_millis(1010)
        );
        let mut l = level(1, &[10], &[]);
        l.ideal = Some(Duration::from_secs(1));
        assert_eq!(l.efficiency_pct(), Some(50.0));
    }

    #[test]
    fn table_rows_are_aligned_and_fit_100_columns() {
        let levels = [
            level(1, &[10, 11], &[]),
            level(1000, &[80], &[ErrorKind::Connect]),
            level(10, &[], &[ErrorKind::HttpStatus; 3]),
        ];
        let header = header_lines(false);
        let lines: Vec<&str> = header.lines().collect();
        assert!(lines[0].contains("latency of successful requests, ms"));
        assert!(lines[1].trim_start().starts_with("c requests errors"));
        assert!(lines[1].ends_with("RSS MiB"));
        for l in &levels {
            let r = align_row(&row(l));
            assert_eq!(r.trim_end().len(), lines[1].len(), "{r}");
            assert!(r.len() <= 100);
        }
        let foot = footer(&levels, None);
        assert_eq!(
            foot.lines().collect::<Vec<_>>(),
            [
                "errors at concurrency 1000: connect 1",
                "errors at concurrency 10: every one of its 3 requests failed: http_status 3"
            ]
        );
    }

    #[test]
    fn a_baseline_gives_each_figure_its_change() {
        let then = serde_json::json!({
            "concurrency": 1, "requests": 2, "errors": 1, "requests_per_s": 2.0,
            "mb_per_s": 0.0001, "efficiency_pct": 40.0, "peak_rss_kib": 1000,
            "latency_ms": {"p50": 5.0, "p90": 10.0, "p99": 10.0, "p99_9": 10.0, "max": 11.0},
        });
        let mut now = level(1, &[10, 11], &[]);
        now.ideal = Some(Duration::from_secs(1));
        now.peak_rss_kib = Some(1100);
        let d = delta_row(&now, &then);
        assert_eq!(d[0], "Δ");
        assert_eq!(d[1], "", "the same number of requests");
        assert_eq!(d[2], "-1");
        assert_eq!(d[3], "-50.0%", "1/s against 2/s");
        assert_eq!(d[10], "+10.0pt");
        assert_eq!(d[11], "+10.0%");
        assert!(align_row(&d).len() <= 100);
    }

    #[test]
    fn workloads() {
        assert_eq!(Workload::Delay(10).path(7), "/delay/10/7");
        assert_eq!(Workload::Bytes(64).path(7), "/bytes/64");
        assert_eq!(Workload::Feeds.path(4), "/feed/atom/4");
        assert_eq!(
            Workload::Path("/status/503?i={i}".into()).path(3),
            "/status/503?i=3"
        );
        assert_eq!(Workload::Delay(10).pattern(), "/delay/10/{i}");
        assert_eq!(Workload::Delay(0).delay(), None);
    }

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status = "Name:\tgreenfetch\nVmPeak:\t  100 kB\nVmHWM:\t    12345 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(12345));
        assert_eq!(vm_hwm_kib("Name: x\n"), None);
        assert!(peak_rss_kib().is_some_and(|k| k > 0));
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_ms(0.314), "0.31");
        assert_eq!(fmt_ms(10.84), "10.8");
        assert_eq!(fmt_ms(1234.4), "1234");
        assert_eq!(fmt_rate(97.54), "97.5");
        assert_eq!(fmt_rate(21_345.6), "21346");
    }
}
