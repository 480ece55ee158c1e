//! `greenfetch fetch` end to end: the binary against the embedded fixture server.
//!
//! Every test binds the fixture server to 127.0.0.1:0; names are pinned with `--resolve`, so no
//! lookup ever leaves the machine.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

use greenfetch::server::fixture::FixtureServer;
use serde_json::Value;

/// Runs `greenfetch ARGS` with `stdin` as input, hermetically.
fn run(args: &[&str], stdin: &str) -> Output {
    run_bytes(args, stdin.as_bytes())
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is a JSON record"))
        .collect()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

#[test]
fn bodies_come_out_in_input_order_under_random_delays() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    // Later lines finish first: delays fall as the index rises, with a wobble.
    let lines: String = (0..40)
        .map(|i| {
            format!(
                "{}\n",
                srv.url(&format!("/delay/{}/{i}", (40 - i) * 5 + (i * 7) % 13))
            )
        })
        .collect();
    let out = run(&["fetch", "-c", "16", "-q"], &lines);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let body = String::from_utf8(out.stdout).unwrap();
    let tags: Vec<String> = body
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().to_owned())
        .collect();
    let want: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    assert_eq!(tags, want);
}

#[test]
fn jsonl_has_one_record_per_input_line_in_order_with_typed_errors() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let long = format!("http://x.test/{}", "a".repeat(100_000));
    let input = format!(
        "# a comment\n\n{ok}\r\nfile:///etc/passwd\nftp://x.test/\nnot a url\n{long}\nhttp://nowhere.test/\n{st}\n{ok2}\n",
        ok = srv.url("/bytes/10"),
        st = srv.url("/status/404"),
        ok2 = srv.url("/bytes/3"),
    );
    let mut bytes = input.into_bytes();
    bytes.extend_from_slice(b"http://bad\xff.test/\nhttp://nul\x00.test/\n");
    let out = run_bytes(
        &[
            "fetch",
            "-f",
            "jsonl",
            "-q",
            "--retries",
            "0",
            "--resolve",
            "nowhere.test:80:",
        ],
        &bytes,
    );
    assert_eq!(code(&out), 1);
    let recs = jsonl(&out);
    let kinds: Vec<Option<&str>> = recs.iter().map(|r| r["error"]["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            None,
            Some("unsupported_scheme"),
            Some("unsupported_scheme"),
            Some("not_a_url"),
            Some("line_too_long"),
            Some("dns"),
            Some("http_status"),
            None,
            Some("invalid_utf8"),
            Some("nul_byte"),
        ]
    );
    // `index` is the line's number in the whole input: the comment and the blank line ahead
    // have 0 and 1.
    let idx: Vec<u64> = recs.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, (2..12).collect::<Vec<u64>>());
    assert_eq!(recs[0]["bytes"], 10);
    assert_eq!(recs[0]["status"], 200);
    assert_eq!(recs[6]["status"], 404);
}

/// Runs `greenfetch ARGS` with `stdin` (any bytes) as input, hermetically; no panic may reach
/// the user.
fn run_bytes(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = crate::util::greenfetch()
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .env_remove("HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the greenfetch binary runs");
    let mut sin = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = sin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "a panic reached the user: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn exit_codes() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let ok = run(&["fetch", "-q", "-u", &srv.url("/bytes/1")], "");
    assert_eq!(code(&ok), 0);
    let some_failed = run(
        &[
            "fetch",
            "-q",
            "--retries",
            "0",
            "-u",
            &srv.url("/status/500"),
        ],
        "",
    );
    assert_eq!(code(&some_failed), 1);
    let usage = run(&["fetch", "--no-such-flag"], "");
    assert_eq!(code(&usage), 2);
    let bad_value = run(&["fetch", "--shard", "5/4"], "");
    assert_eq!(code(&bad_value), 2);
    let missing_file = run(&["fetch", "/nonexistent/urls.txt"], "");
    assert_eq!(code(&missing_file), 2);
}

#[test]
fn files_stdin_dash_and_url_args_are_read_in_that_order() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let dir = tempdir();
    let f = dir.join("urls.txt");
    std::fs::write(&f, format!("{}\r\n", srv.url("/delay/0/file"))).unwrap();
    let out = run(
        &[
            "fetch",
            "-q",
            "-u",
            &srv.url("/delay/0/arg"),
            f.to_str().unwrap(),
            "-",
        ],
        &format!("{}\n", srv.url("/delay/0/stdin")),
    );
    assert_eq!(code(&out), 0);
    let body = String::from_utf8(out.stdout).unwrap();
    let tags: Vec<&str> = body
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(tags, ["arg", "file", "stdin"]);
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "greenfetch-cli-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `--resolve '*:PORT:ADDR'` sends every name on PORT to ADDR (an exact pin still wins), and
/// a run over many distinct hosts with the per-host limits on gives every input its outcome.
#[test]
fn a_wildcard_resolve_pins_every_name_and_an_exact_pin_wins() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let port = srv.addr().port();
    // First on `localhost` alone, which the system would resolve locally: a wildcard with no
    // address must make it fail, and an exact pin must win over that wildcard. Only then are
    // the `.test` names below sent behind a wildcard, so a broken wildcard never makes them
    // lookups that leave the machine.
    let nowhere = format!("*:{port}:");
    let url = format!("http://localhost:{port}/bytes/3\n");
    let out = run(
        &[
            "fetch",
            "-q",
            "-f",
            "jsonl",
            "--retries",
            "0",
            "--resolve",
            &nowhere,
        ],
        &url,
    );
    assert_eq!(
        jsonl(&out)[0]["error"]["kind"],
        "dns",
        "the wildcard was not used"
    );
    let exact = format!("localhost:{port}:127.0.0.1");
    let out = run(
        &[
            "fetch",
            "-q",
            "-f",
            "jsonl",
            "--resolve",
            &nowhere,
            "--resolve",
            &exact,
        ],
        &url,
    );
    assert_eq!(jsonl(&out)[0]["status"], 200, "the exact pin did not win");

    let lines: String = (0..200)
        .map(|i| format!("http://h{i}.test:{port}/bytes/{}\n", i % 7))
        .chain(std::iter::once(format!(
            "http://gone.test:{port}/bytes/1\n"
        )))
        .collect();
    let wildcard = format!("*:{port}:127.0.0.1");
    let gone = format!("gone.test:{port}:");
    let out = run(
        &[
            "fetch",
            "-q",
            "-f",
            "jsonl",
            "--retries",
            "0",
            "-c",
            "20",
            "--per-host",
            "1",
            "--per-host-rate",
            "1000/s",
            "--resolve",
            &gone,
            "--resolve",
            &wildcard,
        ],
        &lines,
    );
    let recs = jsonl(&out);
    assert_eq!(recs.len(), 201, "{}", String::from_utf8_lossy(&out.stderr));
    for (i, r) in recs.iter().take(200).enumerate() {
        assert_eq!(r["index"], i as u64);
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(r["bytes"], (i % 7) as u64);
    }
    assert_eq!(recs[200]["error"]["kind"], "dns");
}

#[test]
fn shards_cover_every_input_exactly_once() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let port = srv.addr().port();
    let hosts: Vec<String> = (0..12).map(|h| format!("h{h}.test")).collect();
    let mut args_resolve = Vec::new();
    for h in &hosts {
        args_resolve.push("--resolve".to_owned());
        args_resolve.push(format!("{h}:{port}:127.0.0.1"));
    }
    let lines: String = (0..60)
        .map(|i| format!("http://{}:{port}/bytes/{i}\n", hosts[i % hosts.len()]))
        .collect();
    let mut seen = Vec::new();
    for k in 0..4 {
        let shard = format!("{k}/4");
        let mut args: Vec<&str> = vec!["fetch", "-q", "-f", "jsonl", "--shard", &shard];
        args.extend(args_resolve.iter().map(String::as_str));
        let out = run(&args, &lines);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        for r in jsonl(&out) {
            let host = r["url"]
                .as_str()
                .unwrap()
                .split('/')
                .nth(2)
                .unwrap()
                .to_owned();
            seen.push((r["index"].as_u64().unwrap(), host, k));
        }
    }
    let mut idx: Vec<u64> = seen.iter().map(|s| s.0).collect();
    idx.sort();
    assert_eq!(idx, (0..60).collect::<Vec<u64>>());
    // All of a host's lines land on one shard.
    for h in &hosts {
        let shards: std::collections::BTreeSet<_> = seen
            .iter()
            .filter(|s| s.1.starts_with(h.as_str()))
            .map(|s| s.2)
            .collect();
        assert_eq!(shards.len(), 1, "{h} split across shards {shards:?}");
    }
}

#[test]
fn output_dir_gets_one_file_per_input() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let dir = tempdir();
    let lines = format!("{}\n{}\n", srv.url("/bytes/5"), srv.url("/bytes/7"));
    let out = run(&["fetch", "-q", "-o", dir.to_str().unwrap()], &lines);
    assert_eq!(code(&out), 0);
    assert!(out.stdout.is_empty());
    let mut sizes: Vec<(String, u64)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    sizes.sort();
    assert_eq!(sizes.len(), 2);
    assert!(sizes[0].0.starts_with("000000-"));
    assert_eq!((sizes[0].1, sizes[1].1), (5, 7));
}

#[test]
fn unordered_gives_every_result_once() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let lines: String = (0..20)
        .map(|i| format!("{}\n", srv.url(&format!("/delay/{}/{i}", (20 - i) * 3))))
        .collect();
    let out = run(
        &["fetch", "-q", "--unordered", "-c", "20", "-f", "jsonl"],
        &lines,
    );
    assert_eq!(code(&out), 0);
    let mut idx: Vec<u64> = jsonl(&out)
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    idx.sort();
    assert_eq!(idx, (0..20).collect::<Vec<u64>>());
}

#[test]
fn limits_and_redirects() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let lines = format!(
        "{}\n{}\n{}\n{}\n",
        srv.url("/bytes/2000"),
        srv.url("/redirect/3"),
        srv.url("/fault/loop"),
        srv.url("/redirect/2"),
    );
    let out = run(
        &[
            "fetch",
            "-q",
            "-f",
            "jsonl",
            "--max-body",
            "1000",
            "--max-redirects",
            "5",
        ],
        &lines,
    );
    let recs = jsonl(&out);
    assert_eq!(recs[0]["error"]["kind"], "body_too_large");
    assert_eq!(recs[1]["status"], 200);
    assert!(
        recs[1]["final_url"]
            .as_str()
            .unwrap()
            .ends_with("/redirect/0")
    );
    assert_eq!(recs[2]["error"]["kind"], "too_many_redirects");
    let nofollow = run(
        &[
            "fetch",
            "-q",
            "-f",
            "jsonl",
            "--no-follow",
            "-u",
            &srv.url("/redirect/2"),
        ],
        "",
    );
    let r = &jsonl(&nofollow)[0];
    assert_eq!(r["status"], 302);
    assert!(r["error"].is_null());
}

#[test]
fn retries_count_attempts_on_transient_statuses() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let out = run(
        &[
            "fetch",
            "-q",
            "-f",
            "jsonl",
            "--retries",
            "2",
            "-u",
            &srv.url("/status/503?retry-after=0"),
        ],
        "",
    );
    let r = &jsonl(&out)[0];
    assert_eq!(r["attempts"], 3);
    assert_eq!(r["error"]["kind"], "http_status");
    let no_retry = run(
        &[
            "fetch",
            "-q",
            "-f",
            "jsonl",
            "--retries",
            "2",
            "-u",
            &srv.url("/status/404"),
        ],
        "",
    );
    assert_eq!(jsonl(&no_retry)[0]["attempts"], 1);
}

#[test]
fn faults_get_their_own_error_kinds_and_spare_the_rest() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let lines = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\nhttp://127.0.0.1:1/\n",
        srv.url("/bytes/4"),
        srv.url("/fault/reset"),
        srv.url("/fault/truncate"),
        srv.url("/fault/hang"),
        srv.url("/fault/endless"),
        srv.url("/bytes/6"),
    );
    let out = run(
        &[
            "fetch",
            "-q",
            "-f",
            "jsonl",
            "--retries",
            "0",
            "--timeout",
            "1s",
            "--max-body",
            "1MiB",
        ],
        &lines,
    );
    assert_eq!(code(&out), 1);
    let recs = jsonl(&out);
    assert_eq!(recs.len(), 7);
    let kinds: Vec<Option<&str>> = recs.iter().map(|r| r["error"]["kind"].as_str()).collect();
    assert_eq!(kinds[0], None);
    assert!(
        matches!(
            kinds[1],
            Some("connection_reset" | "truncated" | "protocol")
        ),
        "{kinds:?}"
    );
    assert_eq!(kinds[2], Some("truncated"));
    assert_eq!(kinds[3], Some("timeout"));
    assert!(
        matches!(kinds[4], Some("body_too_large" | "timeout")),
        "{kinds:?}"
    );
    assert_eq!(kinds[5], None);
    assert_eq!(kinds[6], Some("connect"));
    assert_eq!(recs[5]["bytes"], 6);
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let lines: String = (0..2000)
        .map(|i| format!("{}\n", srv.url(&format!("/delay/0/{i}"))))
        .collect();
    let mut child = crate::util::greenfetch()
        .args(["fetch", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = sin.write_all(lines.as_bytes());
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 2];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"0\n");
    drop(stdout); // like `| head -1`
    let status = child.wait().unwrap();
    feeder.join().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "stderr: {err}"
    );
}

#[test]
fn a_tty_less_empty_stdin_is_just_no_input() {
    let out = run(&["fetch", "-q"], "");
    assert_eq!(code(&out), 0);
    assert!(out.stdout.is_empty());
}

#[test]
fn per_host_limit_keeps_one_connection_to_the_host() {
    // Structure, not speed: with --per-host 1 the five requests take turns on one keep-alive
    // connection; without it, five run at once on five connections.
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let lines: String = (0..5)
        .map(|i| format!("{}\n", srv.url(&format!("/delay/50/{i}"))))
        .collect();
    let out = run(&["fetch", "-q", "-c", "5", "--per-host", "1"], &lines);
    assert_eq!(code(&out), 0);
    assert_eq!(srv.connections(), 1);
    let free = FixtureServer::start("127.0.0.1:0").unwrap();
    let lines: String = (0..5)
        .map(|i| format!("{}\n", free.url(&format!("/delay/200/{i}"))))
        .collect();
    let out = run(&["fetch", "-q", "-c", "5"], &lines);
    assert_eq!(code(&out), 0);
    assert_eq!(free.connections(), 5);
}

#[test]
fn rate_spaces_the_starts() {
    // 5 requests at 20/s start 50 ms apart: the run cannot end before 4 gaps have passed.
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let lines: String = (0..5)
        .map(|i| format!("{}\n", srv.url(&format!("/bytes/{i}"))))
        .collect();
    let t0 = std::time::Instant::now();
    let out = run(&["fetch", "-q", "--rate", "20/s"], &lines);
    assert_eq!(code(&out), 0);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(200));
}

#[test]
fn ctrl_c_flushes_the_finished_prefix_and_exits_130() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    // Three quick answers, then one that hangs: the prefix is done, the rest never will be.
    let lines = format!(
        "{}\n{}\n{}\n{}\n{}\n",
        srv.url("/delay/0/a"),
        srv.url("/delay/0/b"),
        srv.url("/delay/0/c"),
        srv.url("/fault/hang"),
        srv.url("/delay/0/d"),
    );
    let mut child = crate::util::greenfetch()
        .args(["fetch", "-q", "--timeout", "60s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut prefix = [0u8; 6];
    stdout.read_exact(&mut prefix).unwrap(); // the three quick bodies are out
    assert_eq!(&prefix, b"a\nb\nc\n");
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        rest.is_empty(),
        "nothing past the unfinished line: {rest:?}"
    );
}

#[test]
fn the_backdoor_reports_stats_and_resizes_the_pool() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let backdoor = format!("127.0.0.1:{port}");
    let mut child = crate::util::greenfetch()
        .args(["fetch", "-q", "-c", "3", "--backdoor", &backdoor])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    sin.write_all(format!("{}\n", srv.url("/delay/0/first")).as_bytes())
        .unwrap();
    sin.flush().unwrap();
    let mut stdout = BufReaderWrap(std::io::BufReader::new(child.stdout.take().unwrap()));
    assert_eq!(stdout.line(), "first\n"); // the run is under way, and so is the backdoor
    let conn = std::net::TcpStream::connect(&backdoor).unwrap();
    let mut r = std::io::BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    let mut ask = |cmd: Option<&str>| -> String {
        if let Some(cmd) = cmd {
            w.write_all(format!("{cmd}\n").as_bytes()).unwrap();
        }
        let mut acc = String::new();
        loop {
            let mut b = [0u8; 1];
            if r.read(&mut b).unwrap() == 0 {
                break;
            }
            acc.push(b[0] as char);
            if acc.ends_with(">>> ") {
                break;
            }
        }
        acc
    };
    let banner = ask(None);
    assert!(banner.contains("backdoor"), "{banner}");
    let stats = ask(Some("stats"));
    assert!(stats.contains("done 1 failed 0"), "{stats}");
    assert!(ask(Some("resize 7")).contains("size 7"));
    assert!(ask(Some("pool")).contains("size 7"));
    drop(sin); // end of input: the run ends
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

struct BufReaderWrap<R>(std::io::BufReader<R>);

impl<R: Read> BufReaderWrap<R> {
    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut s = String::new();
        self.0.read_line(&mut s).unwrap();
        s
    }
}

#[test]
fn cacert_trusts_a_private_certificate_in_pem_and_der() {
    let (addr, der) = crate::green_ureq::tls_server("private hello");
    let dir = tempdir();
    let der_file = dir.join("ca.der");
    std::fs::write(&der_file, &der).unwrap();
    let pem_file = dir.join("ca.pem");
    let b64 = base64_lines(&der);
    std::fs::write(
        &pem_file,
        format!("-----BEGIN CERTIFICATE-----\n{b64}-----END CERTIFICATE-----\n"),
    )
    .unwrap();
    let url = format!("https://127.0.0.1:{}/", addr.port());
    for ca in [&der_file, &pem_file] {
        let out = run(
            &["fetch", "-q", "--cacert", ca.to_str().unwrap(), "-u", &url],
            "",
        );
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, b"private hello");
    }
    let untrusted = run(
        &["fetch", "-q", "-f", "jsonl", "--retries", "0", "-u", &url],
        "",
    );
    assert_eq!(jsonl(&untrusted)[0]["error"]["kind"], "tls");
}

/// Standard base64 in 64-column lines, for writing a PEM file in the test.
fn base64_lines(bytes: &[u8]) -> String {
    use base64::Engine;
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::new();
    for line in s.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out
}

/// `greenfetch completions SHELL` and `greenfetch man` come from the same clap definitions, so
/// they name every command and option.
#[test]
fn completions_and_man_page_name_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell], "");
        assert_eq!(code(&out), 0, "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        // fish spells options `-l journal`, the others `--journal`.
        for word in [
            "titles",
            "serve",
            "bench",
            "merge",
            "journal",
            "no-discover",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = run(&["completions", "tcsh"], "");
    assert_eq!(code(&out), 2, "an unknown shell is a usage error");
    let out = run(&["man"], "");
    assert_eq!(code(&out), 0);
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH greenfetch 1"),
        "{page:.200}"
    );
    for word in ["fetch", "titles", "serve", "bench", "merge", "fixture"] {
        assert!(page.contains(word), "the man page lacks {word}");
    }
}
