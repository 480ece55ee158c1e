//! `greenfetch titles` end to end: every feed fixture served over HTTP with its Content-Type,
//! autodiscovery against the fixture server's pages, order, failures and output formats.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::sync::Arc;

use greenfetch::server::fixture::FixtureServer;
use serde_json::Value;

const FEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/feeds");

fn titles(args: &[&str], stdin: &str) -> Output {
    let mut child = crate::util::greenfetch()
        .arg("titles")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start greenfetch");
    let mut stdin_pipe = child.stdin.take().unwrap();
    let input = stdin.to_owned();
    let feeder = std::thread::spawn(move || {
        let _ = stdin_pipe.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("greenfetch runs");
    feeder.join().unwrap();
    out
}

fn records(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is a JSON record"))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// expected.tsv's rows: file, content type, and what greenfetch must say.
fn expected() -> Vec<(String, Option<String>, String, String)> {
    let tsv = std::fs::read_to_string(format!("{FEEDS}/expected.tsv")).unwrap();
    tsv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_owned(),
                (f[1] != "-").then(|| f[1].to_owned()),
                f[3].to_owned(),
                f[4].to_owned(),
            )
        })
        .collect()
}

/// Serves fixtures/feeds on a plain thread (std sockets: no green threads here), each file with
/// the Content-Type expected.tsv gives it (none for `-`). One request per connection.
fn static_server() -> String {
    let types: Arc<HashMap<String, Option<String>>> = Arc::new(
        expected()
            .into_iter()
            .map(|(file, ct, _, _)| (file, ct))
            .collect(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let types = types.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let path = first.split(' ').nth(1).unwrap_or("/");
                let name = path.trim_start_matches('/');
                let reply = match (types.get(name), std::fs::read(format!("{FEEDS}/{name}"))) {
                    (Some(ct), Ok(body)) => {
                        let mut head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n",
                            body.len()
                        );
                        if let Some(ct) = ct {
                            head.push_str(&format!("Content-Type: {ct}\r\n"));
                        }
                        head.push_str("\r\n");
                        let mut r = head.into_bytes();
                        r.extend_from_slice(&body);
                        r
                    }
                    _ => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = conn.write_all(&reply);
            });
        }
    });
    base
}

/// Every feed fixture, fetched over HTTP with its Content-Type, gives the title (or the error
/// kind) and the format that expected.tsv (checked against feedparser) gives, one record per
/// line in order. HTML fixtures, with discovery off, give their page title instead.
#[test]
fn every_feed_fixture_through_the_command() {
    let base = static_server();
    let rows = expected();
    let input: String = rows.iter().map(|r| format!("{base}/{}\n", r.0)).collect();
    let out = titles(
        &[
            "-q",
            "-f",
            "jsonl",
            "--no-discover",
            "--retries",
            "0",
            "-c",
            "8",
        ],
        &input,
    );
    assert_eq!(out.status.code(), Some(1), "some fixtures are failures");
    let recs = records(&out);
    assert_eq!(recs.len(), rows.len(), "one record per line");
    let mut bad = Vec::new();
    for (i, ((file, ct, want, version), rec)) in rows.iter().zip(&recs).enumerate() {
        assert_eq!(rec["index"], i as u64);
        assert_eq!(rec["url"], format!("{base}/{file}"));
        let html = ct.as_deref().is_some_and(|c| c.starts_with("text/html"));
        let got = match (&rec["title"], &rec["error"]) {
            (Value::String(t), Value::Null) => t.clone(),
            (Value::Null, e) => format!("error:{}", e["kind"].as_str().unwrap()),
            other => panic!("{file}: title and error together: {other:?}"),
        };
        if html {
            // The page's own <title>, read by the HTML reader, is what --no-discover prints.
            let page = std::fs::read(format!("{FEEDS}/{file}")).unwrap();
            let title = greenfetch::feed::html_title(&page, ct.as_deref());
            match title {
                Some(t) if got == t && rec["kind"] == "html" => {}
                None if got == *want => {}
                _ => bad.push(format!("{file}: {got:?}, html title {:?}", title)),
            }
            continue;
        }
        if got != *want {
            bad.push(format!("{file}: expected {want:?}, got {got:?}"));
        } else if !want.starts_with("error:") {
            if rec["format"] != version.as_str() || rec["kind"] != "feed" {
                bad.push(format!(
                    "{file}: format {} kind {}",
                    rec["format"], rec["kind"]
                ));
            }
            if rec["feed_url"] != format!("{base}/{file}") {
                bad.push(format!("{file}: feed_url {}", rec["feed_url"]));
            }
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

/// Autodiscovery: a page's <link rel="alternate"> of each feed type and a Link header lead to
/// the feed's title (kind feed, feed_url the feed); a page with no feed gives its <title>
/// (kind html); a page whose advertised feed is missing is an error naming that feed.
#[test]
fn autodiscovery_variants() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let cases = [
        (
            "/page/a",
            Some("Feed a"),
            "feed",
            Some("/feed/rss/a"),
            Some("rss20"),
        ),
        (
            "/page/b?feed=atom",
            Some("Feed b"),
            "feed",
            Some("/feed/atom/b"),
            Some("atom10"),
        ),
        (
            "/page/c?feed=json",
            Some("Feed c"),
            "feed",
            Some("/feed/json/c"),
            Some("json11"),
        ),
        (
            "/page/d?feed=header",
            Some("Feed d"),
            "feed",
            Some("/feed/atom/d"),
            Some("atom10"),
        ),
        ("/page/e?feed=none", Some("Page e"), "html", None, None),
        ("/page/f?feed=broken", None, "", Some("/status/404"), None),
    ];
    let input: String = cases.iter().map(|c| srv.url(c.0) + "\n").collect();
    let out = titles(&["-q", "-f", "jsonl", "--retries", "0"], &input);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out);
    assert_eq!(recs.len(), cases.len());
    for ((path, title, kind, feed, format), rec) in cases.iter().zip(&recs) {
        match title {
            Some(t) => {
                assert_eq!(rec["title"], *t, "{path}");
                assert_eq!(rec["kind"], *kind, "{path}");
                assert_eq!(rec["error"], Value::Null, "{path}");
            }
            None => {
                assert_eq!(rec["title"], Value::Null, "{path}");
                assert_eq!(rec["error"]["kind"], "http_status", "{path}");
                let msg = rec["error"]["message"].as_str().unwrap();
                assert!(msg.contains("advertised feed"), "{path}: {msg}");
            }
        }
        assert_eq!(
            rec["feed_url"],
            feed.map_or(Value::Null, |f| Value::from(srv.url(f))),
            "{path}"
        );
        assert_eq!(
            rec["format"],
            format.map_or(Value::Null, Value::from),
            "{path}"
        );
    }
    // The page and its feed: two requests each, one for the page without a feed.
    assert_eq!(recs[0]["attempts"], 2);
    assert_eq!(recs[4]["attempts"], 1);

    // --no-discover: the pages' own titles, one request each.
    let out = titles(&["-q", "--no-discover"], &input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text, "Page a\nPage b\nPage c\nPage d\nPage e\nPage f\n",
        "the page titles, in order"
    );
}

/// Text output: one line per input line in input order, even when later lines finish first;
/// a failure is an empty line, with the error (its index, URL and kind) on stderr. Bad lines
/// get their outcome too.
#[test]
fn text_output_keeps_order_and_marks_failures_with_empty_lines() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let mut input = String::new();
    let mut want = String::new();
    for i in 0..30 {
        match i % 5 {
            0 => {
                input += &srv.url(&format!("/feed/rss/r{i}"));
                want += &format!("Feed r{i}\n");
            }
            1 => {
                input += &srv.url(&format!("/page/p{i}?feed=json"));
                want += &format!("Feed p{i}\n");
            }
            2 => {
                input += &srv.url("/bytes/100");
                want += "\n";
            }
            3 => {
                input += "not a url";
                want += "\n";
            }
            _ => {
                input += &srv.url(&format!("/feed/atom/a{i}"));
                want += &format!("Feed a{i}\n");
            }
        }
        input += "\n";
    }
    let out = titles(&["-q", "-c", "7", "--retries", "0"], &input);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    let err = stderr(&out);
    assert_eq!(err.matches("not_a_feed").count(), 6, "{err}");
    assert_eq!(err.matches("not_a_url").count(), 6, "{err}");
    assert!(err.contains("#2 "), "errors carry the input's index: {err}");
}

/// --entries implies jsonl and lists the entry titles in document order.
#[test]
fn entries_are_listed_in_jsonl() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let input = format!("{}\n{}\n", srv.url("/feed/json/j"), srv.url("/page/q"));
    let out = titles(&["-q", "--entries"], &input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        recs[0]["entries"],
        serde_json::json!(["Entry j.1", "Entry j.2", "Entry j.3"])
    );
    assert_eq!(
        recs[1]["entries"],
        serde_json::json!(["Entry q.1", "Entry q.2", "Entry q.3"])
    );
    // Without --entries the field is absent.
    let out = titles(&["-q", "-f", "jsonl"], &input);
    assert!(records(&out).iter().all(|r| r.get("entries").is_none()));
}

/// A body over --max-body is a typed failure and the others still get their titles.
#[test]
fn body_cap_and_network_failures_are_typed() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let input = format!(
        "{}\n{}\n{}\n{}\n",
        srv.url("/bytes/5000"),
        srv.url("/feed/rss/ok"),
        "http://127.0.0.1:9/feed",
        srv.url("/fault/truncate"),
    );
    let out = titles(
        &["-q", "-f", "jsonl", "--max-body", "1000", "--retries", "0"],
        &input,
    );
    assert_eq!(out.status.code(), Some(1));
    let kinds: Vec<Value> = records(&out)
        .iter()
        .map(|r| r["error"]["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![
            Value::from("body_too_large"),
            Value::Null,
            Value::from("connect"),
            Value::from("truncated"),
        ]
    );
}
