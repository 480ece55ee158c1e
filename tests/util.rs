//! Helpers shared by both test binaries (`tests.rs` and `single_worker.rs`).
//!
//! - [`green`] runs a test body as a green thread, the way eventlet's tests run in the main
//!   greenlet, after fixing the hub to the binary's `crate::WORKERS` worker threads; a body that
//!   runs longer than [`LIMIT`] fails instead of hanging the binary (eventlet's
//!   `LimitedTestCase`).
//! - [`expected_panic`] is how a test task fails on purpose; the panic hook keeps those quiet.
//! - [`wait_until`] waits for a state that has no event of its own (for example "two spawners
//!   are blocked"), polling, with the same limit.
//! - [`Log`] is eventlet's `results = []` list, shared between green threads.

// Each binary uses a subset of these helpers.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use greenfetch::hub::{self, Settings};

/// A test that runs longer than this has hung.
pub(crate) const LIMIT: Duration = Duration::from_secs(30);

/// A deadline that is meant to expire during the test.
pub(crate) const TICK: Duration = Duration::from_millis(20);

/// A deadline that is meant never to be reached during a test: long enough that no scheduling
/// hiccup gets there, short enough (well under [`LIMIT`]) that a bug shows as a failure.
pub(crate) const LONG: Duration = Duration::from_secs(10);

/// The prefix of every deliberate panic; the panic hook does not print these.
pub(crate) const EXPECTED: &str = "expected panic: ";

static SETUP: Once = Once::new();

pub(crate) fn setup() {
    SETUP.call_once(|| {
        quiet_expected_panics();
        // The first test to get here fixes the hub; every test comes through here first.
        let _ = hub::configure(Settings::default().workers(crate::WORKERS));
    });
    // Tests of the networking layer may start the hub first (with the default workers, one
    // per CPU); the primitives' tests hold with any number of workers.
}

/// Runs `body` as a green thread (a may coroutine) and returns its value; a panic in the body
/// fails the test with its message, and a body that runs past [`LIMIT`] fails it as hung.
pub(crate) fn green<T, F>(body: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    setup();
    match greenfetch::spawn(body).wait_timeout(LIMIT) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("test body failed: {e}"),
        Err(_hung) => panic!("test body still running after {LIMIT:?}: it hung"),
    }
}

/// Panics on purpose, quietly (the hook skips it); eventlet's `raise RuntimeError(...)`.
pub(crate) fn expected_panic(what: &str) -> ! {
    panic!("{EXPECTED}{what}")
}

/// The message `WaitError::Panicked` carries for `expected_panic(what)`.
pub(crate) fn expected(what: &str) -> String {
    format!("{EXPECTED}{what}")
}

fn quiet_expected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if msg.is_some_and(|m| m.starts_with(EXPECTED)) {
            return;
        }
        default(info);
    }));
}

/// Yields (1 ms at a time) until `cond` holds; fails the test after [`LIMIT`].
///
/// For states that nothing signals, such as "the spawner is now blocked"; never a substitute
/// for an `Event` or a `Queue` between tasks.
pub(crate) fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < LIMIT, "gave up waiting until {what}");
        greenfetch::sleep(Duration::from_millis(1));
    }
}

/// A list shared by green threads: eventlet's `results = []` with `results.append`.
#[derive(Debug)]
pub(crate) struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Log(self.0.clone())
    }
}

impl<T: Clone> Log<T> {
    pub(crate) fn new() -> Self {
        Log(Arc::new(Mutex::new(Vec::new())))
    }

    pub(crate) fn push(&self, v: T) {
        self.0.lock().unwrap().push(v);
    }

    /// A copy of the entries so far.
    pub(crate) fn get(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A small deterministic pseudo-random number from `seed` (splitmix64), in `0..n`; stands in
/// for eventlet's seeded `random.Random(0)` in the stress tests.
pub(crate) fn pseudo_random(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % n
}

/// A tiny HTTP server on a plain thread (std sockets, one thread per connection): `/feed` is an
/// RSS feed titled `Allowed feed`, every other path a `302` to `target`. Stands in for a public
/// host that redirects to a private one. Each connection gets one response, then is closed.
pub(crate) fn redirector(target: String) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the redirector");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let target = target.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn);
                let mut first = String::new();
                let _ = r.read_line(&mut first);
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = first.split(' ').nth(1).unwrap_or("/");
                let reply = if path == "/feed" {
                    let body = "<rss version=\"2.0\"><channel><title>Allowed feed</title>\
                                </channel></rss>";
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    format!(
                        "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\
                         Connection: close\r\n\r\n"
                    )
                };
                let _ = r.get_mut().write_all(reply.as_bytes());
            });
        }
    });
    addr
}

/// The variables that change what the `greenfetch` binary does without its arguments saying
/// so: the proxy variables (curl's names, both cases), `HOME` (the cookie jar's and config's
/// default place) and `NO_COLOR`.
pub(crate) const AMBIENT: [&str; 10] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "HOME",
    "NO_COLOR",
];

/// The `greenfetch` binary, hermetic: every [`AMBIENT`] variable cleared, so a developer's or
/// CI's environment cannot change a result. Every test that runs the binary starts from here
/// (a test that wants a variable sets it again; one that runs it through another program
/// clears [`AMBIENT`] itself, as tests/batch.rs does for GNU parallel).
pub(crate) fn greenfetch() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_greenfetch"));
    for var in AMBIENT {
        cmd.env_remove(var);
    }
    cmd.env("RUST_BACKTRACE", "0");
    cmd
}

/// Runs `cmd` (a [`greenfetch`] command) with no stdin to its end, stdout and stderr
/// captured; a panic that reached the user fails the test.
pub(crate) fn output(cmd: &mut std::process::Command) -> std::process::Output {
    use std::process::Stdio;
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("the greenfetch binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "a panic reached the user: {stderr}"
    );
    out
}

/// Runs `greenfetch ARGS` hermetically ([`greenfetch`]) with the variables `env` set, stdin
/// empty, and returns its output ([`output`]).
pub(crate) fn run_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = greenfetch();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    output(&mut cmd)
}

/// The JSON records of a jsonl output, one a line.
pub(crate) fn records(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record a line"))
        .collect()
}

/// One request as a [`Scripted`] server read it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The request line and header lines, CRLFs included.
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Seen {
    /// The request line.
    pub(crate) fn line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    /// The value of the first header called `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// A server on plain threads (std sockets: test code, no coroutines) that answers every
/// request with the bytes `answer` makes of it, on keep-alive connections until the answer
/// holds `Connection: close`; it records what it saw. Stands in for servers nobody here wrote.
pub(crate) struct Scripted {
    pub(crate) addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    pub(crate) fn start<F>(answer: F) -> Scripted
    where
        F: Fn(&Seen) -> Vec<u8> + Send + Sync + 'static,
    {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a scripted server");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, answer) = (seen.clone(), Arc::new(answer));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (log, answer) = (log.clone(), answer.clone());
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 16 * 1024];
                    loop {
                        let end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            match conn.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end);
                        let mut req = Seen {
                            head,
                            body: Vec::new(),
                        };
                        let len: usize = req
                            .header("content-length")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        while buf.len() < len {
                            match conn.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        req.body = buf.drain(..len).collect();
                        let reply = answer(&req);
                        log.lock().unwrap().push(req);
                        if conn.write_all(&reply).is_err() {
                            return;
                        }
                        let text = String::from_utf8_lossy(&reply[..reply.len().min(64 * 1024)])
                            .to_ascii_lowercase();
                        if text.contains("connection: close") {
                            return;
                        }
                    }
                });
            }
        });
        Scripted { addr, seen }
    }

    /// `http://ADDR` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests seen so far, in arrival order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// An answer with `status`, extra header lines, and `body` framed by Content-Length.
pub(crate) fn answer(status: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}
