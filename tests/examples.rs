//! The examples, run as programs: `examples/echo_server.rs`, `backdoor.rs`, `client.rs` and
//! `dispatch.rs`.
//!
//! An integration test cannot depend on examples being built, so the first test to need them
//! runs `cargo build --example ...` once, into this test binary's own target directory and
//! profile, then runs the executables from `<target>/<profile>/examples/`. The clients are std
//! sockets on the test thread (see tests/convenience.rs for why not `greenfetch::connect`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Builds both examples once; returns the directory holding them.
fn examples_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This binary is <target>/<profile>/deps/integration-HASH.
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("test binary under <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("profile dir has a parent");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--quiet",
                "--example",
                "echo_server",
                "--example",
                "backdoor",
                "--example",
                "client",
                "--example",
                "dispatch",
            ])
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo build");
        assert!(status.success(), "cargo build --example failed");
        profile_dir.join("examples")
    })
}

/// A running example: killed on drop if the test fails before it exits by itself.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Running {
    fn start(name: &str, args: &[&str]) -> Running {
        let mut child = Command::new(examples_dir().join(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start example {name}: {e}"));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Running { child, stdout }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read stdout");
        line
    }

    /// The address at the end of the first stdout line ("... listening on ADDR").
    fn address(&mut self) -> SocketAddr {
        let line = self.line();
        let addr = line.trim_end().rsplit(' ').next().unwrap_or_default();
        addr.parse()
            .unwrap_or_else(|_| panic!("no address in first line {line:?}"))
    }

    /// Stops a program that runs until stopped (a server): kills it, by its own handle.
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the program to exit by itself; returns the rest of its stdout.
    fn finish(mut self) -> String {
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).expect("read stdout");
        let status = self.child.wait().expect("wait for the example");
        assert!(status.success(), "example exited with {status}");
        rest
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client connection with a safety net: a read that would hang fails after 60 s instead.
fn client(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).expect("connect to the example");
    c.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set_read_timeout");
    c
}

fn read_line(c: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    c.read_line(&mut line).expect("read a line");
    line
}

// eventlet examples/echoserver.py: three clients are connected at once and each is echoed while
// the others stay open (a server that handled one client at a time would never answer the
// second); after --max-clients 3 the server exits by itself.
#[test]
fn echo_server_echoes_concurrent_clients_and_exits() {
    let mut server = Running::start("echo_server", &["--max-clients", "3"]);
    let addr = server.address();
    let mut clients: Vec<_> = (0..3).map(|_| BufReader::new(client(addr))).collect();
    for round in 0..2 {
        for (i, c) in clients.iter_mut().enumerate().rev() {
            let msg = format!("client {i} round {round}\n");
            c.get_mut().write_all(msg.as_bytes()).unwrap();
            assert_eq!(read_line(c), msg);
        }
    }
    drop(clients);
    assert_eq!(server.finish(), "served 3 clients\n");
}

// The backdoor example answers help and stats, pauses and resumes, and `stop` ends it.
#[test]
fn backdoor_example_answers_help_and_stats() {
    let mut job = Running::start("backdoor", &["--seconds", "300", "--workers", "3"]);
    let addr = job.address();
    let mut console = BufReader::new(client(addr));
    let run = |c: &mut BufReader<TcpStream>, command: &str| -> String {
        c.get_mut()
            .write_all(format!("{command}\n").as_bytes())
            .unwrap();
        let mut out = Vec::new();
        while !out.ends_with(b">>> ") {
            let mut b = [0; 1];
            c.read_exact(&mut b).expect("read up to the prompt");
            out.push(b[0]);
        }
        String::from_utf8(out[..out.len() - 4].to_vec()).unwrap()
    };
    assert!(read_line(&mut console).contains("backdoor"));
    let mut prompt = [0; 4];
    console.read_exact(&mut prompt).unwrap();
    assert_eq!(&prompt, b">>> ");

    let help = run(&mut console, "help");
    for command in ["stats", "count", "pause", "resume", "stop"] {
        assert!(
            help.lines().any(|l| l.starts_with(command)),
            "{command} missing from help:\n{help}"
        );
    }
    let stats = run(&mut console, "stats");
    assert!(
        stats.starts_with("count ") && stats.contains(" of 3, running, "),
        "stats: {stats:?}"
    );
    assert!(run(&mut console, "count").trim().parse::<u64>().is_ok());
    assert_eq!(run(&mut console, "pause"), "paused\n");
    assert!(run(&mut console, "stats").contains(" of 3, paused, "));
    assert_eq!(run(&mut console, "resume"), "resumed\n");
    assert_eq!(run(&mut console, "stop"), "stopping\n");

    let rest = job.finish();
    assert!(rest.starts_with("final count: "), "stdout: {rest:?}");
}

/// examples/client.rs is eventlet's client pattern: with no arguments it fetches pages of an
/// embedded fixture server and prints each body's length in input order.
#[test]
fn client_example_prints_lengths_in_input_order() {
    let out = Running::start("client", &[]).finish();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    // Five delayed pages (later ones answer first), then three sized ones; all in input order.
    for (i, line) in lines[..5].iter().enumerate() {
        let tag = (i + 1) * 100;
        let want = format!(
            "/delay/{}/{tag}: {} bytes",
            100 - 20 * (i + 1),
            tag.to_string().len() + 1
        );
        assert!(
            line.ends_with(&want),
            "line {i}: {line:?} should end with {want:?}"
        );
    }
    for (i, line) in lines[5..].iter().enumerate() {
        let n = (i + 1) * 1000;
        assert!(
            line.ends_with(&format!("/bytes/{n}: {n} bytes")),
            "{line:?}"
        );
    }
}

/// examples/dispatch.rs is eventlet's feedscraper: POST feed URLs, get their titles in input
/// order, one a line (an empty line for a URL without one); two requests at once share the
/// example's pool; anything but POST gets 403.
#[test]
fn dispatch_example_answers_titles_in_order() {
    use greenfetch::server::fixture::FixtureServer;

    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let mut server = Running::start("dispatch", &["127.0.0.1:0"]);
    let addr = server.address();
    let post = move |body: String| {
        let mut c = client(addr);
        write!(
            c,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        reply
    };
    // The slow answer first: a page that advertises its feed (two fetches), then fast feeds.
    let urls = |tag: &str| {
        format!(
            "{}\n\n{}\n{}\n{}\n",
            feeds.url(&format!("/page/{tag}")),
            feeds.url(&format!("/feed/atom/{tag}2")),
            feeds.url("/status/404"),
            feeds.url(&format!("/feed/json/{tag}3")),
        )
    };
    let (a, b) = (urls("a"), urls("b"));
    let other = std::thread::spawn(move || post(b));
    let reply = post(a);
    let reply_b = other.join().unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(
        reply.ends_with("\r\n\r\nFeed a\nFeed a2\n\nFeed a3\n"),
        "{reply}"
    );
    assert!(
        reply_b.ends_with("\r\n\r\nFeed b\nFeed b2\n\nFeed b3\n"),
        "{reply_b}"
    );

    let mut c = client(addr);
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{reply}");
    server.stop();
}
