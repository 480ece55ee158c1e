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
use super::plot;
use super::{
    EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, INTERRUPTED, configure_hub, cookie_engine,
    fetch_config, install_interrupt_handler, progress, save_jar, usage_error,
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
        self.bytes += s.bytes;
        match s.error {
            None => {
                self.ok += 1;
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

    fn requests_per_s(&self) -> f64 {
        (self.ok + self.error_count()) as f64 / self.secs()
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

    /// Ideal time over actual time, as a percentage.
    fn efficiency_pct(&self) -> Option<f64> {
        self.ideal
            .map(|ideal| ideal.as_secs_f64() / self.secs() * 100.0)
    }
}

/// The ideal time for `n` requests of `delay` each through a pool of `c`, and, in open loop,
/// no sooner than the last one is due plus its delay.
fn ideal_time(n: u64, c: usize, delay: Duration, rate: Option<f64>) -> Duration {
    let rounds = n.div_ceil(c.max(1) as u64);
    let pool_bound = delay.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX));
    match rate {
        Some(r) if n > 0 => pool_bound.max(Duration::from_secs_f64((n - 1) as f64 / r) + delay),
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
    configure_hub(a.net.workers);
    let workload = match Workload::from_args(&a) {
        Ok(w) => w,
        Err(e) => return usage_error(e),
    };
    if a.concurrency.contains(&0) {
        return usage_error("--concurrency: pool sizes must be at least 1");
    }
    if a.requests == Some(0) {
        return usage_error("--requests: at least 1");
    }
    let rate = a.rate.map(|r| r.0);
    // The network options are checked once, before anything starts.
    if let Err(e) = fetch_config(&a.net, a.proxies(), Some((&a.request, &[])), 1, None) {
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
        concurrency: a.concurrency.clone(),
        workers: hub::settings().workers,
        retries: a.net.retries,
        latency: if rate.is_some() {
            "successful requests, from each request's due time (open loop: corrected for coordinated omission)"
        } else {
            "successful requests, from the start of each request's task (closed loop)"
        },
    };

    install_interrupt_handler();
    let base: Arc<str> = base.into();
    let workload = Arc::new(workload);
    let mut levels = Vec::new();
    let mut interrupted = false;
    for &c in &a.concurrency {
        let n = a
            .requests
            .unwrap_or_else(|| (DEFAULT_ROUNDS.saturating_mul(c as u64)).max(DEFAULT_MIN_REQUESTS));
        let run = LevelRun {
            concurrency: c,
            requests: n,
            rate,
            base: base.clone(),
            workload: workload.clone(),
            cookies: cookies.clone(),
        };
        match run.run(&a) {
            Ok(Some(level)) => levels.push(level),
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

    let heading = heading(&settings, &workload);
    let table = render(&heading, &levels);
    let mut status = Ok(());
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
                p99_ms: l.percentiles().map(|p| p.p99),
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
    // The table is data: stdout, unless the JSON took stdout.
    let written = if matches!(a.json.as_deref(), Some(p) if p.as_os_str() == "-") {
        io::stderr().write_all(table.as_bytes())
    } else {
        let mut o = io::stdout().lock();
        o.write_all(table.as_bytes()).and_then(|()| o.flush())
    };
    if let Err(e) = written {
        if !super::output::is_broken_pipe(&e) {
            eprintln!("greenfetch: writing the table: {e}");
            return EXIT_SOME_FAILED;
        }
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

fn write_json(path: &Path, f: File, report: &Report<'_>) -> Result<(), (String, io::Error)> {
    let mut w = io::BufWriter::new(f);
    serde_json::to_writer_pretty(&mut w, report)
        .map_err(io::Error::from)
        .and_then(|()| writeln!(w))
        .and_then(|()| w.flush())
        .map_err(|e| (path.display().to_string(), e))
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
    rate: Option<f64>,
    base: Arc<str>,
    workload: Arc<Workload>,
    cookies: Option<Arc<Cookies>>,
}

impl LevelRun {
    /// Runs the level; `Ok(None)` if Ctrl-C stopped it.
    fn run(self, a: &BenchArgs) -> Result<Option<Level>, String> {
        let LevelRun {
            concurrency: c,
            requests: n,
            rate,
            base,
            workload,
            cookies,
        } = self;
        let mut level = Level::new(c, n)?;
        let mut cfg = fetch_config(&a.net, a.proxies(), Some((&a.request, &[])), c, None)?;
        cfg.cookies = cookies;
        let fetcher = Arc::new(Fetcher::new(cfg));
        let pool = GreenPool::new(c);
        let pb = progress::level_bar(a.quiet, n, &format!("c={c}"));
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
        let failed = Arc::new(AtomicU64::new(0));
        // A URL that is the same for every request is made once.
        let fixed_url: Option<Arc<str>> = match &*workload {
            Workload::Bytes(_) => Some(format!("{base}{}", workload.path(0)).into()),
            _ => None,
        };
        let t0 = Instant::now();
        // One green thread per slot, each sending its next request when its last one ends
        // (closed loop) or when it is due (open loop), taking request numbers in order: what
        // `imap` over the pool did, without a green thread and a hand-over per request.
        for slot in 0..c.min(usize::try_from(n).unwrap_or(usize::MAX)) {
            let (fetcher, workload, base) = (fetcher.clone(), workload.clone(), base.clone());
            let (shards, next, done, failed) =
                (shards.clone(), next.clone(), done.clone(), failed.clone());
            let fixed_url = fixed_url.clone();
            pool.spawn_n(move || {
                let shard = &shards[slot % shards.len()];
                while !INTERRUPTED.load(Ordering::Relaxed) {
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
                    if sample.error.is_some() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    lock(shard).record(&sample);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        loop {
            if INTERRUPTED.load(Ordering::Relaxed) {
                pb.finish_and_clear();
                return Ok(None);
            }
            let idle = pool.waitall_timeout(Duration::from_millis(100));
            pb.set_position(done.load(Ordering::Relaxed));
            progress::set_errors(&pb, failed.load(Ordering::Relaxed));
            if idle.unwrap_or(true) {
                break;
            }
        }
        level.elapsed = t0.elapsed();
        pb.finish_and_clear();
        for shard in shards.iter() {
            level.merge(&lock(shard))?;
        }
        level.connections_opened = fetcher.client().connections_opened();
        level.ideal = delay.map(|d| ideal_time(n, c, d, rate));
        drop(pool);
        drop(fetcher);
        level.peak_rss_kib = peak_rss_kib();
        Ok(Some(level))
    }
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

const HEADERS: [&str; 12] = [
    "concurrency",
    "requests",
    "errors",
    "req/s",
    "MB/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "efficiency",
    "peak RSS so far",
];

fn row(l: &Level) -> Vec<String> {
    let p = l.percentiles();
    let ms = |f: fn(&Percentiles) -> f64| p.as_ref().map_or("-".to_owned(), |p| fmt_ms(f(p)));
    vec![
        l.concurrency.to_string(),
        l.requests.to_string(),
        l.error_count().to_string(),
        fmt_rate(l.requests_per_s()),
        format!("{:.2}", l.mb_per_s()),
        ms(|p| p.p50),
        ms(|p| p.p90),
        ms(|p| p.p99),
        ms(|p| p.p99_9),
        ms(|p| p.max),
        l.efficiency_pct()
            .map_or("-".to_owned(), |e| format!("{e:.1}%")),
        l.peak_rss_kib
            .map_or("-".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
    ]
}

/// Right-aligned columns, two spaces apart, one line per row.
fn align(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(&" ".repeat(w - cell.chars().count()));
            s.push_str(cell);
        }
        s.push('\n');
        s
    };
    let mut out = line(&mut headers.iter().copied());
    for r in rows {
        out.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    out
}

/// The report on stdout: the heading, the table, and the errors by kind of each level that had
/// any.
fn render(heading: &str, levels: &[Level]) -> String {
    let rows: Vec<Vec<String>> = levels.iter().map(row).collect();
    let mut out = format!("{heading}\n{}", align(&HEADERS, &rows));
    for l in levels.iter().filter(|l| l.error_count() > 0) {
        let kinds: Vec<String> = l.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!(
            "errors at concurrency {}: {}\n",
            l.concurrency,
            kinds.join(", ")
        ));
    }
    out
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
        let none = level(4, &[], &[ErrorKind::HttpStatus]);
        assert_eq!(none.percentiles(), None);
        assert_eq!(row(&none)[5], "-");
    }

    #[test]
    fn ideal_times() {
        let d = Duration::from_millis(10);
        assert_eq!(ideal_time(200, 1, d, None), Duration::from_secs(2));
        assert_eq!(ideal_time(200, 10, d, None), Duration::from_millis(200));
        assert_eq!(ideal_time(201, 10, d, None), Duration::from_millis(210));
        assert_eq!(ideal_time(5, 1000, d, None), d);
        // Open loop: 101 requests at 100/s, the last one due after 1 s.
        assert_eq!(
            ideal_time(101, 1000, d, Some(100.0)),
            Duration::from_millis(1010)
        );
        let mut l = level(1, &[10], &[]);
        l.ideal = Some(Duration::from_secs(1));
        assert_eq!(l.efficiency_pct(), Some(50.0));
    }

    #[test]
    fn table_has_a_header_and_a_row_per_level_aligned() {
        let levels = [
            level(1, &[10, 11], &[]),
            level(1000, &[80], &[ErrorKind::Connect]),
        ];
        let out = render("greenfetch bench: test", &levels);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "greenfetch bench: test");
        assert!(lines[1].trim_start().starts_with("concurrency"));
        assert!(lines[1].ends_with("peak RSS so far"));
        assert_eq!(lines[1].len(), lines[2].len());
        assert_eq!(lines[1].len(), lines[3].len());
        assert!(lines[2].trim_start().starts_with("1 "));
        assert!(lines[3].trim_start().starts_with("1000 "));
        assert_eq!(lines[4], "errors at concurrency 1000: connect 1");
        assert_eq!(lines.len(), 5);
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
