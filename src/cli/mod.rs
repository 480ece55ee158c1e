//! The `greenfetch` commands. Binary-only: uses nothing but the library's public API, clap and
//! indicatif. `run` resolves the arguments, runs a command and says which exit code to use.

mod args;
mod bench;
mod input;
mod journal;
mod merge;
mod output;
mod plot;
mod progress;
mod sink;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use greenfetch::client::ClientConfig;
use greenfetch::client::proxy::Proxies;
use greenfetch::error::{Error, ErrorKind};
use greenfetch::fetch::{FetchConfig, Fetched, Fetcher};
use greenfetch::green::ureq::GreenResolver;
use greenfetch::{GreenPool, WaitError, hub};

use args::{
    Cli, Command, CookieArgs, FetchArgs, InputArgs, NetArgs, PoolArgs, ProxyArgs, RequestArgs,
    RunArgs, ServeArgs, TitlesArgs,
};
use greenfetch::fetch::cookies::Cookies;
use greenfetch::titles::{TitleOptions, Titled, title_with};
use output::{Outcome, TitleOutcome, TitlesWriter, Writer};

/// Set by the first Ctrl-C: stop reading input, flush what is done in order, exit 130.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit codes.
pub(crate) const EXIT_OK: u8 = 0;
pub(crate) const EXIT_SOME_FAILED: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;
/// An output could not be written (a full disk, an I/O error): the run stopped there.
pub(crate) const EXIT_OUTPUT: u8 = 3;
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Parses the command line and runs it.
pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    raise_open_file_limit();
    let code = match cli.command {
        Command::Fetch(a) => fetch(*a),
        Command::Titles(a) => titles(*a),
        Command::Merge(a) => merge::merge(a.files),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "greenfetch", &mut io::stdout());
            EXIT_OK
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut io::stdout()) {
                Ok(()) => EXIT_OK,
                Err(e) if output::is_broken_pipe(&e) => EXIT_OK,
                Err(e) => {
                    eprintln!("greenfetch: writing the manual: {e}");
                    EXIT_SOME_FAILED
                }
            }
        }
        Command::Serve(a) => serve(*a),
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

/// Raises the soft open-file limit to the hard one: every command may hold thousands of
/// sockets (`fetch -c 5000`, `serve` at its connection cap with two descriptors a client,
/// `fixture` under 10,000 connections, a `bench` level of c connections to the embedded server
/// holding about 2c), and the usual soft limit of 1024 would fail them with EMFILE. Returns the limit now in force; `None` for unlimited or
/// unknown.
#[cfg(unix)]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let higher = match (lim.current, lim.maximum) {
        (Some(cur), Some(max)) => cur < max,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if higher {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    None
}

/// Reads a CA certificate file: PEM (one or more certificates) or DER.
fn read_cacert(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
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

/// `--max-body` when not given (fetch, titles).
const DEFAULT_MAX_BODY: u64 = 256 * 1024 * 1024;

/// Resolves the network options, for a pool of `concurrency` and an optional `rate` (requests
/// started per second), into the library's fetch settings. `proxy` is `None` for `serve`
/// (which never uses a proxy) and `request` is `None` for the commands whose requests are
/// plain GETs (`titles`, `serve`).
fn fetch_config(
    net: &NetArgs,
    proxy: Option<&ProxyArgs>,
    request: Option<(&RequestArgs, &[String])>,
    concurrency: usize,
    rate: Option<f64>,
) -> Result<FetchConfig, String> {
    let mut headers = Vec::new();
    for h in &net.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("header {h:?}: expected `Name: value`"))?;
        let k = k.trim();
        if !is_token(k) {
            return Err(format!("header {h:?}: bad header name"));
        }
        let v = v.trim();
        if v.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(format!("header {h:?}: control characters in the value"));
        }
        headers.push((k.to_owned(), v.to_owned()));
    }
    let roots = match &net.cacert {
        Some(p) => read_cacert(p)?,
        None => Vec::new(),
    };
    let c = concurrency.max(1);
    let mut client = ClientConfig {
        connect_timeout: net.connect_timeout.0,
        max_idle_per_host: c,
        max_idle_total: c.max(1024),
        roots,
        insecure: net.insecure,
        ..ClientConfig::default()
    };
    if !net.resolve.is_empty() {
        client.resolver = pinned_resolver(&net.resolve);
    }
    if let Some(p) = proxy {
        let env = Proxies::from_env(|name| std::env::var(name).ok())
            .map_err(|e| format!("proxy from the environment: {e}"))?;
        client.proxies = env
            .with_overrides(p.proxy.as_deref(), p.noproxy.as_deref())
            .map_err(|e| format!("--proxy: {e}"))?;
    }
    if let Some(problem) = greenfetch::client::Client::new(client.clone()).tls_problem() {
        return Err(format!("--cacert: {problem}"));
    }
    if net.insecure && !INSECURE_WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "greenfetch: warning: --insecure: server certificates are not checked, so anyone \
             on the path can pretend to be the server"
        );
    }
    let credentials = match &net.user {
        Some(u) => {
            let (user, pass) = u
                .split_once(':')
                .ok_or_else(|| format!("--user {u:?}: expected USER:PASSWORD"))?;
            Some((user.to_owned(), pass.to_owned()))
        }
        None => None,
    };
    let mut cfg = FetchConfig {
        client,
        timeout: net.timeout.0,
        max_redirects: if net.no_follow { 0 } else { net.max_redirects },
        retries: net.retries,
        max_body: net.max_body.map_or(DEFAULT_MAX_BODY, |m| m.0),
        headers,
        credentials,
        location_trusted: net.location_trusted,
        per_host: net.per_host,
        per_host_rate: net.per_host_rate.map(|r| r.0),
        rate,
        ..FetchConfig::default()
    };
    if let Some(ua) = &net.user_agent {
        cfg.user_agent = ua.clone();
    }
    if net.robots {
        cfg.robots = Some(Arc::new(greenfetch::fetch::robots::Robots::new(
            &cfg.user_agent,
        )));
    }
    if let Some((r, json)) = request {
        apply_request(&mut cfg, r, json)?;
    }
    Ok(cfg)
}

/// Printed once a process: `--insecure` is on.
static INSECURE_WARNED: AtomicBool = AtomicBool::new(false);

/// An RFC 9110 token (a method or a header name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `-X`, `-I`, `-d`, `--data-binary`, `--json` and `--raw` into the fetch settings.
fn apply_request(
    cfg: &mut FetchConfig,
    r: &RequestArgs,
    json_args: &[String],
) -> Result<(), String> {
    if let Some(m) = &r.method {
        if !is_token(m) {
            return Err(format!("--request {m:?}: not a method name"));
        }
        cfg.method = Some(m.clone());
    }
    let read = |arg: &str, what: &str| -> Result<Vec<u8>, String> {
        match arg.strip_prefix('@') {
            Some("-") => Err(format!(
                "{what} @-: stdin holds the URLs; put the data in a file"
            )),
            Some(path) => std::fs::read(path).map_err(|e| format!("{what} @{path}: {e}")),
            None => Ok(arg.as_bytes().to_vec()),
        }
    };
    let mut form: Vec<Vec<u8>> = Vec::new();
    for d in &r.data {
        let mut bytes = read(d, "--data")?;
        if d.starts_with('@') {
            bytes.retain(|b| *b != b'\r' && *b != b'\n');
        }
        form.push(bytes);
    }
    for d in &r.data_binary {
        form.push(read(d, "--data-binary")?);
    }
    let mut json: Vec<u8> = Vec::new();
    for d in json_args {
        json.extend(read(d, "--json")?);
    }
    if !form.is_empty() && !json_args.is_empty() {
        return Err("--json and --data: give one kind of body".into());
    }
    if r.head && (!form.is_empty() || !json_args.is_empty()) {
        return Err("--head sends no body: drop --data/--json".into());
    }
    if !form.is_empty() {
        cfg.body = Some(form.join(&b'&').into());
        cfg.content_type = Some("application/x-www-form-urlencoded".into());
    } else if !json_args.is_empty() {
        cfg.body = Some(json.into());
        cfg.content_type = Some("application/json".into());
        cfg.accept = Some("application/json".into());
    }
    cfg.head_only = r.head;
    cfg.decode = !r.raw;
    Ok(())
}

/// A resolver that answers the `--resolve` names itself and asks the system for the rest.
fn pinned_resolver(pins: &[args::ResolveArg]) -> GreenResolver {
    let pins: Vec<args::ResolveArg> = pins.to_vec();
    GreenResolver::with_lookup(move |host: &str, port: u16| {
        if let Some(p) = pin_for(&pins, host, port) {
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

/// The `--resolve` pin for `host:port`: an exact one, else a wildcard one (`*:PORT:ADDR`,
/// curl's form: every name on that port).
fn pin_for<'a>(
    pins: &'a [args::ResolveArg],
    host: &str,
    port: u16,
) -> Option<&'a args::ResolveArg> {
    pins.iter()
        .find(|p| p.port == port && p.host.eq_ignore_ascii_case(host))
        .or_else(|| pins.iter().find(|p| p.port == port && p.host == "*"))
}

/// The run's cookie engine from `-b` and `--cookie-jar`: `None` when neither is given. A
/// cookie file that cannot be read, or has a line that is not a cookie, is an error naming the
/// file (and the line): nothing has been fetched yet.
fn cookie_engine(a: &CookieArgs) -> Result<Option<Arc<Cookies>>, String> {
    if a.cookie.is_empty() && a.cookie_jar.is_none() {
        return Ok(None);
    }
    let mut jar = Cookies::new();
    let mut files = Vec::new();
    for arg in &a.cookie {
        if arg.contains('=') {
            jar.add_pairs(arg).map_err(|e| format!("-b: {e}"))?;
        } else if arg == "-" {
            return Err("-b -: stdin holds the URLs; put the cookies in a file".to_owned());
        } else if !arg.is_empty() {
            files.push(std::path::PathBuf::from(arg));
        }
    }
    if let Some(out) = &a.cookie_jar {
        if out.as_os_str().is_empty() || out.is_dir() {
            return Err(format!("--cookie-jar {:?}: not a file name", out.display()));
        }
        let dir = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        if !dir.is_dir() {
            return Err(format!(
                "--cookie-jar {}: no directory {} to write it in",
                out.display(),
                dir.display()
            ));
        }
    }
    for path in files {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // `-b jar --cookie-jar jar`: the first run has no jar yet.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && a.cookie_jar.as_deref() == Some(path.as_path()) =>
            {
                continue;
            }
            Err(e) => return Err(format!("-b {}: {e}", path.display())),
        };
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            format!("-b {}: line {line}: not UTF-8 text", path.display())
        })?;
        jar.load(text)
            .map_err(|e| format!("-b {}: {e}", path.display()))?;
    }
    Ok(Some(Arc::new(jar)))
}

/// Writes the cookie jar at the end of a run, if `--cookie-jar` asked for one; says why not
/// on stderr and returns false when it cannot.
fn save_jar(a: &CookieArgs, jar: Option<&Cookies>) -> bool {
    match (&a.cookie_jar, jar) {
        (Some(path), Some(jar)) => match jar.save(path) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("greenfetch: --cookie-jar {}: {e}", path.display());
                false
            }
        },
        _ => true,
    }
}

/// Configures the hub: `--workers`, else one worker thread per CPU plus one.
///
/// The extra worker: a worker's green threads wait while the OS runs something else on its core
/// (the input and output threads, a fixture server on the same machine), and may's work
/// stealing is slower to move them than one more runnable worker is. Measured on the 2-core
/// machine against the shared harness's fixture server, 5–10 runs each, same sitting: 20,000
/// small fetches at c=64 took 2.68–2.79 s per 5 runs on 2 workers, 2.38–2.54 on 3 (tokio
/// 2.36–2.44); 2,000 feed titles at c=100, 2.59–2.61 s per 10 runs on 2 workers, 2.31–2.38 on
/// 3 (tokio 2.27–2.35).
fn configure_hub(workers: Option<usize>) {
    let w =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() + 1));
    let _ = hub::configure(hub::Settings::default().workers(w));
}

/// `greenfetch fetch`.
fn fetch(a: FetchArgs) -> u8 {
    let mut writer = match Writer::new(a.format, a.output_dir, a.run.fsync) {
        Ok(w) => w,
        Err(e) => return usage_error(format!("output directory: {e}")),
    };
    let on_terminal = writer.stdout_is_terminal;
    run_job(
        a.input,
        &a.pool,
        FetchOptions {
            net: &a.net,
            proxy: &a.proxy,
            request: Some((&a.request, a.json.as_slice())),
            cookies: &a.cookies,
        },
        &a.run,
        |_cfg| {
            move |fetcher: &Fetcher, inp: &input::Input| Outcome {
                index: inp.index,
                text: inp.text.clone(),
                fetched: match &inp.url {
                    Ok(url) => fetcher.fetch(url),
                    Err(e) => Fetched::failed(String::new(), e.clone()),
                },
            }
        },
        on_terminal,
        move |o: &Outcome| writer.write(o),
    )
}

/// `greenfetch titles`.
fn titles(a: TitlesArgs) -> u8 {
    let format = if a.entries {
        args::TitlesFormat::Jsonl
    } else {
        a.format
    };
    let mut writer = TitlesWriter::new(format, a.entries, a.run.fsync);
    let on_terminal = writer.stdout_is_terminal;
    let options = TitleOptions {
        discover: !a.no_discover,
        entries: a.entries,
    };
    run_job(
        a.input,
        &a.pool,
        FetchOptions {
            net: &a.net,
            proxy: &a.proxy,
            request: None,
            cookies: &a.cookies,
        },
        &a.run,
        |cfg| {
            // A title needs the body; the cap keeps a stray video from filling memory.
            cfg.keep_body = true;
            move |fetcher: &Fetcher, inp: &input::Input| TitleOutcome {
                index: inp.index,
                text: inp.text.clone(),
                titled: match &inp.url {
                    Ok(url) => title_with(fetcher, url, options),
                    Err(e) => Titled::failed(String::new(), e.clone()),
                },
            }
        },
        on_terminal,
        move |o: &TitleOutcome| writer.write(o),
    )
}

/// What the job runner needs to know of one input's outcome.
trait JobOutcome: Send + 'static {
    /// The input's index.
    fn index(&self) -> u64;
    /// Why it failed, if it did.
    fn error(&self) -> Option<&Error>;
    /// The outcome of an input whose task died (a bug): every input still gets one.
    fn died(input: &input::Input, error: Error) -> Self;
}

impl JobOutcome for Outcome {
    fn index(&self) -> u64 {
        self.index
    }
    fn error(&self) -> Option<&Error> {
        self.fetched.error.as_ref()
    }
    fn died(input: &input::Input, error: Error) -> Self {
        Outcome {
            index: input.index,
            text: input.text.clone(),
            fetched: Fetched::failed(String::new(), error),
        }
    }
}

impl JobOutcome for TitleOutcome {
    fn index(&self) -> u64 {
        self.index
    }
    fn error(&self) -> Option<&Error> {
        self.titled.error.as_ref()
    }
    fn died(input: &input::Input, error: Error) -> Self {
        TitleOutcome {
            index: input.index,
            text: input.text.clone(),
            titled: Titled::failed(String::new(), error),
        }
    }
}

/// The options of a `fetch` or `titles` run that say how each URL is fetched.
struct FetchOptions<'a> {
    net: &'a NetArgs,
    proxy: &'a ProxyArgs,
    /// What each request sends; `None` for `titles`, whose requests are plain GETs.
    request: Option<(&'a RequestArgs, &'a [String])>,
    cookies: &'a CookieArgs,
}

/// Runs one input list through a pool of green threads, each input through `task`, and hands
/// the outcomes to `write` in input order (or completion order with `--unordered`), then to
/// the journal if there is one.
///
/// `make_task` may adjust the fetch settings before the fetcher is built, and returns the task.
fn run_job<O, T, M>(
    input_args: InputArgs,
    pool_args: &PoolArgs,
    FetchOptions {
        net,
        proxy,
        request,
        cookies: cookie_args,
    }: FetchOptions<'_>,
    run: &RunArgs,
    make_task: M,
    stdout_is_terminal: bool,
    mut write: impl FnMut(&O) -> io::Result<()>,
) -> u8
where
    O: JobOutcome,
    T: Fn(&Fetcher, &input::Input) -> O + Send + Sync + 'static,
    M: FnOnce(&mut FetchConfig) -> T,
{
    configure_hub(net.workers);
    if input_args.files.is_empty() && input_args.urls.is_empty() && input::stdin_is_terminal() {
        return usage_error(
            "no input: give URLs on stdin, as FILE arguments, or with -u URL (see --help)",
        );
    }
    let mut cfg = match fetch_config(
        net,
        Some(proxy),
        request,
        pool_args.concurrency,
        pool_args.rate.map(|r| r.0),
    ) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    cfg.cookies = match cookie_engine(cookie_args) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let jar = cfg.cookies.clone();
    let task = make_task(&mut cfg);
    let mut select = input::Select {
        shard: input_args.shard,
        done: None,
    };
    let mut journal = match &run.journal {
        Some(path) => match journal::Journal::open(path, run.resume, run.fsync) {
            Ok((j, done)) => {
                if run.resume && done.len() > 0 {
                    eprintln!(
                        "greenfetch: resuming: {} inputs already done by {}",
                        done.len(),
                        path.display()
                    );
                }
                select.done = Some(done);
                Some(j)
            }
            Err(e) => return usage_error(e),
        },
        None => None,
    };
    let inputs = match input::read_inputs(input_args.urls, input_args.files, select) {
        Ok(i) => i,
        Err(e) => return usage_error(e),
    };
    install_interrupt_handler();

    let fetcher = Arc::new(Fetcher::new(cfg));
    let pool = GreenPool::new(pool_args.concurrency.max(1));
    let stats = Arc::new(RunStats::default());
    if let Some(addr) = run.backdoor {
        let (s, p) = (stats.clone(), pool.clone());
        let describe = move || {
            format!(
                "done {} failed {} running {}",
                s.done.load(Ordering::Relaxed),
                s.failed.load(Ordering::Relaxed),
                p.running()
            )
        };
        if let Err(e) = start_backdoor(addr, &pool, &stats, describe) {
            return usage_error(format!("--backdoor {addr}: {e}"));
        }
    }
    // A task that panics (a bug) still gives its input an outcome, at its index.
    let task = move |inp: input::Input| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(&fetcher, &inp)))
            .unwrap_or_else(|p| {
                let what = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                O::died(
                    &inp,
                    Error::new(ErrorKind::Internal, format!("the task panicked: {what}")),
                )
            })
    };
    // Only a pool failure, not a panic in a task, can lose an outcome now; say so if it does.
    let lost = |r: Result<O, WaitError>| -> io::Result<O> {
        r.map_err(|e| io::Error::other(format!("a task was lost: {e}")))
    };
    let pb = progress::spinner(run.quiet);
    let mut failed = 0u64;
    let mut done = 0u64;
    let mut emit = |o: io::Result<O>| -> io::Result<()> {
        let o = o?;
        done += 1;
        if o.error().is_some() {
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
        if stdout_is_terminal && !pb.is_hidden() {
            pb.suspend(|| write(&o))?;
        } else {
            write(&o)?;
        }
        if let Some(j) = &mut journal {
            j.record(o.index(), o.error().map_or("ok", |e| e.kind.as_str()))?;
        }
        Ok(())
    };
    let slice = Duration::from_millis(100);
    let result: io::Result<bool> = if run.unordered {
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
    // The jar is written however the run ended (curl writes it at exit too).
    let saved = save_jar(cookie_args, jar.as_deref());
    match result {
        Err(e) if output::is_broken_pipe(&e) && saved => EXIT_OK,
        Err(e) if output::is_broken_pipe(&e) => EXIT_SOME_FAILED,
        Err(e) => {
            eprintln!("greenfetch: stopped: {e}");
            if let Some(path) = &run.journal {
                eprintln!(
                    "greenfetch: {} names every input whose output is complete; free the space \
                     and rerun with --resume",
                    path.display()
                );
            }
            EXIT_OUTPUT
        }
        Ok(true) => EXIT_INTERRUPTED,
        Ok(false) if failed > 0 || !saved => EXIT_SOME_FAILED,
        Ok(false) => EXIT_OK,
    }
}

/// `serve` answers from here on: whatever the request, at most this much body per fetch.
const SERVE_MAX_BODY: u64 = 16 * 1024 * 1024;

/// `greenfetch serve`: the dispatch service until the process is stopped.
fn serve(a: ServeArgs) -> u8 {
    use greenfetch::green::ureq::AddressPolicy;
    use greenfetch::server::dispatch::{Dispatch, DispatchConfig};
    use greenfetch::server::http::{HostCheck, HttpConfig};

    configure_hub(a.net.workers);
    let concurrency = a.pool.concurrency.max(1);
    let mut fetch = match fetch_config(&a.net, None, None, concurrency, a.pool.rate.map(|r| r.0)) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    if a.net.max_body.is_none() {
        fetch.max_body = SERVE_MAX_BODY;
    }
    fetch.client.address_policy = if a.allow_private {
        AddressPolicy::allow_all()
    } else {
        a.allow_addr
            .iter()
            .fold(AddressPolicy::public_only(), |p, x| p.allow(x.0))
    };
    let mut allowed_hosts = if a.allow_any_host {
        HostCheck::any()
    } else {
        HostCheck::local()
    };
    for name in &a.allow_host {
        allowed_hosts = match allowed_hosts.allow(&name.0) {
            Ok(c) => c,
            Err(e) => return usage_error(format!("--allow-host: {e}")),
        };
    }
    let mut allowed_origins = greenfetch::server::dispatch::OriginCheck::none();
    for origin in &a.allow_origin {
        allowed_origins = match allowed_origins.allow(origin) {
            Ok(c) => c,
            Err(e) => return usage_error(format!("--allow-origin: {e}")),
        };
    }
    let required = |d: args::DurationArg, name: &str| {
        d.0.ok_or_else(|| format!("--{name} must be more than 0"))
    };
    let timeouts = (
        required(a.request_timeout, "request-timeout"),
        required(a.client_timeout, "client-timeout"),
        required(a.idle_timeout, "idle-timeout"),
    );
    let (request_timeout, client_timeout, idle_timeout) = match timeouts {
        (Ok(r), Ok(c), Ok(i)) => (r, c, i),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return usage_error(e),
    };
    let service = Dispatch::new(DispatchConfig {
        fetch,
        concurrency,
        discover: !a.no_discover,
        max_urls: a.max_urls,
        request_timeout,
        http: HttpConfig {
            max_body: a.max_request_body.0,
            client_timeout,
            idle_timeout,
            max_connections: a.max_connections.max(1),
            max_connections_per_client: a.max_connections_per_client.max(1),
            ..HttpConfig::default()
        },
        allowed_hosts,
        allowed_origins,
    });
    let server = match service.start(&a.listen) {
        Ok(s) => s,
        Err(e) => return usage_error(format!("serve on {}: {e}", a.listen)),
    };
    let addr = server.addr();
    if !addr.ip().is_loopback() {
        eprintln!(
            "greenfetch: warning: listening on {addr}, which is not a loopback address: \
             anyone who can reach it can make this machine fetch URLs{}",
            if a.allow_private {
                ", and with --allow-private, reach its private network"
            } else {
                ""
            }
        );
    }
    if let Some(bd) = a.backdoor {
        let d = service.clone();
        let describe = move || {
            let s = d.stats();
            format!(
                "requests {} urls {} fetches {} errors {} in_flight {} running {}",
                s.requests,
                s.urls,
                s.fetches,
                s.errors,
                s.in_flight,
                d.pool().running()
            )
        };
        if let Err(e) = start_backdoor(bd, service.pool(), &Arc::default(), describe) {
            return usage_error(format!("--backdoor {bd}: {e}"));
        }
    }
    let mut out = io::stdout().lock();
    if writeln!(out, "listening on http://{addr}")
        .and_then(|()| out.flush())
        .is_err()
    {
        return EXIT_SOME_FAILED;
    }
    drop(out);
    // The service runs in green threads; this (plain) thread only keeps the process alive.
    loop {
        std::thread::park();
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
/// `describe` answers `stats`; the other commands steer `pool`.
fn start_backdoor(
    addr: std::net::SocketAddr,
    pool: &GreenPool,
    stats: &Arc<RunStats>,
    describe: impl Fn() -> String + Send + Sync + 'static,
) -> io::Result<()> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the backdoor listens on loopback addresses only",
        ));
    }
    let listener = greenfetch::listen(addr)?;
    eprintln!("greenfetch: backdoor on {}", listener.local_addr()?);
    let (p2, p3, p4, p5) = (pool.clone(), pool.clone(), pool.clone(), pool.clone());
    let (s2, s3, s4, s5) = (stats.clone(), stats.clone(), stats.clone(), stats.clone());
    let commands = greenfetch::backdoor::Commands::new()
        .command("stats", "results so far", move |_| describe())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_pin_wins_over_a_wildcard_and_a_wildcard_is_per_port() {
        let pins: Vec<args::ResolveArg> = ["*:80:127.0.0.2", "a.test:80:127.0.0.3", "*:81:"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        let addrs = |host: &str, port: u16| pin_for(&pins, host, port).map(|p| p.addrs.clone());
        assert_eq!(
            addrs("a.test", 80),
            Some(vec!["127.0.0.3".parse().unwrap()])
        );
        assert_eq!(
            addrs("A.Test", 80),
            Some(vec!["127.0.0.3".parse().unwrap()])
        );
        assert_eq!(
            addrs("h1.test", 80),
            Some(vec!["127.0.0.2".parse().unwrap()])
        );
        assert_eq!(
            addrs("a.test", 81),
            Some(vec![]),
            "the wildcard for 81: no address"
        );
        assert_eq!(
            addrs("a.test", 82),
            None,
            "no pin for 82: the system is asked"
        );
    }
}
