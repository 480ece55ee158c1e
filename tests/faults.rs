//! The fault matrix: one `fetch` run and one `titles` run over a list that mixes every fixture
//! fault, every kind of bad line, protocol mix-ups (TLS to a plain port, plain HTTP to a TLS
//! port) and good URLs. Every good URL succeeds, every bad one carries its error kind, there is
//! one record per line in input order, the run ends within its timeout-and-retry bound, and the
//! exit code is 1.

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use greenfetch::server::Server;
use greenfetch::server::fixture::FixtureServer;
use serde_json::Value;

/// What a line must come to: success, or one of these error kinds.
enum Want {
    Ok,
    Kind(&'static [&'static str]),
}

/// The per-request timeout and retries of both runs, and the bound they imply for one input:
/// every attempt may time out, plus the backoff between them (capped at the default 30 s
/// only by Retry-After; here the base of 250 ms doubling).
const TIMEOUT: Duration = Duration::from_secs(2);
const RETRIES: u32 = 1;

/// Runs `greenfetch CMD ARGS` with `input` on its stdin (fed from a thread, so a large input
/// cannot deadlock against the output), and how long it took. Shared with `rawfaults`.
pub(crate) fn run(cmd: &str, args: &[&str], input: &[u8]) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = crate::util::greenfetch()
        .arg(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (out, start.elapsed())
}

/// The lines every run shares: bad lines, network faults, protocol faults. `srv` is the
/// fixture server, `tls` a TLS-only server.
fn common(srv: &Server, tls: std::net::SocketAddr) -> Vec<(Vec<u8>, Want)> {
    let plain_port = srv.addr().port();
    let u = |p: &str| srv.url(p).into_bytes();
    let long = format!("http://x.test/{}", "a".repeat(100_000)).into_bytes();
    vec![
        // Every kind of bad line.
        (b"not a url".to_vec(), Want::Kind(&["not_a_url"])),
        (
            b"ftp://x.test/f".to_vec(),
            Want::Kind(&["unsupported_scheme"]),
        ),
        (long, Want::Kind(&["line_too_long"])),
        (
            b"http://\xff\xfe.test/".to_vec(),
            Want::Kind(&["invalid_utf8"]),
        ),
        (b"http://a\0b.test/".to_vec(), Want::Kind(&["nul_byte"])),
        // Network and HTTP faults.
        (
            u("/fault/reset"),
            Want::Kind(&["connection_reset", "truncated", "protocol"]),
        ),
        (u("/fault/truncate"), Want::Kind(&["truncated"])), // the server closes mid-body
        (u("/fault/hang"), Want::Kind(&["timeout"])),
        (
            u("/fault/endless"),
            Want::Kind(&["body_too_large", "timeout"]),
        ),
        (u("/fault/loop"), Want::Kind(&["too_many_redirects"])),
        (u("/fault/headers"), Want::Kind(&["protocol"])), // 10,000 header lines
        (u("/fault/chunked"), Want::Kind(&["protocol"])), // a chunk size that is not hex
        (u("/fault/gzip/67108864"), Want::Kind(&["body_too_large"])), // 64 MiB from ~400 KiB
        (
            u("/fault/deflate/67108864"),
            Want::Kind(&["body_too_large"]),
        ), // the same, zlib
        (u("/fault/br/1073741824"), Want::Kind(&["body_too_large"])), // 1 GiB from 809 B
        (u("/fault/zstd/1073741824"), Want::Kind(&["body_too_large"])), // 1 GiB from 32 KiB
        (u("/status/500"), Want::Kind(&["http_status"])),
        (u("/status/503?retry-after=0"), Want::Kind(&["http_status"])),
        (b"http://127.0.0.1:1/".to_vec(), Want::Kind(&["connect"])),
        (b"http://nowhere.test/".to_vec(), Want::Kind(&["dns"])),
        (
            format!("https://127.0.0.1:{plain_port}/bytes/3").into_bytes(),
            Want::Kind(&["tls"]),
        ),
        (
            format!("http://127.0.0.1:{}/", tls.port()).into_bytes(),
            Want::Kind(&["protocol", "connection_reset", "truncated", "timeout"]),
        ),
    ]
}

fn check(name: &str, lines: &[(Vec<u8>, Want)], out: &Output, took: Duration) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), lines.len(), "{name}: one record per line");
    let mut bad = Vec::new();
    for (i, ((line, want), rec)) in lines.iter().zip(&recs).enumerate() {
        assert_eq!(rec["index"], i as u64, "{name}: in input order");
        let kind = rec["error"]["kind"].as_str();
        let shown = String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned();
        match (want, kind) {
            (Want::Ok, None) => {}
            (Want::Kind(kinds), Some(k)) if kinds.contains(&k) => {}
            (Want::Ok, Some(k)) => bad.push(format!("#{i} {shown}: failed with {k}: {rec}")),
            (Want::Kind(kinds), k) => bad.push(format!(
                "#{i} {shown}: {k:?}, wanted one of {kinds:?}: {rec}"
            )),
        }
    }
    assert!(bad.is_empty(), "{name}:\n{}", bad.join("\n"));
    // Liveness, not speed: every input runs at once (-c is larger than the list), so the run
    // ends within one input's bound, (retries + 1) timeouts plus backoff, with a wide margin
    // for a loaded machine. A hang would blow far past it.
    let bound = TIMEOUT * (RETRIES + 1) + Duration::from_secs(1);
    assert!(
        took < bound * 4,
        "{name}: took {took:?}, the bound is {bound:?}"
    );
}

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "-q",
        "-f",
        "jsonl",
        "-c",
        "64",
        "--timeout",
        "2s",
        "--connect-timeout",
        "2s",
        "--retries",
        "1",
        "--max-body",
        "1MiB",
        "--resolve",
        "nowhere.test:80:",
    ];
    a.extend_from_slice(extra);
    a
}

fn to_input(lines: &[(Vec<u8>, Want)]) -> Vec<u8> {
    let mut input = Vec::new();
    for (l, _) in lines {
        input.extend_from_slice(l);
        input.push(b'\n');
    }
    input
}

#[test]
fn fetch_fault_matrix() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let (tls, _) = crate::green_ureq::tls_server("tls only");
    let mut lines = vec![(srv.url("/bytes/10").into_bytes(), Want::Ok)];
    lines.extend(common(&srv, tls));
    lines.push((srv.url("/slow/2000/100").into_bytes(), Want::Ok));
    lines.push((srv.url("/fault/gzip/100000").into_bytes(), Want::Ok)); // gzip under the cap
    lines.push((srv.url("/redirect/3").into_bytes(), Want::Ok));
    lines.push((srv.url("/feed/atom/z").into_bytes(), Want::Ok));
    // A body longer than its Content-Length: the 10 bytes are the answer, and the connection,
    // with the rest in the way, is not used again (the requests after it still succeed).
    lines.push((srv.url("/fault/lie").into_bytes(), Want::Ok));
    for i in 0..4 {
        lines.push((
            srv.url(&format!("/bytes/{}", 20 + i)).into_bytes(),
            Want::Ok,
        ));
    }
    let (out, took) = run("fetch", &args(&[]), &to_input(&lines));
    check("fetch", &lines, &out, took);
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let n = lines.len();
    assert_eq!(recs[n - 8]["bytes"], 100_000, "the gzip body is inflated");
    assert_eq!(recs[n - 9]["bytes"], 2000, "the slow body arrives whole");
    assert_eq!(recs[n - 5]["bytes"], 10, "a lying length is believed");
    for (i, rec) in recs[n - 4..].iter().enumerate() {
        assert_eq!(rec["bytes"], 20 + i as u64, "{rec}");
    }
}

#[test]
fn titles_fault_matrix() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let (tls, _) = crate::green_ureq::tls_server("tls only");
    let mut lines = vec![(srv.url("/feed/rss/a").into_bytes(), Want::Ok)];
    lines.extend(common(&srv, tls));
    lines.push((srv.url("/page/b").into_bytes(), Want::Ok));
    lines.push((
        srv.url("/page/c?feed=broken").into_bytes(),
        Want::Kind(&["http_status"]),
    ));
    lines.push((
        srv.url("/bytes/10").into_bytes(),
        Want::Kind(&["not_a_feed"]),
    ));
    lines.push((srv.url("/feed/json/d").into_bytes(), Want::Ok));
    let (out, took) = run("titles", &args(&[]), &to_input(&lines));
    check("titles", &lines, &out, took);
}
