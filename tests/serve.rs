//! `greenfetch serve` and the library under it (`server::dispatch`, `server::http`), end to end
//! against the fixture server: titles in order as text and JSON, `/healthz`, `/metrics`, the
//! request limits, slow and greedy clients, the refusal of private targets, the shared pool.
//!
//! Clients are std sockets on the test thread (a plain thread). Every server binds
//! 127.0.0.1:0; names are pinned (`--resolve`, an injected resolver), so nothing leaves the
//! machine. States that nothing signals (a pool full with requests waiting) are polled through
//! `/metrics`; no test sleeps to synchronise or asserts on wall time.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use greenfetch::green::ureq::AddressPolicy;
use greenfetch::server::Server;
use greenfetch::server::dispatch::{Dispatch, DispatchConfig};
use greenfetch::server::fixture::FixtureServer;
use greenfetch::server::http::{HostCheck, HttpConfig, HttpServer, Request, Response};
use serde_json::Value;

use crate::util::LIMIT;

/// One HTTP/1.1 response as read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// A client connection (std, on the test thread) that reads whole responses.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).expect("connect to the server");
        s.set_read_timeout(Some(LIMIT)).unwrap();
        Client {
            reader: BufReader::new(s),
        }
    }

    fn send(&mut self, raw: &[u8]) {
        self.reader.get_mut().write_all(raw).expect("send");
    }

    /// Reads one complete response (status line, headers, `Content-Length` body); panics on
    /// a connection that closes before one arrives.
    fn reply(&mut self) -> Reply {
        self.reply_to(false)
    }

    /// [`reply`](Self::reply), without a body when it answers a `HEAD`.
    fn reply_to(&mut self, head: bool) -> Reply {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("read a status line");
        assert!(
            line.starts_with("HTTP/1.1 "),
            "expected a status line, got {line:?} (a dropped connection?)"
        );
        let status = line[9..12].parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("read a header");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').expect("a header line");
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        if status != 100 && !head {
            let len: usize = reply
                .header("content-length")
                .expect("every response has Content-Length")
                .parse()
                .unwrap();
            reply.body = vec![0; len];
            self.reader
                .read_exact(&mut reply.body)
                .expect("read the body");
        }
        reply
    }

    /// True when the server closed the connection (EOF; not a reset, not a timeout).
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(e) => panic!("expected a clean close, got {e}"),
        }
    }
}

/// A request with `Content-Length`, `Connection: close` when `close`, and `Host: localhost`
/// unless `headers` has a Host.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str, close: bool) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        r.push_str("Host: localhost\r\n");
    }
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if close {
        r.push_str("Connection: close\r\n");
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

/// One request on a new connection.
fn ask(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut c = Client::connect(addr);
    c.send(&request(method, path, headers, body, true));
    c.reply_to(method == "HEAD")
}

fn post_titles(addr: SocketAddr, body: &str, json: bool) -> Reply {
    let accept: &[(&str, &str)] = if json {
        &[("Accept", "application/json")]
    } else {
        &[]
    };
    ask(addr, "POST", "/titles", accept, body)
}

/// The dispatch service with the fixture server (on loopback) allowed.
fn open_config() -> DispatchConfig {
    let mut cfg = DispatchConfig::default();
    cfg.fetch.client.address_policy = AddressPolicy::allow_all();
    cfg.fetch.retries = 0;
    cfg
}

fn start(cfg: DispatchConfig) -> Server {
    Dispatch::new(cfg)
        .start("127.0.0.1:0")
        .expect("start the dispatch server")
}

/// `/metrics`, checked for the text format's rules and parsed: `name{labels}` → value.
fn metrics(addr: SocketAddr) -> HashMap<String, f64> {
    let r = ask(addr, "GET", "/metrics", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let name = key.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "no # TYPE before {line:?}");
        if types[family] == "counter" {
            assert!(
                family.ends_with("_total"),
                "counter {family} without _total"
            );
        }
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("{line:?}"));
        samples.insert(key.to_owned(), v);
    }
    // Histograms: cumulative buckets that end in +Inf = _count.
    for (family, _) in types.iter().filter(|(_, k)| *k == "histogram") {
        let mut last = 0.0;
        for line in text
            .lines()
            .filter(|l| l.starts_with(&format!("{family}_bucket{{")))
        {
            let v: f64 = line.rsplit_once(' ').unwrap().1.parse().unwrap();
            assert!(v >= last, "buckets of {family} decrease: {line}");
            last = v;
        }
        let inf = samples[&format!("{family}_bucket{{le=\"+Inf\"}}")];
        assert_eq!(inf, samples[&format!("{family}_count")], "{family}");
        assert!(samples.contains_key(&format!("{family}_sum")));
    }
    samples
}

fn value(m: &HashMap<String, f64>, key: &str) -> f64 {
    m.get(key).copied().unwrap_or(0.0)
}

/// Polls `/metrics` until `cond` holds; fails after [`LIMIT`].
fn wait_for_metrics(addr: SocketAddr, what: &str, cond: impl Fn(&HashMap<String, f64>) -> bool) {
    let t0 = Instant::now();
    while !cond(&metrics(addr)) {
        assert!(t0.elapsed() < LIMIT, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(5)); // a plain thread, polling
    }
}

#[test]
fn titles_come_back_in_input_order_whatever_finishes_first() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let server = start(open_config());
    // The earlier lines take longer; a /delay answer is text, not a feed: an empty line.
    let body = format!(
        "{}\n{}\n# a comment\n\n{}\r\n{}\n{}\n{}\n",
        feeds.url("/delay/150/a"),
        feeds.url("/feed/rss/1"),
        feeds.url("/delay/100/b"),
        feeds.url("/feed/atom/2"),
        feeds.url("/delay/50/c"),
        feeds.url("/feed/json/3"),
    );
    let r = post_titles(server.addr(), &body, false);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), "\nFeed 1\n\nFeed 2\n\nFeed 3\n");

    let r = post_titles(server.addr(), &body, true);
    let records = r.json();
    let urls: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    let want: Vec<String> = [
        "/delay/150/a",
        "/feed/rss/1",
        "/delay/100/b",
        "/feed/atom/2",
    ]
    .iter()
    .chain(&["/delay/50/c", "/feed/json/3"])
    .map(|p| feeds.url(p))
    .collect();
    assert_eq!(urls, want);
}

#[test]
fn json_records_have_the_titles_fields() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let server = start(open_config());
    let body = format!(
        "{}\n{}\n{}\nnot a url\n{}\n",
        feeds.url("/feed/atom/x"),
        feeds.url("/page/p"),
        feeds.url("/page/q?feed=none"),
        feeds.url("/status/404"),
    );
    let r = post_titles(server.addr(), &body, true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    let recs = v.as_array().unwrap();
    assert_eq!(recs.len(), 5);
    for (i, rec) in recs.iter().enumerate() {
        assert_eq!(rec["index"], i, "{rec}");
        for field in [
            "url", "kind", "title", "feed_url", "format", "status", "attempts", "error",
        ] {
            assert!(rec.get(field).is_some(), "#{i} has no {field}: {rec}");
        }
        assert!(rec["timings"]["total_ms"].is_number(), "{rec}");
    }
    assert_eq!(recs[0]["kind"], "feed");
    assert_eq!(recs[0]["title"], "Feed x");
    assert_eq!(recs[0]["feed_url"], feeds.url("/feed/atom/x"));
    assert_eq!(recs[0]["format"], "atom10");
    assert_eq!(recs[0]["error"], Value::Null);
    // A page that advertises its feed: the feed's title, and where it came from.
    assert_eq!(recs[1]["kind"], "feed");
    assert_eq!(recs[1]["title"], "Feed p");
    assert_eq!(recs[1]["feed_url"], feeds.url("/feed/rss/p"));
    // A page that advertises none: its own title.
    assert_eq!(recs[2]["kind"], "html");
    assert_eq!(recs[2]["title"], "Page q");
    assert_eq!(recs[2]["feed_url"], Value::Null);
    // Failures in place, typed.
    assert_eq!(recs[3]["url"], "not a url");
    assert_eq!(recs[3]["error"]["kind"], "not_a_url");
    assert_eq!(recs[3]["title"], Value::Null);
    assert_eq!(recs[4]["error"]["kind"], "http_status");
    assert_eq!(recs[4]["status"], 404);
    assert!(
        recs[4]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("404")
    );
}

/// serve's JSON and `titles -f jsonl` are one record (`greenfetch::record::TitleRecord`): for
/// the same URLs, the same fields with the same values, timings aside. The
/// URLs: a feed, a feed that is broken but readable (`bozo`, which serve once left out), a page
/// advertising its feed, an HTTP error and a line that is not a URL.
#[test]
fn serve_json_and_titles_jsonl_give_the_same_records() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let broken = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/feeds/bare-ampersand.xml"
    ))
    .unwrap();
    let bozo = crate::util::Scripted::start(move |_| {
        crate::util::answer("200 OK", &["Content-Type: application/rss+xml"], &broken)
    });
    let lines = [
        feeds.url("/feed/atom/x"),
        bozo.url("/feed"),
        feeds.url("/page/p"),
        feeds.url("/status/404"),
        "not a url".to_owned(),
    ];
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let server = start(open_config());
    let served = post_titles(server.addr(), &body, true).json();
    let served = served.as_array().unwrap();

    let list = std::env::temp_dir().join(format!("greenfetch-same-records-{}", std::process::id()));
    std::fs::write(&list, &body).unwrap();
    let mut cmd = crate::util::greenfetch();
    cmd.args(["titles", "-q", "-f", "jsonl", "--retries", "0"])
        .arg(&list);
    let out = crate::util::output(&mut cmd);
    std::fs::remove_file(&list).unwrap();
    let written = crate::util::records(&out);

    assert_eq!(served.len(), lines.len());
    assert_eq!(written.len(), lines.len());
    assert!(served[1]["bozo"].is_string(), "{}", served[1]);
    for (s, w) in served.iter().zip(&written) {
        let (s, w) = (s.as_object().unwrap(), w.as_object().unwrap());
        let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(s), keys(w), "the same fields");
        for (k, v) in s {
            if k == "timings" {
                assert_eq!(keys(v.as_object().unwrap()), ["total_ms"]);
            } else {
                assert_eq!(v, &w[k], "{k}: serve {s:?}, titles {w:?}");
            }
        }
    }
}

#[test]
fn healthz_and_metrics_and_their_counters_moving() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let server = start(open_config());
    let addr = server.addr();
    let r = ask(addr, "GET", "/healthz", &[], "");
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    let r = ask(addr, "HEAD", "/healthz", &[], "");
    assert_eq!((r.status, r.header("content-length")), (200, Some("3")));

    let before = metrics(addr);
    assert_eq!(value(&before, "greenfetch_serve_pool_size"), 50.0);
    let body = format!(
        "{}\n{}\nftp://x.test/\n",
        feeds.url("/feed/rss/m"),
        feeds.url("/delay/0/x")
    );
    assert_eq!(post_titles(addr, &body, false).status, 200);
    assert_eq!(ask(addr, "GET", "/nope", &[], "").status, 404);
    let after = metrics(addr);
    let moved = |key: &str| value(&after, key) - value(&before, key);
    assert_eq!(
        moved(r#"greenfetch_serve_requests_total{route="/titles",status="200"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"greenfetch_serve_requests_total{route="other",status="404"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"greenfetch_serve_requests_total{route="/metrics",status="200"}"#),
        1.0
    );
    assert_eq!(moved("greenfetch_serve_urls_total"), 3.0);
    assert_eq!(moved("greenfetch_serve_fetches_total"), 2.0);
    assert_eq!(
        moved(r#"greenfetch_serve_errors_total{kind="not_a_feed"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"greenfetch_serve_errors_total{kind="unsupported_scheme"}"#),
        1.0
    );
    assert_eq!(moved("greenfetch_serve_fetch_duration_seconds_count"), 2.0);
    assert_eq!(
        moved("greenfetch_serve_request_duration_seconds_count"),
        1.0
    );
    assert_eq!(value(&after, "greenfetch_serve_fetches_in_flight"), 0.0);
    assert!(value(&after, "greenfetch_serve_connections_total") >= 6.0);
}

#[test]
fn bad_requests_get_a_4xx_and_a_whole_response_never_a_drop() {
    let mut cfg = open_config();
    cfg.max_urls = 3;
    cfg.http.max_body = 1024;
    let server = start(cfg);
    let addr = server.addr();
    let json = [("Accept", "application/json")];

    // Limits of the request: too many URLs (the connection stays usable), too big a body.
    let mut c = Client::connect(addr);
    c.send(&request(
        "POST",
        "/titles",
        &json,
        "http://a.test/\n".repeat(4).as_str(),
        false,
    ));
    let r = c.reply();
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["kind"], "too_many_urls");
    assert_eq!(
        r.json()["error"]["message"],
        "4 URLs in the request; at most 3 are accepted"
    );
    c.send(&request("GET", "/healthz", &[], "", true));
    assert_eq!(c.reply().status, 200);
    assert!(c.closed());

    let big = "http://a.test/\n".repeat(100);
    let mut c = Client::connect(addr);
    c.send(&request("POST", "/titles", &[], &big, false));
    let r = c.reply();
    assert_eq!(r.status, 413);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(r.text().contains("at most 1024"), "{}", r.text());
    assert!(c.closed());

    // Wrong method, unknown path, unacceptable answer, unreadable body type.
    let r = ask(addr, "GET", "/titles", &[], "");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    let r = ask(addr, "DELETE", "/healthz", &json, "");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    assert_eq!(r.json()["error"]["kind"], "method_not_allowed");
    assert_eq!(ask(addr, "GET", "/etc/passwd", &[], "").status, 404);
    assert_eq!(
        ask(addr, "POST", "/titles", &[("Accept", "image/png")], "").status,
        406
    );
    let r = ask(
        addr,
        "POST",
        "/titles",
        &[("Content-Type", "application/json")],
        "[]",
    );
    assert_eq!(r.status, 415);
    // curl --data-binary sends form-urlencoded: read as lines all the same.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    assert_eq!(
        ask(addr, "POST", "/titles", &form, "ftp://x\n").text(),
        "\n"
    );

    // Requests that do not parse: answered, then closed cleanly.
    for (raw, status) in [
        (&b"\x16\x03\x01\x02\x00garbage\r\n\r\n"[..], 400),
        (b"GET /healthz HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
        (
            b"GET /healthz HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
        ),
        (b"GET healthz HTTP/1.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/2.0\r\n\r\n", 505),
        (
            b"POST /titles HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
        ),
        (
            b"POST /titles HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\
              Content-Length: 5\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            b"POST /titles HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        (
            b"POST /titles HTTP/1.1\r\nExpect: something\r\nContent-Length: 1\r\n\r\nx",
            417,
        ),
    ] {
        let mut c = Client::connect(addr);
        c.send(raw);
        let r = c.reply();
        assert_eq!(
            r.status,
            status,
            "{:?}: {}",
            String::from_utf8_lossy(raw),
            r.text()
        );
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.closed());
    }
    let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
    let mut c = Client::connect(addr);
    c.send(format!("GET /healthz HTTP/1.1\r\n{many}\r\n").as_bytes());
    assert_eq!(c.reply().status, 431);
    assert!(c.closed());
    let mut c = Client::connect(addr);
    c.send(format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000)).as_bytes());
    assert_eq!(c.reply().status, 431);
    assert!(c.closed());

    // A polite client asks before sending a big body, and is told no before it does.
    let mut c = Client::connect(addr);
    c.send(
        b"POST /titles HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    assert_eq!(c.reply().status, 413);
    let mut c = Client::connect(addr);
    let body = "ftp://a\n";
    c.send(
        format!(
            "POST /titles HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\
             Expect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(c.reply().status, 100);
    c.send(body.as_bytes());
    assert_eq!(c.reply().text(), "\n");

    // Pipelined requests, answered in order on one connection; HTTP/1.0 closes.
    let mut c = Client::connect(addr);
    let mut both = request("GET", "/healthz", &[], "", false);
    both.extend(request("GET", "/nope", &[], "", false));
    both.extend(b"GET /healthz HTTP/1.0\r\n\r\n");
    c.send(&both);
    assert_eq!(c.reply().status, 200);
    assert_eq!(c.reply().status, 404);
    assert_eq!(c.reply().status, 200);
    assert!(c.closed());

    let m = metrics(addr);
    assert!(
        value(
            &m,
            r#"greenfetch_serve_requests_total{route="other",status="400"}"#
        ) >= 2.0
    );
    assert_eq!(
        value(
            &m,
            r#"greenfetch_serve_requests_total{route="/titles",status="501"}"#
        ),
        1.0
    );
    assert!(m.keys().all(|k| !k.contains("status=\"5")
        || k.contains("status=\"505\"")
        || k.contains("status=\"501\"")));
}

#[test]
fn a_stalled_client_does_not_stop_another_being_served() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let mut cfg = open_config();
    cfg.http.client_timeout = Duration::from_secs(1);
    let server = start(cfg);
    let addr = server.addr();
    // Half a head, and then nothing: the connection stays open.
    let mut stalled = Client::connect(addr);
    stalled.send(b"POST /titles HTTP/1.1\r\nContent-Le");
    let mut half_body = Client::connect(addr);
    half_body
        .send(b"POST /titles HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nhttp://");
    // Another client is served meanwhile.
    let r = post_titles(addr, &format!("{}\n", feeds.url("/feed/rss/ok")), false);
    assert_eq!(r.text(), "Feed ok\n");
    // The stalled ones are told, in time, and closed.
    for mut c in [stalled, half_body] {
        let r = c.reply();
        assert_eq!(r.status, 408, "{}", r.text());
        assert!(c.closed());
    }
    let m = metrics(addr);
    assert_eq!(value(&m, "greenfetch_serve_client_timeouts_total"), 2.0);
}

/// Connections the service's server holds waiting for their client, from its metrics (read
/// in-process: asking over HTTP would take a connection itself).
fn waiting(service: &Dispatch) -> u64 {
    let text = service.metrics();
    let line = text
        .lines()
        .find(|l| l.starts_with("greenfetch_serve_connections_waiting "))
        .expect("the waiting gauge");
    line.rsplit_once(' ').unwrap().1.parse().unwrap()
}

/// Connects, and waits until the server holds `n` connections waiting for their client.
fn connect_idle(service: &Dispatch, addr: SocketAddr, n: u64) -> Client {
    let c = Client::connect(addr);
    let t0 = Instant::now();
    while waiting(service) < n {
        assert!(
            t0.elapsed() < LIMIT,
            "the server never held {n} idle connections"
        );
        std::thread::sleep(Duration::from_millis(1)); // a plain thread, polling
    }
    c
}

#[test]
fn idle_connections_make_room_and_one_client_gets_its_share_only() {
    let mut cfg = open_config();
    cfg.http.max_connections = 4;
    cfg.http.max_connections_per_client = 100;
    let service = Dispatch::new(cfg);
    let server = service.start("127.0.0.1:0").unwrap();
    let addr = server.addr();
    // One client holds every connection the server allows, idle (the first idle longest).
    let mut idle: Vec<Client> = (1..=4).map(|n| connect_idle(&service, addr, n)).collect();
    // Another is served all the same: the one idle longest made room.
    let r = ask(addr, "GET", "/healthz", &[], "");
    assert_eq!(r.status, 200);
    assert!(idle[0].closed(), "the oldest idle connection was closed");
    assert!(
        service
            .metrics()
            .contains("greenfetch_serve_connections_evicted_total 1\n")
    );
    // The others are still served.
    idle[3].send(&request("GET", "/healthz", &[], "", true));
    assert_eq!(idle[3].reply().status, 200);
    drop(idle);

    // A per-client share: the third connection from one address is turned away, politely.
    let mut cfg = open_config();
    cfg.http.max_connections_per_client = 2;
    let service = Dispatch::new(cfg);
    let server = service.start("127.0.0.1:0").unwrap();
    let _a = connect_idle(&service, server.addr(), 1);
    let _b = connect_idle(&service, server.addr(), 2);
    let mut c = Client::connect(server.addr());
    c.send(&request("GET", "/healthz", &[], "", false));
    let r = c.reply();
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(
        r.text().contains("too many connections from 127.0.0.1"),
        "{}",
        r.text()
    );
    assert!(c.closed());
}

#[test]
fn stop_closes_idle_connections_at_once() {
    let mut cfg = open_config();
    cfg.http.idle_timeout = Duration::from_secs(3600);
    let server = start(cfg);
    let mut c = Client::connect(server.addr());
    c.send(&request("GET", "/healthz", &[], "", false));
    assert_eq!(c.reply().status, 200);
    server.stop();
    assert!(
        c.closed(),
        "an idle keep-alive connection is closed by stop"
    );
}

#[test]
fn a_panicking_service_answers_500_and_the_server_goes_on() {
    crate::util::green(|| ()); // the panic hook that keeps expected panics quiet
    let server = HttpServer::start("127.0.0.1:0", HttpConfig::default(), |req: &Request| {
        if req.path() == "/boom" {
            crate::util::expected_panic("boom");
        }
        Response::text(200, "fine\n")
    })
    .unwrap();
    let r = ask(
        server.addr(),
        "GET",
        "/boom",
        &[("Accept", "application/json")],
        "",
    );
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["kind"], "internal");
    assert_eq!(ask(server.addr(), "GET", "/", &[], "").text(), "fine\n");
}

#[test]
fn the_request_deadline_answers_timeout_for_what_is_not_done() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let mut cfg = open_config();
    cfg.concurrency = 1;
    cfg.request_timeout = Duration::from_millis(500);
    let server = start(cfg);
    // One slot: the first finishes, the second hangs until the deadline, the third never
    // gets the slot.
    let body = format!(
        "{}\n{}\n{}\n",
        feeds.url("/delay/10/first"),
        feeds.url("/fault/hang"),
        feeds.url("/feed/rss/late")
    );
    let r = post_titles(server.addr(), &body, true);
    assert_eq!(r.status, 200);
    let v = r.json();
    let kinds: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["not_a_feed", "timeout", "timeout"]);
    // The hung fetch is cut at the deadline; the last URL either never got the slot, or got
    // it just as the hung one was cut: a timeout either way.
    for rec in &v.as_array().unwrap()[1..] {
        let message = rec["error"]["message"].as_str().unwrap();
        assert!(message.contains("deadline"), "{rec}");
    }
}

/// One request on a new connection, which the server must answer and then close.
fn ask_once(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut c = Client::connect(addr);
    c.send(raw);
    let r = c.reply();
    assert_eq!(r.header("connection"), Some("close"), "{}", r.text());
    assert!(c.closed());
    r
}

/// DNS rebinding: a page whose name (`evil.test`) now resolves to 127.0.0.1 sends its requests
/// here with that name as Host. Every route refuses them whole, before doing anything.
#[test]
fn a_rebinding_host_gets_421_on_every_route_and_nothing_is_fetched() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let server = start(open_config());
    let addr = server.addr();
    let urls = format!("{}\n", feeds.url("/feed/rss/1"));
    let before = metrics(addr);
    for host in ["evil.test", "evil.test:8080", "EVIL.Test.:8080"] {
        for (method, path, body) in [
            ("POST", "/titles", urls.as_str()),
            ("GET", "/metrics", ""),
            ("GET", "/healthz", ""),
            ("GET", "/nope", ""),
        ] {
            let raw = request(method, path, &[("Host", host)], body, false);
            let r = ask_once(addr, &raw);
            assert_eq!(r.status, 421, "{method} {path}, Host {host}: {}", r.text());
            assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
            let text = r.text();
            assert!(
                text.starts_with(&format!("Host {host:?} is not accepted here"))
                    && text.ends_with("start the server with --allow-host evil.test\n"),
                "{text}"
            );
        }
    }
    // Names that only start like an accepted one; JSON for a client that asks for it.
    for host in ["localhost.evil.test", "127.0.0.1.evil.test:80"] {
        let r = ask(addr, "GET", "/metrics", &[("Host", host)], "");
        assert_eq!(r.status, 421, "{host}: {}", r.text());
    }
    let r = ask(
        addr,
        "POST",
        "/titles",
        &[("Host", "evil.test"), ("Accept", "application/json")],
        &urls,
    );
    assert_eq!(r.status, 421);
    assert_eq!(r.json()["error"]["kind"], "misdirected_request");
    // An absolute-form target names the host, whatever the header says (RFC 9112 §3.2.2).
    let r = ask_once(
        addr,
        b"GET http://evil.test/metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert_eq!(r.status, 421);
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(LIMIT)).unwrap();
    raw.write_all(b"GET /healthz HTTP/1.1\r\nHost: evil.test\r\n\r\n")
        .unwrap();
    let mut whole = String::new();
    raw.read_to_string(&mut whole).unwrap();
    assert!(
        whole.starts_with("HTTP/1.1 421 Misdirected Request\r\n"),
        "{whole}"
    );
    // An empty Host has no name to allow.
    let r = ask(addr, "GET", "/healthz", &[("Host", "")], "");
    assert_eq!(r.status, 421);
    assert!(r.text().ends_with("--allow-any-host\n"), "{}", r.text());

    assert_eq!(feeds.hits(), 0, "a refused request fetched nothing");
    let after = metrics(addr);
    let moved = |key: &str| value(&after, key) - value(&before, key);
    let refused = |route: &str| {
        moved(&format!(
            r#"greenfetch_serve_requests_total{{route="{route}",status="421"}}"#
        ))
    };
    assert_eq!(refused("/titles"), 4.0);
    assert_eq!(refused("/metrics"), 6.0);
    assert_eq!(refused("/healthz"), 5.0);
    assert_eq!(refused("other"), 3.0);
    assert_eq!(moved("greenfetch_serve_urls_total"), 0.0);
}

/// What a browser or curl sends when told an IP address or localhost passes, on every route.
#[test]
fn ip_literal_and_localhost_hosts_are_answered() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let server = start(open_config());
    let addr = server.addr();
    let port = addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
        format!("localhost:{port}"),
        format!("LOCALHOST.:{port}"),
        format!("[::1]:{port}"),
        "[::1]".to_owned(),
        "192.0.2.7:80".to_owned(), // any IP literal: no page can have it as its name
    ] {
        let r = ask(addr, "GET", "/healthz", &[("Host", &host)], "");
        assert_eq!((r.status, r.text().as_str()), (200, "ok\n"), "Host {host}");
        let r = ask(addr, "GET", "/metrics", &[("Host", &host)], "");
        assert_eq!(r.status, 200, "Host {host}");
    }
    let r = ask(
        addr,
        "POST",
        "/titles",
        &[("Host", &format!("127.0.0.1:{port}"))],
        &format!("{}\n", feeds.url("/feed/rss/1")),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "Feed 1\n"));
    // HTTP/1.0 may leave Host out.
    let r = ask_once(addr, b"GET /healthz HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
}

#[test]
fn allowed_names_pass_and_the_check_can_be_turned_off() {
    let mut cfg = open_config();
    cfg.allowed_hosts = HostCheck::local()
        .allow("feeds.example.org")
        .and_then(|c| c.allow("proxy.internal."))
        .unwrap();
    let server = start(cfg);
    let addr = server.addr();
    let status = |host: &str| ask(addr, "GET", "/healthz", &[("Host", host)], "").status;
    for host in [
        "feeds.example.org",
        "FEEDS.example.org.:443",
        "proxy.internal:8080",
        "localhost",
        "127.0.0.1:1",
    ] {
        assert_eq!(status(host), 200, "Host {host}");
    }
    for host in [
        "example.org",
        "www.feeds.example.org",
        "feeds.example.org.evil.test",
    ] {
        assert_eq!(status(host), 421, "Host {host}");
    }

    let mut cfg = open_config();
    cfg.allowed_hosts = HostCheck::any();
    let server = start(cfg);
    let addr = server.addr();
    for host in ["evil.test", "evil.test:8080", "localhost.evil.test", ""] {
        let r = ask(addr, "GET", "/metrics", &[("Host", host)], "");
        assert_eq!(r.status, 200, "Host {host}");
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host, of the right shape; else `400`,
/// counted by route like every answer.
#[test]
fn http_1_1_without_a_good_host_is_a_bad_request() {
    let server = start(open_config());
    let addr = server.addr();
    let before = metrics(addr);
    for raw in [
        &b"GET /healthz HTTP/1.1\r\n\r\n"[..],
        b"GET /healthz HTTP/1.1\r\nConnection: keep-alive\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.test\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: evil test\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: ::1\r\n\r\n",
        b"GET /healthz HTTP/1.0\r\nHost: localhost:http\r\n\r\n",
    ] {
        let r = ask_once(addr, raw);
        assert_eq!(
            r.status,
            400,
            "{:?}: {}",
            String::from_utf8_lossy(raw),
            r.text()
        );
        assert!(r.text().contains("Host"), "{}", r.text());
    }
    let r = ask_once(
        addr,
        b"POST /titles HTTP/1.1\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        "an HTTP/1.1 request needs a Host header"
    );
    let after = metrics(addr);
    let moved = |key: &str| value(&after, key) - value(&before, key);
    assert_eq!(
        moved(r#"greenfetch_serve_requests_total{route="/healthz",status="400"}"#),
        6.0
    );
    assert_eq!(
        moved(r#"greenfetch_serve_requests_total{route="/titles",status="400"}"#),
        1.0
    );
}

/// `greenfetch serve ARGS` as a process: its address, killed (by its own handle) on drop.
struct ServeProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServeProcess {
    fn start(args: &[&str]) -> ServeProcess {
        let mut child = crate::util::greenfetch()
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start greenfetch serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the address line");
        let addr = line
            .trim_end()
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("first line {line:?}"))
            .parse()
            .unwrap();
        ServeProcess { child, addr }
    }

    /// The backdoor's address, from the first stderr line (`--backdoor 127.0.0.1:0`).
    fn backdoor_addr(&mut self) -> SocketAddr {
        let mut line = String::new();
        BufReader::new(self.child.stderr.as_mut().unwrap())
            .read_line(&mut line)
            .expect("read stderr");
        line.trim_end()
            .strip_prefix("greenfetch: backdoor on ")
            .unwrap_or_else(|| panic!("first stderr line {line:?}"))
            .parse()
            .unwrap()
    }

    /// Stops the process; returns what it wrote on stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let _ = self.child.wait();
        err
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_refuses_private_targets_by_default_even_through_names_and_redirects() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let fport = feeds.addr().port();
    // A "public" host (allowed by exception) that redirects to the fixture server on loopback.
    let hop = crate::util::redirector(feeds.url("/feed/rss/1"));
    let hport = hop.port();
    let serve = ServeProcess::start(&[
        "--retries",
        "0",
        "--allow-addr",
        &hop.to_string(),
        "--resolve",
        &format!("public.test:{hport}:127.0.0.1"),
        "--resolve",
        &format!("rebound.test:{fport}:127.0.0.1"),
    ]);
    let body = format!(
        "{}\nhttp://rebound.test:{fport}/feed/rss/1\nhttp://public.test:{hport}/go\n\
         http://public.test:{hport}/feed\nhttp://169.254.169.254/latest/meta-data/\n\
         http://[::1]:{fport}/feed/rss/1\nhttp://10.0.0.1/\nhttp://0.0.0.0:{fport}/\n\
         http://[::ffff:192.168.0.1]/\n",
        feeds.url("/feed/rss/1"),
    );
    let r = post_titles(serve.addr, &body, true);
    assert_eq!(r.status, 200);
    let v = r.json();
    let got: Vec<(Option<&str>, Option<&str>)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["error"]["kind"].as_str(), r["error"]["message"].as_str()))
        .collect();
    let forbidden = |m: &'static str| (Some("forbidden"), Some(m));
    assert_eq!(
        got,
        [
            forbidden("127.0.0.1 is a loopback address"),
            forbidden("127.0.0.1 is a loopback address"), // a name, checked after resolution
            forbidden("127.0.0.1 is a loopback address"), // a redirect hop
            (None, None),                                 // the allowed address itself
            forbidden("169.254.169.254 is a link-local address (cloud metadata)"),
            forbidden("::1 is a loopback address"),
            forbidden("10.0.0.1 is a private address"),
            forbidden("0.0.0.0 is an unspecified address"),
            forbidden("::ffff:192.168.0.1 is a private address"),
        ]
    );
    assert_eq!(v[3]["title"], "Allowed feed");
    assert_eq!(feeds.hits(), 0, "nothing reached the loopback server");
    let m = metrics(serve.addr);
    assert_eq!(
        value(&m, r#"greenfetch_serve_errors_total{kind="forbidden"}"#),
        8.0
    );
    let stderr = serve.stop();
    assert!(!stderr.contains("warning"), "{stderr}");

    // With --allow-private the same loopback feed is fetched.
    let serve = ServeProcess::start(&["--allow-private"]);
    let r = post_titles(
        serve.addr,
        &format!("{}\n", feeds.url("/feed/rss/1")),
        false,
    );
    assert_eq!(r.text(), "Feed 1\n");
}

#[test]
fn one_pool_caps_the_fetches_of_concurrent_requests() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let serve = ServeProcess::start(&["--allow-private", "-c", "2", "--retries", "0"]);
    let addr = serve.addr;
    // A's fetches are slow enough (2 s) that B arrives while A still holds both slots.
    let body = |tag: &str, ms: u32| -> String {
        (0..4)
            .map(|i| feeds.url(&format!("/delay/{ms}/{tag}{i}")) + "\n")
            .collect()
    };
    let a = {
        let body = body("a", 2000);
        std::thread::spawn(move || post_titles(addr, &body, true))
    };
    // Request A fills the pool and waits for a third slot ...
    wait_for_metrics(addr, "request A fills the pool", |m| {
        value(m, "greenfetch_serve_pool_waiting") == 1.0
    });
    let b = {
        let body = body("b", 200);
        std::thread::spawn(move || post_titles(addr, &body, true))
    };
    // ... and request B waits too: both are in progress at once, on one pool of 2.
    wait_for_metrics(addr, "both requests wait for the shared pool", |m| {
        value(m, "greenfetch_serve_pool_waiting") == 2.0
    });
    for (tag, ms, reply) in [
        ("a", 2000, a.join().unwrap()),
        ("b", 200, b.join().unwrap()),
    ] {
        assert_eq!(reply.status, 200);
        let v = reply.json();
        let recs = v.as_array().unwrap();
        assert_eq!(recs.len(), 4);
        for (i, rec) in recs.iter().enumerate() {
            assert_eq!(rec["url"], feeds.url(&format!("/delay/{ms}/{tag}{i}")));
            assert_eq!(
                rec["error"]["kind"], "not_a_feed",
                "fetched, and not a feed: {rec}"
            );
        }
    }
    let m = metrics(addr);
    assert_eq!(value(&m, "greenfetch_serve_fetches_total"), 8.0);
    assert_eq!(value(&m, "greenfetch_serve_fetches_in_flight_max"), 2.0);
    assert_eq!(value(&m, "greenfetch_serve_pool_size"), 2.0);
}

#[test]
fn the_backdoor_reports_the_service_and_resizes_its_pool() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let mut serve =
        ServeProcess::start(&["--allow-private", "-c", "3", "--backdoor", "127.0.0.1:0"]);
    let console = TcpStream::connect(serve.backdoor_addr()).unwrap();
    console.set_read_timeout(Some(LIMIT)).unwrap();
    let mut r = BufReader::new(console.try_clone().unwrap());
    let mut w = console;
    let mut ask_console = |cmd: Option<&str>| -> String {
        if let Some(cmd) = cmd {
            w.write_all(format!("{cmd}\n").as_bytes()).unwrap();
        }
        let mut acc = Vec::new();
        while !acc.ends_with(b">>> ") {
            let mut b = [0u8; 1];
            r.read_exact(&mut b).expect("read up to the prompt");
            acc.push(b[0]);
        }
        String::from_utf8_lossy(&acc).into_owned()
    };
    assert!(ask_console(None).contains("backdoor"));
    let r = post_titles(
        serve.addr,
        &format!("{}\n", feeds.url("/feed/rss/bd")),
        false,
    );
    assert_eq!(r.text(), "Feed bd\n");
    let stats = ask_console(Some("stats"));
    assert!(
        stats.starts_with("requests 1 urls 1 fetches 1 errors 0"),
        "{stats}"
    );
    assert!(ask_console(Some("pool")).contains("size 3"));
    assert!(ask_console(Some("resize 5")).contains("size 5"));
    assert_eq!(
        value(&metrics(serve.addr), "greenfetch_serve_pool_size"),
        5.0
    );
}

#[test]
fn serve_allow_host_flags_widen_the_host_check() {
    let status =
        |addr: SocketAddr, host: &str| ask(addr, "GET", "/healthz", &[("Host", host)], "").status;
    let serve = ServeProcess::start(&[]);
    let r = ask(
        serve.addr,
        "GET",
        "/metrics",
        &[("Host", "evil.test:8080")],
        "",
    );
    assert_eq!(r.status, 421);
    assert!(r.text().contains("--allow-host evil.test"), "{}", r.text());
    assert_eq!(
        status(serve.addr, &format!("127.0.0.1:{}", serve.addr.port())),
        200
    );
    drop(serve);

    let serve = ServeProcess::start(&[
        "--allow-host",
        "feeds.example.org",
        "--allow-host",
        "Health.Check.",
    ]);
    assert_eq!(status(serve.addr, "feeds.example.org:8080"), 200);
    assert_eq!(status(serve.addr, "health.check"), 200);
    assert_eq!(status(serve.addr, "localhost"), 200);
    assert_eq!(status(serve.addr, "evil.test"), 421);
    drop(serve);

    let serve = ServeProcess::start(&["--allow-any-host"]);
    assert_eq!(status(serve.addr, "evil.test:8080"), 200);
    drop(serve);

    // A name with a port is refused at the command line, before anything listens.
    let out = crate::util::greenfetch()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-host",
            "a.test:80",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--allow-host") && stderr.contains("port"),
        "{stderr}"
    );
}

/// A chunked request body (what `curl -H 'Transfer-Encoding: chunked'` and streaming clients
/// send) is read like any other, within `--max-request-body`.
#[test]
fn chunked_request_bodies_are_read_within_the_limit() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let mut cfg = open_config();
    cfg.http.max_body = 200;
    let server = start(cfg);
    let addr = server.addr();
    let url = feeds.url("/feed/rss/3");
    let (a, b) = url.split_at(10);
    // Split across chunks anywhere, with an extension and a trailer.
    let body = format!(
        "{:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\n\r\n0\r\nX-Trailer: t\r\n\r\n",
        a.len(),
        b.len() + 1
    );
    let mut c = Client::connect(addr);
    c.send(
        format!(
            "POST /titles HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        )
        .as_bytes(),
    );
    let r = c.reply();
    assert_eq!((r.status, r.text()), (200, "Feed 3\n".to_owned()));
    // The connection goes on: a second request on it.
    c.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(c.reply().status, 200);
    // Past the limit: 413, closed.
    let big = "a".repeat(150);
    let mut c = Client::connect(addr);
    c.send(
        format!(
            "POST /titles HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
             96\r\n{big}\r\n96\r\n{big}\r\n0\r\n\r\n"
        )
        .as_bytes(),
    );
    let r = c.reply();
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(c.closed());
}

/// A page on another site can make its visitor's browser post a form to a serve on loopback
/// (`text/plain` needs no preflight): with an `Origin` other than serve's own, `POST /titles`
/// is refused before anything is fetched, unless `--allow-origin` names it. Clients that send
/// no `Origin` (curl, scripts) are not affected.
#[test]
fn a_cross_site_browser_post_is_refused_unless_its_origin_is_allowed() {
    let feeds = FixtureServer::start("127.0.0.1:0").unwrap();
    let serve = ServeProcess::start(&[
        "--allow-addr",
        "127.0.0.1",
        "--allow-origin",
        "https://feeds.example.org",
    ]);
    let body = format!("{}\n", feeds.url("/feed/rss/4"));
    let own = format!("http://127.0.0.1:{}", serve.addr.port());
    let host = format!("127.0.0.1:{}", serve.addr.port());
    let post = |origin: Option<&str>| {
        let mut h = vec![("Content-Type", "text/plain"), ("Host", host.as_str())];
        if let Some(o) = origin {
            h.push(("Origin", o));
        }
        ask(serve.addr, "POST", "/titles", &h, &body)
    };
    for refused in ["https://evil.test", "null", "http://127.0.0.1:1"] {
        let r = post(Some(refused));
        assert_eq!(r.status, 403, "{refused}: {}", r.text());
        assert!(r.text().contains("--allow-origin"), "{}", r.text());
    }
    assert_eq!(metrics(serve.addr)["greenfetch_serve_fetches_total"], 0.0);
    for allowed in [None, Some("https://feeds.example.org"), Some(own.as_str())] {
        let r = post(allowed);
        assert_eq!(
            (r.status, r.text()),
            (200, "Feed 4\n".to_owned()),
            "{allowed:?}"
        );
    }
    drop(serve);
    let bad = crate::util::greenfetch()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-origin",
            "feeds",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// `greenfetch serve ARGS` as a script starts it in the background: through `sh`, with
/// SIGINT ignored (`trap '' INT`) when `ignore_sigint`. Its URL from the first stdout line;
/// stderr kept for [`read_err_until`].
fn serve_in_background(args: &[&str], ignore_sigint: bool) -> (Child, SocketAddr) {
    let bin = crate::util::greenfetch();
    let mut cmd = std::process::Command::new("sh");
    let trap = if ignore_sigint { "trap '' INT; " } else { "" };
    cmd.arg("-c")
        .arg(format!("{trap}exec \"$0\" \"$@\""))
        .arg(bin.get_program())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args);
    for (k, v) in bin.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start greenfetch serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read the URL line");
    let addr = line
        .trim_end()
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("the first line is the bare URL: {line:?}"))
        .parse()
        .unwrap();
    (child, addr)
}

/// Reads the child's stderr until a line contains `needle`; returns everything read.
fn read_err_until(err: &mut BufReader<std::process::ChildStderr>, needle: &str) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = err.read_line(&mut line).expect("read stderr");
        all.push_str(&line);
        if n == 0 || line.contains(needle) {
            return all;
        }
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn serve_stops_gracefully_on_sigterm_answering_what_is_in_flight() {
    let gate = crate::terminal::Gate::start(0);
    let allow = gate.addr.to_string();
    let (mut child, addr) = serve_in_background(&["--allow-addr", &allow], false);
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let url = gate.url("/held");
    let asking = std::thread::spawn(move || post_titles(addr, &format!("{url}\n"), true));
    crate::util::wait_until("the fetch reaches the gate", || gate.seen() == 1);
    signal(&child, "-TERM");
    let said = read_err_until(&mut err, "greenfetch: stopping");
    assert!(said.contains("answering 1 request in flight"), "{said}");
    // The request in flight still gets its whole answer, then the process ends with 0.
    gate.allow(1);
    let reply = asking.join().unwrap();
    assert_eq!(reply.status, 200);
    let body = String::from_utf8_lossy(&reply.body);
    assert!(body.contains(&gate.url("/held")), "{body}");
    assert!(!body.contains("stopped before"), "{body}");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn serve_started_in_the_background_stops_on_sigint_within_the_drain_timeout() {
    let gate = crate::terminal::Gate::start(0);
    let allow = gate.addr.to_string();
    let (mut child, addr) =
        serve_in_background(&["--allow-addr", &allow, "--drain-timeout", "200ms"], true);
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let url = gate.url("/never");
    let asking = std::thread::spawn(move || post_titles(addr, &format!("{url}\n"), true));
    crate::util::wait_until("the fetch reaches the gate", || gate.seen() == 1);
    // SIGINT arrives ignored (a script's `cmd &`); serve stops on it all the same.
    signal(&child, "-INT");
    read_err_until(&mut err, "greenfetch: stopping");
    // The fetch that never ends is cut at the drain timeout: a whole answer that says so.
    let reply = asking.join().unwrap();
    assert_eq!(reply.status, 200);
    let body = String::from_utf8_lossy(&reply.body);
    assert!(body.contains("timeout"), "{body}");
    assert!(
        body.contains("the service stopped before this fetch was done"),
        "{body}"
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));
    gate.allow(1);
}
