//! The `greenfetch` commands. Binary-only: uses nothing but the library's public API, clap and
//! indicatif. `run` resolves the arguments, runs a command and says which exit code to use.

mod args;
mod bench;
mod input;
mod output;
mod plot;
mod progress;

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use greenfetch::error::{Error, ErrorKind};
use greenfetch::fetch::{FetchConfig, Fetched, Fetcher};
use greenfetch::green::ureq::{AgentConfig, GreenResolver};
use greenfetch::{hub, GreenPool, WaitError};

use args::{Cli, Command, FetchArgs, NetArgs};
use output::{Outcome, Writer};

/// Set by the first Ctrl-C: stop reading input, flush what is done in order, exit 130.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit codes.
pub(crate) const EXIT_OK: u8 = 0;
pub(crate) const EXIT_SOME_FAILED: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Parses the command line and runs it.
pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Fetch(a) => fetch(*a),
        Command::Fixture(a) => {
            configure_hub(a.workers);
            match greenfetch::server::fixture::run_fixture(&a.listen) {
                Ok(()) => EXIT_OK,
                Err(e) => usage_error(format!("fixture server on {}: {e}", a.listen)),
            }
        }
        Command::Bench(a) => bench::bench(*a),
    };
    ExitCode::from(code)
}

fn usage_error(msg: impl std::fmt::Display) -> u8 {
    eprintln!("greenfetch: {msg}");
    EXIT_USAGE
}

fn install_interrupt_handler() {
    let presses = Arc::new(AtomicU64::new(0));
    let _ = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!(
                "\ngreenfetch: interrupted; flushing finished results (Ctrl-C again to quit now)"
            );
        } else {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
}

/// Reads a CA certificate file: PEM (one or more certificates) or DER.
fn read_cacert(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(vec![bytes]);
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: bad PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(certs)
}

/// Resolves the network options, for a pool of `concurrency` and an optional `rate` (requests
/// started per second), into the library's fetch settings.
fn fetch_config(
    net: &NetArgs,
    concurrency: usize,
    rate: Option<f64>,
) -> Result<FetchConfig, String> {
    let mut headers = Vec::new();
    for h in &net.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("header {h:?}: expected `Name: value`"))?;
        let k = k.trim();
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(format!("header {h:?}: bad header name"));
        }
        headers.push((k.to_owned(), v.trim().to_owned()));
    }
    let roots = match &net.cacert {
        Some(p) => read_cacert(p)?,
        None => Vec::new(),
    };
    let c = concurrency.max(1);
    let mut agent = AgentConfig {
        timeout: net.timeout.0,
        connect_timeout: net.connect_timeout.0,
        max_redirects: if net.no_follow { 0 } else { net.max_redirects },
        max_idle_per_host: c,
        roots,
        ..AgentConfig::default()
    };
    if !net.resolve.is_empty() {
        agent.resolver = pinned_resolver(&net.resolve);
    }
    if let Some(ua) = &net.user_agent {
        agent.user_agent = ua.clone();
    }
    if c >= 2000 {
        // Thousands of connections: small read buffers keep memory per request low.
        agent.input_buffer = 4 * 1024;
    }
    Ok(FetchConfig {
        agent,
        retries: net.retries,
        max_body: net.max_body.0,
        headers,
        per_host: net.per_host,
        rate,
        ..FetchConfig::default()
    })
}

/// A resolver that answers the `--resolve` names itself and asks the system for the rest.
fn pinned_resolver(pins: &[args::ResolveArg]) -> GreenResolver {
    let pins: Vec<args::ResolveArg> = pins.to_vec();
    GreenResolver::with_lookup(move |host: &str, port: u16| {
        if let Some(p) = pins.iter().find(|p| p.host == host && p.port == port) {
            if p.addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host}: no such host (--resolve)"),
                ));
            }
            return Ok(p
                .addrs
                .iter()
                .map(|ip| std::net::SocketAddr::new(*ip, port))
                .collect());
        }
        use std::net::ToSocketAddrs;
        (host, port).to_socket_addrs().map(|a| a.collect())
    })
}

fn configure_hub(workers: Option<usize>) {
    let mut s = hub::Settings::default();
    if let Some(w) = workers {
        s = s.workers(w);
    }
    let _ = hub::configure(s);
}

/// `greenfetch fetch`.
fn fetch(a: FetchArgs) -> u8 {
    configure_hub(a.net.workers);
    if a.input.files.is_empty() && a.input.urls.is_empty() && input::stdin_is_terminal() {
        return usage_error(
            "no input: give URLs on stdin, as FILE arguments, or with -u URL (see --help)",
        );
    }
    let cfg = match fetch_config(&a.net, a.concurrency, a.rate.map(|r| r.0)) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let inputs = match input::read_inputs(a.input.urls, a.input.files, a.input.shard) {
        Ok(i) => i,
        Err(e) => return usage_error(e),
    };
    let mut writer = match Writer::new(a.format, a.output_dir) {
        Ok(w) => w,
        Err(e) => return usage_error(format!("output directory: {e}")),
    };
    install_interrupt_handler();

    let fetcher = Arc::new(Fetcher::new(cfg));
    let pool = GreenPool::new(a.concurrency.max(1));
    let stats = Arc::new(RunStats::default());
    if let Some(addr) = a.backdoor {
        if let Err(e) = start_backdoor(addr, &pool, &stats) {
            return usage_error(format!("--backdoor {addr}: {e}"));
        }
    }
    let task = move |inp: input::Input| {
        let fetched = match &inp.url {
            Ok(url) => fetcher.fetch(url),
            Err(e) => Fetched::failed(String::new(), e.clone()),
        };
        Outcome {
            index: inp.index,
            text: inp.text,
            fetched,
        }
    };
    let pb = progress::spinner(a.quiet);
    let mut failed = 0u64;
    let mut done = 0u64;
    let mut emit = |o: Outcome| -> io::Result<()> {
        done += 1;
        if !o.fetched.is_ok() {
            failed += 1;
        }
        stats.done.store(done, Ordering::Relaxed);
        stats.failed.store(failed, Ordering::Relaxed);
        if stats.quiet.load(Ordering::Relaxed) != pb.is_hidden() {
            pb.set_draw_target(if stats.quiet.load(Ordering::Relaxed) {
                indicatif::ProgressDrawTarget::hidden()
            } else {
                indicatif::ProgressDrawTarget::stderr()
            });
        }
        pb.set_position(done);
        progress::set_errors(&pb, failed);
        if writer.stdout_is_terminal && !pb.is_hidden() {
            pb.suspend(|| writer.write(&o))
        } else {
            writer.write(&o)
        }
    };
    let slice = Duration::from_millis(100);
    let result: io::Result<bool> = if a.unordered {
        let mut it = pool.imap_unordered(task, inputs);
        loop {
            if INTERRUPTED.load(Ordering::Relaxed) {
                break Ok(true);
            }
            match it.next() {
                Some(r) => {
                    if let Err(e) = emit(lost(r)) {
                        break Err(e);
                    }
                }
                None => break Ok(false),
            }
        }
    } else {
        let mut it = pool.imap(task, inputs);
        loop {
            if INTERRUPTED.load(Ordering::Relaxed) {
                // Flush the finished in-order prefix, then stop.
                let mut r = Ok(true);
                while let Ok(Some(item)) = it.next_timeout(Duration::ZERO) {
                    if let Err(e) = emit(lost(item)) {
                        r = Err(e);
                        break;
                    }
                }
                break r;
            }
            match it.next_timeout(slice) {
                Ok(Some(item)) => {
                    if let Err(e) = emit(lost(item)) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(false),
                Err(_) => continue,
            }
        }
    };
    pb.finish_and_clear();
    let _ = writer.flush();
    match result {
        Err(e) if output::is_broken_pipe(&e) => EXIT_OK,
        Err(e) => {
            eprintln!("greenfetch: writing output: {e}");
            EXIT_SOME_FAILED
        }
        Ok(true) => EXIT_INTERRUPTED,
        Ok(false) if failed > 0 => EXIT_SOME_FAILED,
        Ok(false) => EXIT_OK,
    }
}

/// Counters the backdoor reads while a run goes on.
#[derive(Debug, Default)]
struct RunStats {
    done: AtomicU64,
    failed: AtomicU64,
    /// Size to restore on `resume` (0: not paused).
    paused_size: AtomicU64,
    quiet: AtomicBool,
}

/// Serves the backdoor console on a loopback address, in a green thread, for the whole run.
fn start_backdoor(
    addr: std::net::SocketAddr,
    pool: &GreenPool,
    stats: &Arc<RunStats>,
) -> io::Result<()> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the backdoor listens on loopback addresses only",
        ));
    }
    let listener = greenfetch::listen(addr)?;
    eprintln!("greenfetch: backdoor on {}", listener.local_addr()?);
    let (p1, p2, p3, p4, p5) = (
        pool.clone(),
        pool.clone(),
        pool.clone(),
        pool.clone(),
        pool.clone(),
    );
    let (s1, s2, s3, s4, s5) = (
        stats.clone(),
        stats.clone(),
        stats.clone(),
        stats.clone(),
        stats.clone(),
    );
    let commands = greenfetch::backdoor::Commands::new()
        .command(
            "stats",
            "results so far: done, failed, running",
            move |_| {
                format!(
                    "done {} failed {} running {}",
                    s1.done.load(Ordering::Relaxed),
                    s1.failed.load(Ordering::Relaxed),
                    p1.running()
                )
            },
        )
        .command(
            "pool",
            "the fetch pool: size, running, free, waiting",
            move |_| {
                format!(
                    "size {} running {} free {} waiting {}",
                    p2.size(),
                    p2.running(),
                    p2.free(),
                    p2.waiting()
                )
            },
        )
        .command(
            "resize",
            "resize N: change the concurrency",
            move |arg| match arg.trim().parse::<usize>() {
                Ok(n) => {
                    p3.resize(n);
                    s2.paused_size.store(0, Ordering::Relaxed);
                    format!("size {n}")
                }
                Err(_) => "usage: resize N".to_owned(),
            },
        )
        .command(
            "pause",
            "start no new fetch (running ones finish)",
            move |_| {
                let size = p4.size();
                if size > 0 {
                    s3.paused_size.store(size as u64, Ordering::Relaxed);
                    p4.resize(0);
                }
                "paused".to_owned()
            },
        )
        .command("resume", "undo pause", move |_| {
            let size = s4.paused_size.swap(0, Ordering::Relaxed);
            if size > 0 {
                p5.resize(size as usize);
            }
            format!("resumed at size {}", p5.size())
        })
        .command("quiet", "hide the progress display", move |_| {
            s5.quiet.store(true, Ordering::Relaxed);
            "quiet".to_owned()
        });
    let s6 = stats.clone();
    let commands = commands.command(
        "verbose",
        "show the progress display (on a terminal)",
        move |_| {
            s6.quiet.store(false, Ordering::Relaxed);
            "verbose".to_owned()
        },
    );
    greenfetch::spawn_n(move || {
        if let Err(e) = greenfetch::backdoor::backdoor_server(listener, commands) {
            eprintln!("greenfetch: backdoor stopped: {e}");
        }
    });
    Ok(())
}

/// A task that died (a bug) still gives its input an outcome.
fn lost(r: Result<Outcome, WaitError>) -> Outcome {
    r.unwrap_or_else(|e| Outcome {
        index: u64::MAX,
        text: String::new(),
        fetched: Fetched::failed(
            String::new(),
            Error::new(ErrorKind::Internal, e.to_string()),
        ),
    })
}
