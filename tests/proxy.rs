//! Proxies through the binary, as curl takes them: the environment's variables by curl's rules,
//! `-x`/`--noproxy`/`--proxy ''`, HTTP proxies (the absolute form for `http://`, `CONNECT` for
//! `https://`, credentials), SOCKS5 and SOCKS5h, a proxy per redirect hop, and the `proxy`
//! error kind. The proxies are small ones written here (plain threads, std sockets: test code),
//! which record what they were asked; the origins are scripted servers on 127.0.0.1:0.
//!
//! Names under `.test` reach no resolver: the proxy maps them to the origin's address itself,
//! and each run pins them with `--resolve NAME:PORT:` (no address), so that a name greenfetch
//! tried to resolve locally fails as `dns` instead of becoming a lookup.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::util::{Scripted, answer, records, run_env as run};

/// What a test proxy was asked: request lines (HTTP) or targets (SOCKS), and headers seen.
#[derive(Debug, Clone, Default)]
struct Asked {
    lines: Vec<String>,
    heads: Vec<String>,
}

/// A test proxy: its address and what it was asked.
struct Proxy {
    addr: SocketAddr,
    asked: Arc<Mutex<Asked>>,
}

/// A listener on 127.0.0.1:0 and an empty log, for a test proxy.
fn bind() -> (TcpListener, Proxy) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (
        listener,
        Proxy {
            addr,
            asked: Arc::default(),
        },
    )
}

impl Proxy {
    fn asked(&self) -> Asked {
        self.asked.lock().unwrap().clone()
    }
}

/// Where a proxy connects for `host:port`: `.test` names and `localhost` are mapped to
/// `origin`'s address, the rest parsed as addresses (the proxies here never resolve a name).
fn target(host: &str, port: u16, origin: SocketAddr) -> Option<SocketAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.ends_with(".test") || host == "localhost" {
        return Some(SocketAddr::new(origin.ip(), port));
    }
    host.parse().ok().map(|ip| SocketAddr::new(ip, port))
}

/// Copies bytes both ways until either side closes.
fn pipe(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let (mut a, mut b) = (a, b);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a);
    let _ = a.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

/// An HTTP proxy: `CONNECT` opens a tunnel (unless `refuse_connect`), an absolute-form request
/// is sent on to its origin in origin form with `Connection: close`. `.test` hosts go to
/// `origin`.
fn http_proxy(origin: SocketAddr, refuse_connect: bool) -> Proxy {
    let (listener, proxy) = bind();
    let log = proxy.asked.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let first = head.lines().next().unwrap_or("").to_owned();
                {
                    let mut l = log.lock().unwrap();
                    l.lines.push(first.clone());
                    l.heads.push(head.clone());
                }
                let mut parts = first.split(' ');
                let (method, uri) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let mut client = conn;
                if method == "CONNECT" {
                    if refuse_connect {
                        let _ = client
                            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
                        return;
                    }
                    let (h, p) = uri.rsplit_once(':').unwrap();
                    let Some(to) = target(h, p.parse().unwrap(), origin) else {
                        return;
                    };
                    let Ok(up) = TcpStream::connect(to) else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap();
                    pipe(client, up);
                    return;
                }
                // Absolute form: http://host:port/path
                let rest = uri.strip_prefix("http://").unwrap_or("");
                let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let (h, p) = authority.rsplit_once(':').unwrap_or((authority, "80"));
                let Some(to) = target(h, p.parse().unwrap_or(80), origin) else {
                    return;
                };
                let Ok(mut up) = TcpStream::connect(to) else {
                    let _ =
                        client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
                    return;
                };
                let mut out = format!("{method} {path} HTTP/1.1\r\n");
                for l in head.lines().skip(1).filter(|l| !l.is_empty()) {
                    let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
                    if !name.starts_with("proxy-") && name != "connection" {
                        out.push_str(l);
                        out.push_str("\r\n");
                    }
                }
                out.push_str("Connection: close\r\n\r\n");
                up.write_all(out.as_bytes()).unwrap();
                // The origin answers, then sees the end of its input and closes.
                let _ = up.shutdown(std::net::Shutdown::Write);
                let mut reply = Vec::new();
                let _ = up.read_to_end(&mut reply);
                let _ = client.write_all(&reply);
            });
        }
    });
    proxy
}

/// A SOCKS5 proxy (RFC 1928), with RFC 1929 credentials when `creds` is given; it records each
/// target as `name HOST:PORT` or `addr IP:PORT`.
fn socks5_proxy(origin: SocketAddr, creds: Option<(&'static str, &'static str)>) -> Proxy {
    let (listener, proxy) = bind();
    let log = proxy.asked.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut hello = [0u8; 2];
                c.read_exact(&mut hello).unwrap();
                let mut methods = vec![0u8; usize::from(hello[1])];
                c.read_exact(&mut methods).unwrap();
                match creds {
                    Some((user, pass)) => {
                        c.write_all(&[5, 2]).unwrap();
                        let mut v = [0u8; 2];
                        c.read_exact(&mut v).unwrap();
                        let mut u = vec![0u8; usize::from(v[1])];
                        c.read_exact(&mut u).unwrap();
                        let mut pl = [0u8; 1];
                        c.read_exact(&mut pl).unwrap();
                        let mut p = vec![0u8; usize::from(pl[0])];
                        c.read_exact(&mut p).unwrap();
                        let ok = u == user.as_bytes() && p == pass.as_bytes();
                        c.write_all(&[1, if ok { 0 } else { 1 }]).unwrap();
                        if !ok {
                            return;
                        }
                    }
                    None => c.write_all(&[5, 0]).unwrap(),
                }
                let mut req = [0u8; 4];
                c.read_exact(&mut req).unwrap();
                let (seen, host) = match req[3] {
                    1 => {
                        let mut a = [0u8; 4];
                        c.read_exact(&mut a).unwrap();
                        let ip = std::net::Ipv4Addr::from(a);
                        ("addr", ip.to_string())
                    }
                    3 => {
                        let mut l = [0u8; 1];
                        c.read_exact(&mut l).unwrap();
                        let mut n = vec![0u8; usize::from(l[0])];
                        c.read_exact(&mut n).unwrap();
                        ("name", String::from_utf8(n).unwrap())
                    }
                    _ => return,
                };
                let mut port = [0u8; 2];
                c.read_exact(&mut port).unwrap();
                let port = u16::from_be_bytes(port);
                log.lock()
                    .unwrap()
                    .lines
                    .push(format!("{seen} {host}:{port}"));
                let Some(to) = target(&host, port, origin) else {
                    return;
                };
                match TcpStream::connect(to) {
                    Ok(up) => {
                        c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).unwrap();
                        pipe(c, up);
                    }
                    Err(_) => {
                        let _ = c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
                    }
                }
            });
        }
    });
    proxy
}

/// A port nothing listens on (bound, then let go).
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `fetch -f jsonl` of `urls` with `extra` arguments and `env`.
fn fetch(urls: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Vec<Value> {
    let mut args = vec!["fetch", "-q", "-f", "jsonl", "--retries", "0"];
    for u in urls {
        args.extend(["-u", u]);
    }
    args.extend(extra);
    records(&run(&args, env))
}

fn origin() -> Scripted {
    Scripted::start(|req| {
        let body = format!("origin saw {}", req.line());
        answer("200 OK", &["Content-Type: text/plain"], body.as_bytes())
    })
}

#[test]
fn an_http_proxy_gets_the_absolute_form_with_its_credentials() {
    let srv = origin();
    let proxy = http_proxy(srv.addr, false);
    let port = srv.addr.port();
    let url = format!("http://origin.test:{port}/a?b=c");
    let pin = format!("origin.test:{port}:");
    let px = format!("http://me:s%40id@{}", proxy.addr);
    let r = fetch(&[&url], &["-x", &px, "--resolve", &pin], &[]);
    assert!(r[0]["error"].is_null(), "{}", r[0]);
    assert_eq!(
        r[0]["proxy"],
        format!("http://{}", proxy.addr),
        "no credentials shown"
    );
    let asked = proxy.asked();
    assert_eq!(asked.lines, [format!("GET {url} HTTP/1.1")]);
    // me:s@id in base64
    assert!(
        asked.heads[0].contains("Proxy-Authorization: Basic bWU6c0BpZA==\r\n"),
        "{}",
        asked.heads[0]
    );
    assert!(asked.heads[0].contains(&format!("Host: origin.test:{port}\r\n")));
    let body = run(
        &["fetch", "-q", "-x", &px, "--resolve", &pin, "-u", &url],
        &[],
    );
    assert_eq!(body.stdout, b"origin saw GET /a?b=c HTTP/1.1");
}

#[test]
fn https_goes_through_a_connect_tunnel() {
    let (tls, der) = crate::green_ureq::tls_server("tunnelled hello");
    let dir = std::env::temp_dir().join(format!("greenfetch-proxy-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.der");
    std::fs::write(&ca, der).unwrap();
    let proxy = http_proxy(tls, false);
    let url = format!("https://localhost:{}/", tls.port());
    let pin = format!("localhost:{}:", tls.port());
    let px = proxy.addr.to_string(); // no scheme: http
    let out = run(
        &[
            "fetch",
            "-q",
            "-x",
            &px,
            "--resolve",
            &pin,
            "--cacert",
            ca.to_str().unwrap(),
            "-u",
            &url,
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"tunnelled hello");
    assert_eq!(
        proxy.asked().lines,
        [format!("CONNECT localhost:{} HTTP/1.1", tls.port())]
    );
    // A proxy that refuses the tunnel is the `proxy` kind, naming it and the answer.
    let refusing = http_proxy(tls, true);
    let px = format!("http://{}", refusing.addr);
    let r = fetch(&[&url], &["-x", &px, "--resolve", &pin], &[]);
    assert_eq!(r[0]["error"]["kind"], "proxy", "{}", r[0]);
    assert_eq!(
        r[0]["error"]["message"],
        format!(
            "proxy {px} refused the tunnel to localhost:{}: HTTP 403 Forbidden",
            tls.port()
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn socks5h_sends_the_name_and_socks5_the_address() {
    let srv = origin();
    let port = srv.addr.port();
    let pin = format!("origin.test:{port}:");
    let by_name = socks5_proxy(srv.addr, Some(("me", "pw")));
    let url = format!("http://origin.test:{port}/x");
    let px = format!("socks5h://me:pw@{}", by_name.addr);
    let r = fetch(&[&url], &["--resolve", &pin], &[("ALL_PROXY", &px)]);
    assert!(r[0]["error"].is_null(), "{}", r[0]);
    assert_eq!(r[0]["proxy"], format!("socks5h://{}", by_name.addr));
    assert_eq!(by_name.asked().lines, [format!("name origin.test:{port}")]);

    // socks5: resolved here (through --resolve), the address sent.
    let by_addr = socks5_proxy(srv.addr, None);
    let pin = format!("origin.test:{port}:127.0.0.1");
    let px = format!("socks5://{}", by_addr.addr);
    let r = fetch(&[&url], &["--resolve", &pin, "-x", &px], &[]);
    assert!(r[0]["error"].is_null(), "{}", r[0]);
    assert_eq!(by_addr.asked().lines, [format!("addr 127.0.0.1:{port}")]);

    // Wrong credentials: the proxy's refusal, as `proxy`.
    let px = format!("socks5h://me:wrong@{}", by_name.addr);
    let r = fetch(
        &[&url],
        &["--resolve", &format!("origin.test:{port}:"), "-x", &px],
        &[],
    );
    assert_eq!(r[0]["error"]["kind"], "proxy", "{}", r[0]);
    assert!(
        r[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rejected the user name and password")
    );
}

#[test]
fn curls_variables_choose_the_proxy() {
    let srv = origin();
    let url = srv.url("/v");
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let kind =
        |env: &[(&str, &str)]| -> Value { fetch(&[&url], &[], env)[0]["error"]["kind"].clone() };
    // A dead proxy fails every URL as `proxy`, naming it.
    let r = fetch(&[&url, &url], &[], &[("http_proxy", &dead)]);
    for rec in &r {
        assert_eq!(rec["error"]["kind"], "proxy", "{rec}");
        let msg = rec["error"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!(
                "proxy {dead} cannot be reached: connection refused"
            )),
            "{msg}"
        );
    }
    assert_eq!(kind(&[("ALL_PROXY", &dead)]), "proxy");
    assert_eq!(kind(&[("all_proxy", &dead)]), "proxy");
    // ... and with the host in NO_PROXY it is not used.
    assert!(kind(&[("http_proxy", &dead), ("NO_PROXY", "127.0.0.1")]).is_null());
    assert!(
        kind(&[
            ("http_proxy", &dead),
            ("no_proxy", "10.0.0.0/8, 127.0.0.0/8")
        ])
        .is_null()
    );
    assert!(kind(&[("http_proxy", &dead), ("no_proxy", "*")]).is_null());
    // HTTP_PROXY is never read (curl: a CGI client can set it); HTTPS_PROXY is not for http.
    assert!(kind(&[("HTTP_PROXY", &dead)]).is_null());
    assert!(kind(&[("HTTPS_PROXY", &dead), ("https_proxy", &dead)]).is_null());
    // The command line wins: --proxy '' turns proxies off, --noproxy replaces NO_PROXY, -x
    // replaces the variables.
    let r = fetch(&[&url], &["--proxy", ""], &[("http_proxy", &dead)]);
    assert!(r[0]["error"].is_null(), "{}", r[0]);
    let r = fetch(
        &[&url],
        &["--noproxy", "127.0.0.1"],
        &[("http_proxy", &dead)],
    );
    assert!(r[0]["error"].is_null(), "{}", r[0]);
    let r = fetch(
        &[&url],
        &["--noproxy", "other.test"],
        &[("http_proxy", &dead), ("NO_PROXY", "127.0.0.1")],
    );
    assert_eq!(r[0]["error"]["kind"], "proxy");
    let good = http_proxy(srv.addr, false);
    let r = fetch(
        &[&url],
        &["-x", &good.addr.to_string()],
        &[("http_proxy", &dead)],
    );
    assert!(r[0]["error"].is_null(), "{}", r[0]);
    assert_eq!(good.asked().lines.len(), 1);
}

#[test]
fn titles_and_bench_honour_proxies_too() {
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let feeds = greenfetch::server::FixtureServer::start("127.0.0.1:0").unwrap();
    let url = format!("http://{}/feed/rss/1", feeds.addr());
    let out = run(
        &["titles", "-q", "-f", "jsonl", "--retries", "0", "-u", &url],
        &[("http_proxy", &dead)],
    );
    assert_eq!(records(&out)[0]["error"]["kind"], "proxy");
    let out = run(
        &["titles", "-q", "-f", "jsonl", "--retries", "0", "-u", &url],
        &[("http_proxy", &dead), ("no_proxy", "127.0.0.1")],
    );
    assert!(records(&out)[0]["error"].is_null());
    let target = format!("http://{}", feeds.addr());
    let bench = [
        "bench",
        "-q",
        "--target",
        &target,
        "--path",
        "/bytes/8",
        "-c",
        "2",
        "-n",
        "4",
        "--retries",
        "0",
        "--json",
        "-",
    ];
    let out = run(&bench, &[("http_proxy", &dead)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = report.to_string();
    assert!(
        text.contains("\"proxy\""),
        "errors by kind name proxy: {text}"
    );
    // The embedded server is in the process: reached directly whatever the environment says.
    let out = run(
        &[
            "bench", "-q", "--path", "/bytes/8", "-c", "2", "-n", "4", "--json", "-",
        ],
        &[("http_proxy", &dead)],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_proxy_per_redirect_hop() {
    // The first host is in NO_PROXY, the second is not: only the second hop goes through the
    // proxy.
    let second = origin();
    let to = format!("http://second.test:{}/end", second.addr.port());
    let first = Scripted::start(move |_| answer("302 Found", &[&format!("Location: {to}")], b""));
    let proxy = http_proxy(second.addr, false);
    let pin = format!("second.test:{}:", second.addr.port());
    let r = fetch(
        &[&first.url("/start")],
        &[
            "-x",
            &proxy.addr.to_string(),
            "--noproxy",
            "127.0.0.1",
            "--resolve",
            &pin,
        ],
        &[],
    );
    assert!(r[0]["error"].is_null(), "{}", r[0]);
    assert_eq!(
        r[0]["final_url"],
        format!("http://second.test:{}/end", second.addr.port())
    );
    assert_eq!(
        proxy.asked().lines,
        [format!(
            "GET http://second.test:{}/end HTTP/1.1",
            second.addr.port()
        )]
    );
    assert_eq!(first.seen().len(), 1);
}

#[test]
fn bad_proxy_settings_are_usage_errors_before_any_fetch() {
    let srv = origin();
    let url = srv.url("/never");
    for (args, env, says) in [
        (vec!["-x", "ftp://127.0.0.1:21"], vec![], "--proxy"),
        (vec!["-x", "http://127.0.0.1:99999"], vec![], "--proxy"),
        (
            vec![],
            vec![("https_proxy", "not a url at all")],
            "https_proxy",
        ),
        (
            vec![],
            vec![("ALL_PROXY", "gopher://127.0.0.1")],
            "ALL_PROXY",
        ),
    ] {
        let mut a = vec!["fetch", "-q", "-u", &url];
        a.extend(args);
        let out = run(&a, &env);
        assert_eq!(out.status.code(), Some(2), "{a:?} {env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{says} in {err}");
    }
    assert!(srv.seen().is_empty(), "nothing was fetched");
}
