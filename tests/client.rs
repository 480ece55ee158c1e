//! greenfetch's HTTP client against scripted servers (`util::Scripted`: raw bytes on plain
//! threads, standing in for servers nobody here wrote), through the binary: what curl does with
//! 304s, 3xx without Location, big heads, credentials on redirects, duplicate headers, request
//! methods and bodies, HTTP/1.0, and error messages.
//!
//! Every server binds 127.0.0.1:0; the binary runs hermetically (`util::greenfetch`).

use std::process::Output;

use serde_json::Value;

use crate::util::{Scripted, answer, records, run_env};

/// Runs `greenfetch ARGS` (stdin empty) and returns its output.
fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

fn jsonl(urls: &[&str], extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["fetch", "-q", "-f", "jsonl", "--retries", "0"];
    for u in urls {
        args.extend(["-u", u]);
    }
    args.extend(extra);
    records(&run(&args))
}

#[test]
fn a_304_and_a_3xx_without_location_are_the_answer() {
    // curl prints both and succeeds; neither is a redirect it could follow.
    let srv = Scripted::start(|req| match req.line() {
        l if l.starts_with("GET /304 ") => {
            b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n".to_vec()
        }
        _ => answer(
            "300 Multiple Choices",
            &["Content-Type: text/plain"],
            b"pick one",
        ),
    });
    let (a, b) = (srv.url("/304"), srv.url("/300"));
    let out = run(&["fetch", "-q", "-f", "jsonl", "-u", &a, "-u", &b]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = records(&out);
    assert_eq!(
        (r[0]["status"].as_u64(), r[0]["bytes"].as_u64()),
        (Some(304), Some(0))
    );
    assert!(r[0]["error"].is_null());
    assert_eq!(
        (r[1]["status"].as_u64(), r[1]["bytes"].as_u64()),
        (Some(300), Some(8))
    );
    assert!(r[1]["error"].is_null());
    let raw = run(&["fetch", "-q", "-u", &b]);
    assert_eq!(raw.stdout, b"pick one");
}

#[test]
fn request_heads_of_any_size_go_out() {
    // The input accepts URLs up to 64 KiB; with a 20 KB header on top the head is ~80 KB.
    let srv = Scripted::start(|req| answer("200 OK", &[], req.line().len().to_string().as_bytes()));
    let long = format!("/{}", "a".repeat(60_000));
    let url = srv.url(&long);
    let big = format!("X-Big: {}", "b".repeat(20_000));
    let r = jsonl(&[&url], &["-H", &big]);
    assert!(r[0]["error"].is_null(), "{}", r[0]);
    let seen = srv.seen();
    assert_eq!(seen[0].line(), format!("GET {long} HTTP/1.1"));
    assert_eq!(seen[0].header("x-big").map(|v| v.len()), Some(20_000));
}

#[test]
fn response_heads_up_to_curls_limits_are_read_and_larger_ones_are_a_protocol_error() {
    let srv = Scripted::start(|req| {
        let filler = |n: usize, size: usize| -> Vec<String> {
            (0..n)
                .map(|i| format!("X-Filler-{i}: {}", "f".repeat(size)))
                .collect()
        };
        let lines = match req.line().split(' ').nth(1).unwrap_or("") {
            // 250 KiB in 5 lines of 50 KiB, and 4,000 short lines: both within curl's limits.
            "/wide" => filler(5, 50 * 1024),
            "/many" => filler(4_000, 8),
            // A line of 101 KiB, and 320 KiB in all: past them.
            "/long-line" => filler(1, 101 * 1024),
            _ => filler(8, 40 * 1024),
        };
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        answer("200 OK", &refs, b"ok")
    });
    let urls: Vec<String> = ["/wide", "/many", "/long-line", "/huge"]
        .iter()
        .map(|p| srv.url(p))
        .collect();
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let r = jsonl(&refs, &[]);
    for ok in &r[..2] {
        assert!(ok["error"].is_null(), "{ok}");
        assert_eq!(ok["bytes"], 2);
    }
    for bad in &r[2..] {
        assert_eq!(bad["error"]["kind"], "protocol", "{bad}");
        let msg = bad["error"]["message"].as_str().unwrap();
        assert!(msg.contains("response head too large"), "{msg}");
    }
}

#[test]
fn credentials_stay_on_the_same_origin_unless_trusted() {
    // curl keeps -H Authorization (and --user) while a redirect stays on the same scheme, host
    // and port, and drops them when it leaves; --location-trusted keeps them everywhere.
    let away = Scripted::start(|_| answer("200 OK", &[], b"away"));
    let away_url = away.url("/landed");
    let home = Scripted::start(
        move |req| match req.line().split(' ').nth(1).unwrap_or("") {
            "/start" => answer("302 Found", &["Location: /same"], b""),
            "/same" => answer("302 Found", &[&format!("Location: {away_url}")], b""),
            _ => answer("404 Not Found", &[], b""),
        },
    );
    let start = home.url("/start");
    for (flags, away_gets_it) in [(&[][..], false), (&["--location-trusted"][..], true)] {
        let mut extra = vec!["-H", "Authorization: Bearer sesame"];
        extra.extend(flags);
        let r = jsonl(&[&start], &extra);
        assert!(r[0]["error"].is_null(), "{}", r[0]);
        assert_eq!(r[0]["final_url"], away.url("/landed"));
        let home_seen = home.seen();
        let at_home: Vec<Option<String>> = home_seen
            .iter()
            .rev()
            .take(2)
            .map(|s| s.header("authorization"))
            .collect();
        assert_eq!(at_home, vec![Some("Bearer sesame".to_owned()); 2]);
        let away_seen = away.seen();
        let last = away_seen.last().unwrap();
        assert_eq!(
            last.header("authorization").is_some(),
            away_gets_it,
            "{flags:?}"
        );
    }
    // --user is Basic, under the same rule.
    let r = jsonl(&[&start], &["--user", "ann:pw"]);
    assert!(r[0]["error"].is_null());
    let home_seen = home.seen();
    assert_eq!(
        home_seen.last().unwrap().header("authorization").as_deref(),
        Some("Basic YW5uOnB3")
    );
    assert!(
        away.seen()
            .last()
            .unwrap()
            .header("authorization")
            .is_none()
    );
}

#[test]
fn of_two_content_types_the_last_is_reported() {
    let srv = Scripted::start(|_| {
        answer(
            "200 OK",
            &["Content-Type: text/plain", "Content-Type: application/json"],
            b"{}",
        )
    });
    let r = jsonl(&[&srv.url("/")], &[]);
    assert_eq!(r[0]["content_type"], "application/json");
}

#[test]
fn an_http_1_0_answer_without_length_ends_with_the_connection() {
    let srv = Scripted::start(|_| {
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil the end"
            .to_vec()
    });
    let url = srv.url("/");
    let out = run(&["fetch", "-q", "-u", &url, "-u", &url]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"until the enduntil the end");
}

#[test]
fn chunked_bodies_with_extensions_and_trailers() {
    let srv = Scripted::start(|_| {
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n".to_vec()
    });
    let url = srv.url("/");
    let out = run(&["fetch", "-q", "-u", &url, "-u", &url]);
    assert_eq!(out.stdout, b"hello worldhello world");
    // Both requests went over one keep-alive connection: the trailer was read to its end.
    assert_eq!(srv.seen().len(), 2);
}

#[test]
fn methods_and_bodies_as_curl_sends_them() {
    let srv = Scripted::start(|req| answer("200 OK", &[], &req.body));
    let url = srv.url("/echo");
    let dir = std::env::temp_dir().join(format!("greenfetch-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body.bin");
    std::fs::write(&file, b"line one\r\nline two\n\0bytes").unwrap();
    let at_file = format!("@{}", file.display());

    // -d: form-encoded POST, pieces joined with '&', CR/LF dropped from @FILE.
    let out = run(&["fetch", "-q", "-u", &url, "-d", "a=1", "-d", &at_file]);
    assert_eq!(out.stdout, b"a=1&line oneline two\0bytes");
    let seen = srv.seen();
    let req = seen.last().unwrap();
    assert_eq!(req.line(), "POST /echo HTTP/1.1");
    assert_eq!(
        req.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    // --data-binary @FILE: the bytes as they are; -X changes the method.
    let out = run(&[
        "fetch",
        "-q",
        "-u",
        &url,
        "-X",
        "PUT",
        "--data-binary",
        &at_file,
    ]);
    assert_eq!(out.stdout, b"line one\r\nline two\n\0bytes");
    assert_eq!(srv.seen().last().unwrap().line(), "PUT /echo HTTP/1.1");
    // --json sets both content type and accept.
    let out = run(&["fetch", "-q", "-u", &url, "--json", "{\"a\":1}"]);
    assert_eq!(out.stdout, b"{\"a\":1}");
    let seen = srv.seen();
    let req = seen.last().unwrap();
    assert_eq!(
        req.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(req.header("accept").as_deref(), Some("application/json"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn head_prints_every_head_of_the_chain() {
    // curl -I -L prints the head of each answer it met.
    let srv = Scripted::start(|req| match req.line() {
        "HEAD /a HTTP/1.1" => answer("301 Moved Permanently", &["Location: /b"], b""),
        "HEAD /b HTTP/1.1" => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Y: z\r\n\r\n".to_vec(),
        _ => answer("400 Bad Request", &[], b""),
    });
    let out = run(&["fetch", "-q", "-I", "-u", &srv.url("/a")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "HTTP/1.1 301 Moved Permanently\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Y: z\r\n\r\n"
    );
}

#[test]
fn a_post_redirected_follows_curls_method_rules() {
    // 301/302/303: the next request is a GET without the body; 307/308 keep both.
    let srv = Scripted::start(|req| {
        let path = req.line().split(' ').nth(1).unwrap_or("").to_owned();
        match path.strip_prefix("/go/") {
            Some(code) => answer(&format!("{code} Redirect"), &["Location: /echo"], b""),
            None => answer(
                "200 OK",
                &[],
                format!("{} {}", req.line(), String::from_utf8_lossy(&req.body)).as_bytes(),
            ),
        }
    });
    for (code, want) in [
        ("301", "GET /echo HTTP/1.1 "),
        ("302", "GET /echo HTTP/1.1 "),
        ("303", "GET /echo HTTP/1.1 "),
        ("307", "POST /echo HTTP/1.1 x=1"),
        ("308", "POST /echo HTTP/1.1 x=1"),
    ] {
        let out = run(&[
            "fetch",
            "-q",
            "-d",
            "x=1",
            "-u",
            &srv.url(&format!("/go/{code}")),
        ]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{code}");
    }
}

#[test]
fn bad_request_options_are_usage_errors_before_any_fetch() {
    let srv = Scripted::start(|_| answer("200 OK", &[], b""));
    let url = srv.url("/");
    for args in [
        vec!["-X", "GE T"],
        vec!["--data-binary", "@/nonexistent/greenfetch-test-file"],
        vec!["--user", "nocolon"],
        vec!["-I", "-d", "x"],
        vec!["-H", "Bad Name: x"],
    ] {
        let mut all = vec!["fetch", "-q", "-u", &url];
        all.extend(&args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("greenfetch: "), "{args:?}: {stderr}");
    }
    assert!(
        srv.seen().is_empty(),
        "nothing is fetched after a usage error"
    );
}

#[test]
fn error_messages_name_their_kind_once() {
    let srv = Scripted::start(|_| b"garbage\r\n\r\n".to_vec());
    let garbage = srv.url("/");
    let r = jsonl(&["http://127.0.0.1:9/", &garbage], &[]);
    assert_eq!(r[0]["error"]["kind"], "connect");
    assert_eq!(
        r[0]["error"]["message"],
        "connection refused by 127.0.0.1:9"
    );
    assert_eq!(r[1]["error"]["kind"], "protocol");
    for rec in &r {
        let kind = rec["error"]["kind"].as_str().unwrap();
        let msg = rec["error"]["message"].as_str().unwrap();
        assert!(!msg.starts_with(&format!("{kind}:")), "{msg}");
        assert!(!msg.contains("os error"), "{msg}");
    }
    // The text format says the kind once too.
    let out = run(&["fetch", "-q", "--retries", "0", "-u", "http://127.0.0.1:9/"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "greenfetch: #0 http://127.0.0.1:9/: connect: connection refused by 127.0.0.1:9\n"
    );
}

#[test]
fn insecure_accepts_an_untrusted_certificate_and_says_so_once() {
    let (addr, _der) = crate::green_ureq::tls_server("self-signed hello");
    let url = format!("https://127.0.0.1:{}/", addr.port());
    let checked = jsonl(&[&url], &[]);
    assert_eq!(checked[0]["error"]["kind"], "tls");
    let out = run(&["fetch", "-q", "-k", "-u", &url, "-u", &url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"self-signed helloself-signed hello");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("warning: --insecure").count(), 1, "{stderr}");
}

#[test]
fn per_host_rate_spaces_one_hosts_requests_and_not_anothers() {
    // Four requests to one host at 10/s: three gaps of 100 ms at least, however many run at
    // once (a lower bound is the promise; speed is not asserted).
    let srv = Scripted::start(|_| answer("200 OK", &[], b"."));
    let port = srv.addr.port();
    let one: Vec<String> = (0..4)
        .map(|i| format!("http://127.0.0.1:{port}/{i}"))
        .collect();
    let t0 = std::time::Instant::now();
    let mut args = vec!["fetch", "-q", "-c", "4", "--per-host-rate", "10/s"];
    for u in &one {
        args.extend(["-u", u.as_str()]);
    }
    let out = run(&args);
    assert_eq!(out.stdout, b"....");
    assert!(t0.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(srv.seen().len(), 4);
}

#[test]
fn robots_txt_is_fetched_once_per_origin_and_obeyed() {
    let srv = Scripted::start(|req| match req.line().split(' ').nth(1).unwrap_or("") {
        "/robots.txt" => answer(
            "200 OK",
            &["Content-Type: text/plain"],
            b"User-agent: *\nDisallow: /private\nAllow: /private/ok\n",
        ),
        _ => answer("200 OK", &[], b"page"),
    });
    let urls: Vec<String> = [
        "/private/x",
        "/public",
        "/private/ok",
        "/private",
        "/a",
        "/b",
    ]
    .iter()
    .map(|p| srv.url(p))
    .collect();
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let r = jsonl(&refs, &["--robots", "-c", "6"]);
    let kinds: Vec<&str> = r
        .iter()
        .map(|x| x["error"]["kind"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(kinds, ["robots", "ok", "ok", "robots", "ok", "ok"]);
    let msg = r[0]["error"]["message"].as_str().unwrap();
    assert!(msg.contains("Disallow: /private"), "{msg}");
    let seen = srv.seen();
    let asked = |p: &str| {
        seen.iter()
            .filter(|s| s.line().split(' ').nth(1) == Some(p))
            .count()
    };
    assert_eq!(asked("/robots.txt"), 1, "one robots.txt for the run");
    assert_eq!(
        asked("/private/x") + asked("/private"),
        0,
        "disallowed URLs are never fetched"
    );
    // A robots.txt that fails with 5xx disallows everything; a 404 allows everything.
    for (status, want) in [
        ("503 Service Unavailable", "robots"),
        ("404 Not Found", "ok"),
    ] {
        let srv = Scripted::start(
            move |req| match req.line().split(' ').nth(1).unwrap_or("") {
                "/robots.txt" => answer(status, &[], b""),
                _ => answer("200 OK", &[], b"page"),
            },
        );
        let r = jsonl(&[&srv.url("/x")], &["--robots"]);
        assert_eq!(
            r[0]["error"]["kind"].as_str().unwrap_or("ok"),
            want,
            "{status}"
        );
    }
}

/// Bodies in each content coding, made with the crates' encoders.
mod coded {
    use std::io::Write;

    pub(super) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    pub(super) fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    pub(super) fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    pub(super) fn br(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).unwrap();
        }
        out
    }

    pub(super) fn zstd(data: &[u8]) -> Vec<u8> {
        zstd::stream::encode_all(data, 3).unwrap()
    }
}

/// A server that answers each path with its own status line, header lines and body.
fn serve_paths(answers: Vec<(&'static str, Vec<String>, Vec<u8>)>) -> Scripted {
    Scripted::start(move |req| {
        let path = req.line().split(' ').nth(1).unwrap_or("");
        match answers.iter().find(|(p, _, _)| *p == path) {
            Some((_, headers, body)) => {
                let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
                answer("200 OK", &refs, body)
            }
            None => answer("404 Not Found", &[], b""),
        }
    })
}

/// The jsonl records of fetching the server's `paths`, with `extra` options, and their URLs.
fn fetch_paths(srv: &Scripted, paths: &[&str], extra: &[&str]) -> (Vec<Value>, Vec<String>) {
    let urls: Vec<String> = paths.iter().map(|p| srv.url(p)).collect();
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    (jsonl(&refs, extra), urls)
}

/// `fetch -q URL...` with extra options first.
fn fetch_raw(extra: &[&str], urls: &[String]) -> Output {
    let mut args = vec!["fetch", "-q"];
    args.extend(extra);
    for u in urls {
        args.extend(["-u", u.as_str()]);
    }
    run(&args)
}

fn ce(codings: &[&str]) -> Vec<String> {
    codings
        .iter()
        .map(|c| format!("Content-Encoding: {c}"))
        .collect()
}

#[test]
fn every_content_coding_is_decoded_and_all_are_asked_for() {
    use coded::*;
    let text: Vec<u8> = b"<p>a page, compressed as servers send it</p>\n".repeat(500);
    let answers = vec![
        ("/gzip", ce(&["gzip"]), gzip(&text)),
        ("/x-gzip", ce(&["x-gzip"]), gzip(&text)),
        ("/deflate", ce(&["deflate"]), zlib(&text)),
        ("/raw-deflate", ce(&["deflate"]), raw_deflate(&text)),
        ("/br", ce(&["br"]), br(&text)),
        ("/zstd", ce(&["zstd"]), zstd(&text)),
        // gzip applied first, then br: undone br first.
        ("/stacked", ce(&["gzip, br"]), br(&gzip(&text))),
        (
            "/lines",
            ce(&["deflate", "identity", "zstd"]),
            zstd(&zlib(&text)),
        ),
        // Content-Length: 0 with a coding, as some servers answer: empty, no error.
        ("/empty", ce(&["gzip"]), Vec::new()),
    ];
    let paths: Vec<&str> = answers.iter().map(|a| a.0).collect();
    let srv = serve_paths(answers);
    let (r, urls) = fetch_paths(&srv, &paths, &[]);
    for (rec, path) in r.iter().zip(&paths) {
        assert!(rec["error"].is_null(), "{path}: {rec}");
        let want = if *path == "/empty" { 0 } else { text.len() };
        assert_eq!(rec["bytes"], want, "{path}: {rec}");
    }
    // The bodies themselves, in input order.
    let out = fetch_raw(&[], &urls);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout == text.repeat(paths.len() - 1), "decoded bodies");
    for seen in srv.seen() {
        assert_eq!(
            seen.header("accept-encoding").as_deref(),
            Some("deflate, gzip, br, zstd")
        );
    }
    // HEAD: a coded answer with no body is no error.
    let out = run(&["fetch", "-q", "-I", "-u", &srv.url("/br")]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn raw_writes_the_bytes_as_sent_and_asks_for_no_coding() {
    let body = coded::br(&b"brotli, kept as it came ".repeat(100));
    let srv = serve_paths(vec![
        ("/br", ce(&["br"]), body.clone()),
        ("/unknown", ce(&["compress"]), b"LZW bytes".to_vec()),
    ]);
    let out = run(&[
        "fetch",
        "-q",
        "--raw",
        "-u",
        &srv.url("/br"),
        "-u",
        &srv.url("/unknown"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let mut want = body;
    want.extend_from_slice(b"LZW bytes");
    assert!(out.stdout == want, "the bytes as sent");
    assert!(
        srv.seen()
            .iter()
            .all(|s| s.header("accept-encoding").is_none())
    );
}

#[test]
fn an_unknown_or_broken_coding_is_a_decoding_error_never_the_encoded_bytes() {
    use coded::*;
    let text = b"0123456789abcdef".repeat(4_000);
    let mut corrupt_br = b"not brotli: ".to_vec();
    corrupt_br.extend(br(&text));
    let zst = zstd(&text);
    let cut_zstd = zst[..zst.len() - 5].to_vec();
    let mut trailing = gzip(&text);
    trailing.extend_from_slice(b"junk");
    let answers = vec![
        ("/compress", ce(&["compress"]), b"LZW bytes".to_vec()),
        ("/corrupt-br", ce(&["br"]), corrupt_br),
        ("/cut-zstd", ce(&["zstd"]), cut_zstd),
        ("/trailing", ce(&["gzip"]), trailing),
        (
            "/six",
            ce(&["gzip, gzip, gzip", "gzip, gzip, gzip"]),
            gzip(b"x"),
        ),
        ("/wrong", ce(&["gzip"]), zstd(&text)),
    ];
    let paths: Vec<&str> = answers.iter().map(|a| a.0).collect();
    let mut answers = answers;
    answers.push(("/empty-compress", ce(&["compress"]), Vec::new()));
    let srv = serve_paths(answers);
    let (r, urls) = fetch_paths(&srv, &paths, &[]);
    let messages: Vec<&str> = r
        .iter()
        .zip(&paths)
        .map(|(rec, path)| {
            assert_eq!(rec["error"]["kind"], "decoding", "{path}: {rec}");
            rec["error"]["message"].as_str().unwrap()
        })
        .collect();
    assert_eq!(messages[0], "unknown content coding \"compress\"");
    assert!(
        messages[1].starts_with("the br body does not decode"),
        "{}",
        messages[1]
    );
    assert_eq!(
        messages[2],
        "the zstd body ends inside its compressed stream (cut short)"
    );
    assert!(messages[3].starts_with("the gzip body "), "{}", messages[3]);
    assert_eq!(
        messages[4],
        "6 content codings stacked; greenfetch, like curl, undoes at most 5"
    );
    assert!(messages[5].starts_with("the gzip body "), "{}", messages[5]);
    // As raw output: nothing on stdout, the errors on stderr, exit 1.
    let out = fetch_raw(&["--retries", "0"], &urls);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no encoded bytes under a success");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches(": decoding: ").count(),
        paths.len(),
        "{stderr}"
    );
    // No body, nothing to decode: an unknown coding on an empty body or a HEAD answer is
    // no error.
    let (r, _) = fetch_paths(&srv, &["/empty-compress"], &[]);
    assert!(r[0]["error"].is_null(), "{}", r[0]);
    let out = fetch_raw(&["-I"], &urls[..1]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_bomb_in_any_coding_stops_at_max_body() {
    use greenfetch::client::decode::Coding;
    use greenfetch::server::fixture::bomb;
    // 256 MiB of zeros each, from a few bytes to 1.6 MiB; 512 KiB of zeros under the cap.
    let big = 256 << 20;
    let srv = serve_paths(vec![
        ("/gzip", ce(&["gzip"]), bomb(Coding::Gzip, big)),
        ("/deflate", ce(&["deflate"]), bomb(Coding::Deflate, big)),
        ("/br", ce(&["br"]), bomb(Coding::Br, big)),
        ("/zstd", ce(&["zstd"]), bomb(Coding::Zstd, big)),
        ("/small-br", ce(&["br"]), bomb(Coding::Br, 512 << 10)),
        ("/small-zstd", ce(&["zstd"]), bomb(Coding::Zstd, 512 << 10)),
    ]);
    let paths = [
        "/gzip",
        "/deflate",
        "/br",
        "/zstd",
        "/small-br",
        "/small-zstd",
    ];
    let (r, _) = fetch_paths(&srv, &paths, &["--max-body", "1MiB"]);
    for rec in &r[..4] {
        assert_eq!(rec["error"]["kind"], "body_too_large", "{rec}");
        assert_eq!(rec["error"]["message"], "body larger than 1048576 bytes");
    }
    for rec in &r[4..] {
        assert!(rec["error"].is_null(), "{rec}");
        assert_eq!(rec["bytes"], 512 << 10);
    }
}
