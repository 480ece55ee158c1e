//! greenfetch beside curl against real servers nobody here wrote: nginx (gzip, TLS, redirects,
//! big heads), httpbin under gunicorn, Python's HTTP/1.0 `http.server`, tinyproxy and
//! microsocks. Each case is fetched by both (`curl -sS -L --compressed`) and must agree on the
//! status, the final URL, the body bytes (for answers below 400) and the error kind.
//!
//! The servers are Debian's and PyPI's packages, which `.ci/run` installs and then requires
//! (`GREENFETCH_CI=1`). Elsewhere a test whose servers are missing says so on
//! stderr and passes without checking anything; run `.ci/run`, or install them
//! (`apt-get install nginx-light tinyproxy microsocks curl`, `pip install httpbin gunicorn`).
//!
//! Every server listens on 127.0.0.1. nginx, tinyproxy and microsocks take their port from a
//! configuration, so each gets a port found free just before (bound to 127.0.0.1:0 and let
//! go); gunicorn and `http.server` bind port 0 themselves and say which port they got. Each is
//! stopped by its PID when its test ends.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, stopped (SIGTERM, then waited for) when dropped.
struct Proc {
    child: Child,
    what: &'static str,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p =
            std::env::temp_dir().join(format!("greenfetch-realweb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether every program in `needed` is installed; if not, the test is skipped (or fails,
/// when `.ci/run` requires the real servers).
fn have(needed: &[&str]) -> bool {
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {p}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let required = std::env::var("GREENFETCH_CI").is_ok();
    assert!(
        !required,
        "real servers required, but not installed: {missing:?}"
    );
    eprintln!("skipped: not installed: {missing:?} (see tests/realweb.rs)");
    false
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `addr` accepts a connection (polling: a process has no readiness event).
fn ready(addr: SocketAddr, p: &mut Proc) {
    let until = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("{} exited before listening: {status}", p.what);
        }
        assert!(
            Instant::now() < until,
            "{} did not listen on {addr} in 20 s",
            p.what
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(what: &'static str, cmd: &mut Command) -> Proc {
    let child = cmd
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    Proc { child, what }
}

/// Starts a server that binds port 0 and reports its port in a line on stderr that contains
/// `marker` followed (after any characters) by the port's digits ending the line or before a
/// space: gunicorn's `Listening at: http://127.0.0.1:PORT`, http.server's `port PORT`.
fn start_reporting(what: &'static str, cmd: &mut Command, stream_is_stdout: bool) -> (Proc, u16) {
    if stream_is_stdout {
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    } else {
        cmd.stderr(Stdio::piped()).stdout(Stdio::null());
    }
    let mut p = start(what, cmd);
    let out: Box<dyn std::io::Read + Send> = if stream_is_stdout {
        Box::new(p.child.stdout.take().unwrap())
    } else {
        Box::new(p.child.stderr.take().unwrap())
    };
    let mut lines = BufReader::new(out).lines();
    let port = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{what} ended before saying its port"))
            .unwrap();
        let Some(at) = line
            .find("127.0.0.1")
            .map(|i| &line[i + "127.0.0.1".len()..])
        else {
            continue;
        };
        let digits: String = at
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(port) = digits.parse::<u16>() {
            if port != 0 {
                break port;
            }
        }
    };
    // Keep draining the pipe so the server never blocks writing its log.
    std::thread::spawn(move || for _ in lines {});
    ready(SocketAddr::from(([127, 0, 0, 1], port)), &mut p);
    (p, port)
}

/// Python's `http.server` (HTTP/1.0, no keep-alive) serving `www`, and its port.
fn http_server(www: &Path) -> (Proc, u16) {
    let mut cmd = Command::new("python3");
    cmd.args([
        "-u",
        "-m",
        "http.server",
        "0",
        "--bind",
        "127.0.0.1",
        "--directory",
    ])
    .arg(www);
    start_reporting("python3 -m http.server", &mut cmd, true)
}

/// A self-signed certificate for 127.0.0.1 and localhost, as PEM files in `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    (c, k)
}

/// nginx on one plain and one TLS port, serving `www` with gzip on and a few fixed answers.
fn nginx(dir: &Path) -> (Proc, u16, u16) {
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("dir")).unwrap();
    std::fs::write(www.join("index.html"), "<p>hello from nginx</p>\n").unwrap();
    let text: String = (0..4000)
        .map(|i| format!("line {i} of a text nginx gzips\n"))
        .collect();
    std::fs::write(www.join("big.txt"), text).unwrap();
    std::fs::write(www.join("data.json"), "{\"a\": [1, 2, 3]}\n").unwrap();
    std::fs::write(www.join("dir").join("index.html"), "in dir\n").unwrap();
    let (cert, key) = certificate(dir);
    let (http, https) = (free_port(), free_port());
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/t1; proxy_temp_path {d}/t2;\n  \
         fastcgi_temp_path {d}/t3; uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;\n  \
         default_type application/octet-stream;\n  types {{ text/html html; text/plain txt; application/json json; }}\n  \
         gzip on; gzip_types text/plain application/json; gzip_min_length 0;\n  \
         large_client_header_buffers 4 64k;\n  \
         server {{\n    listen 127.0.0.1:{http};\n    listen 127.0.0.1:{https} ssl;\n    \
         ssl_certificate {cert}; ssl_certificate_key {key};\n    root {www};\n    \
         location = /moved {{ return 301 /index.html; }}\n    \
         location = /found-abs {{ return 302 http://127.0.0.1:{http}/big.txt; }}\n    \
         location = /to-tls {{ return 302 https://127.0.0.1:{https}/index.html; }}\n    \
         location = /loop {{ return 302 /loop; }}\n    \
         location = /not-modified {{ return 304; }}\n    \
         location = /choices {{ return 300; }}\n    \
         location = /echo-uri {{ add_header X-Uri $request_uri; return 200 \"ok\\n\"; }}\n    \
         location = /two-types {{ add_header Content-Type text/x-second; return 200 \"two\\n\"; }}\n    \
         location = /teapot {{ return 418 \"tea\\n\"; }}\n  }}\n}}\n",
        cert = cert.display(),
        key = key.display(),
        www = www.display(),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let mut p = start(
        "nginx",
        Command::new("nginx")
            .args(["-e", &format!("{d}/error.log"), "-c"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    ready(SocketAddr::from(([127, 0, 0, 1], http)), &mut p);
    ready(SocketAddr::from(([127, 0, 0, 1], https)), &mut p);
    (p, http, https)
}

/// How a case runs: its URL, the arguments both tools get, extra arguments for each, and
/// variables.
#[derive(Debug, Clone, Default)]
struct Case {
    url: String,
    both: Vec<String>,
    curl: Vec<String>,
    gf: Vec<String>,
    env: Vec<(String, String)>,
    /// The kind greenfetch must give where it departs from curl on purpose (and says why).
    kind: Option<&'static str>,
}

fn case(url: impl Into<String>) -> Case {
    Case {
        url: url.into(),
        ..Case::default()
    }
}

impl Case {
    fn args(mut self, a: &[&str]) -> Case {
        self.both.extend(a.iter().map(|s| (*s).to_owned()));
        self
    }
    fn env(mut self, k: &str, v: &str) -> Case {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }
    fn expect_kind(mut self, kind: &'static str) -> Case {
        self.kind = Some(kind);
        self
    }
}

/// curl's exit codes as greenfetch's error kinds.
fn curl_kind(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => return None,
        1 => "unsupported_scheme",
        3 => "not_a_url",
        5 | 97 => "proxy",
        6 => "dns",
        7 => "connect",
        8 | 16 => "protocol",
        18 => "truncated",
        22 => "http_status",
        28 => "timeout",
        35 | 60 => "tls",
        47 => "too_many_redirects",
        52 | 56 => "connection_reset",
        61 => "decoding",
        _ => "curl_other",
    })
}

/// Clears what `util::greenfetch` clears (curl reads the same variables), and curl's own
/// `CURL_HOME`, then sets `env`.
fn hermetic(cmd: &mut Command, env: &[(String, String)]) {
    for var in crate::util::AMBIENT.iter().chain(&["CURL_HOME"]) {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
}

/// Runs one case through curl and greenfetch; the differences, in words.
fn compare(c: &Case, scratch: &Path) -> Vec<String> {
    let body_file = scratch.join("curl.body");
    let _ = std::fs::remove_file(&body_file);
    let mut curl = Command::new("curl");
    curl.args([
        "-sS",
        "-L",
        "--compressed",
        "--max-redirs",
        "10",
        "-A",
        "realweb/1",
    ])
    .args(&c.both)
    .args(&c.curl)
    .arg("-o")
    .arg(&body_file)
    .args(["-w", "%{http_code}\t%{url_effective}", &c.url]);
    hermetic(&mut curl, &c.env);
    let curl = curl.output().expect("curl runs");
    let curl_body = std::fs::read(&body_file).unwrap_or_default();
    let curl_out = String::from_utf8_lossy(&curl.stdout).into_owned();
    let (status, final_url) = curl_out.split_once('\t').unwrap_or(("000", ""));
    let status: u16 = status.parse().unwrap_or(0);
    let code = curl.status.code().unwrap_or(-1);

    let gf = |format: &str| {
        let mut cmd = crate::util::greenfetch();
        cmd.args([
            "fetch",
            "-q",
            "--retries",
            "0",
            "-A",
            "realweb/1",
            "-f",
            format,
        ])
        .args(&c.both)
        .args(&c.gf)
        .args(["-u", &c.url])
        .stdin(Stdio::null());
        hermetic(&mut cmd, &c.env);
        cmd.output().expect("greenfetch runs")
    };
    let rec = crate::util::records(&gf("jsonl"));
    let rec = &rec[0];
    let raw = gf("raw");

    let mut diffs = Vec::new();
    let want_kind = match (code, status) {
        (0, 400..) => Some("http_status"),
        _ => c.kind.or(curl_kind(code)),
    };
    let kind = rec["error"]["kind"].as_str();
    if kind != want_kind {
        diffs.push(format!(
            "kind: curl {want_kind:?} (exit {code}: {}), greenfetch {kind:?} ({})",
            String::from_utf8_lossy(&curl.stderr).trim(),
            rec["error"]["message"]
        ));
    }
    if status != 0 && rec["status"].as_u64() != Some(u64::from(status)) {
        diffs.push(format!(
            "status: curl {status}, greenfetch {}",
            rec["status"]
        ));
    }
    if code == 0 {
        if rec["final_url"].as_str() != Some(final_url) {
            diffs.push(format!(
                "final URL: curl {final_url}, greenfetch {}",
                rec["final_url"]
            ));
        }
        if status < 400 && raw.stdout != curl_body {
            diffs.push(format!(
                "body: curl {} bytes, greenfetch {} bytes",
                curl_body.len(),
                raw.stdout.len()
            ));
        }
    }
    diffs
}

/// Runs every case and fails with the list of disagreements.
fn agree(cases: &[Case], scratch: &Path) {
    let mut bad = BTreeMap::new();
    for c in cases {
        let d = compare(c, scratch);
        if !d.is_empty() {
            bad.insert(format!("{} {:?} {:?}", c.url, c.both, c.env), d);
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} cases disagree with curl: {bad:#?}",
        bad.len(),
        cases.len()
    );
}

#[test]
fn nginx_agrees_with_curl() {
    if !have(&["nginx", "curl"]) {
        return;
    }
    let dir = Scratch::new("nginx");
    let (_nginx, http, https) = nginx(&dir.0);
    let n = format!("http://127.0.0.1:{http}");
    let s = format!("https://127.0.0.1:{https}");
    let k = ["-k"];
    let mut cases: Vec<Case> = [
        "/index.html",
        "/big.txt",
        "/data.json",
        "/moved",
        "/found-abs",
        "/to-tls",
        "/not-modified",
        "/choices",
        "/two-types",
        "/teapot",
        "/missing",
        "/dir",
        "/dir/",
        "/a/../index.html",
        "/index.html?",
        "/echo-uri?x=1&y=2",
    ]
    .iter()
    .map(|p| case(format!("{n}{p}")).args(&k))
    .collect();
    cases.push(case(format!("{n}/loop")).args(&k));
    // A request head over 4 KiB and a response head over 16 KiB (nginx echoes the URI).
    cases.push(case(format!("{n}/echo-uri?{}", "q".repeat(30_000))).args(&k));
    cases.push(
        case(format!("{n}/index.html")).args(&["-H", &format!("X-Big: {}", "b".repeat(20_000))]),
    );
    cases.push(case(format!("{s}/index.html")).args(&k));
    cases.push(
        case(format!("{s}/big.txt"))
            .args(&["--cacert", &dir.0.join("cert.pem").display().to_string()]),
    );
    cases.push(case(format!("{s}/index.html"))); // untrusted: tls
    cases.push(case(format!("https://127.0.0.1:{http}/")).args(&k)); // not TLS: tls
    agree(&cases, &dir.0);
}

#[test]
fn httpbin_agrees_with_curl() {
    if !have(&["gunicorn", "curl"]) {
        return;
    }
    let dir = Scratch::new("httpbin");
    let (_gunicorn, port) = start_reporting(
        "gunicorn",
        Command::new("gunicorn").args(["-b", "127.0.0.1:0", "-w", "2", "httpbin:app"]),
        false,
    );
    let h = format!("http://127.0.0.1:{port}");
    let mut cases: Vec<Case> = [
        "/get",
        "/gzip",
        "/deflate",
        "/brotli",
        "/redirect/3",
        "/absolute-redirect/2",
        "/relative-redirect/2",
        "/redirect-to?url=/get",
        "/redirect-to?url=/get&status_code=307",
        "/status/304",
        "/status/204",
        "/status/404",
        "/status/500",
        "/status/301",
        "/basic-auth/u/p",
        "/response-headers?Content-Type=text/a&Content-Type=text/b",
        "/stream/5",
        "/html",
        "/xml",
        "/robots.txt",
        "/encoding/utf8",
        "/image/png",
        "/cache",
        "/redirect/11",
        "/links/3/0",
    ]
    .iter()
    .map(|p| case(format!("{h}{p}")))
    .collect();
    cases.push(case(format!("{h}/basic-auth/u/p")).args(&["--user", "u:p"]));
    cases.push(case(format!("http://u:p@127.0.0.1:{port}/basic-auth/u/p")));
    cases.push(case(format!("{h}/post")).args(&["-d", "a=b", "-d", "c=d"]));
    cases.push(case(format!("{h}/anything")).args(&["-X", "PUT", "--data-binary", "x y"]));
    cases.push(case(format!("{h}/post")).args(&["--json", "{\"a\": 1}"]));
    for st in ["301", "302", "303", "307", "308"] {
        cases.push(
            case(format!("{h}/redirect-to?url=/anything&status_code={st}")).args(&["-d", "x=y"]),
        );
    }
    cases.push(case(format!("{h}/headers")).args(&["-H", "Authorization: Bearer t"]));
    cases.push(
        case(format!(
            "{h}/redirect-to?url=http://localhost:{port}/headers"
        ))
        .args(&["-H", "Authorization: Bearer t"]),
    );
    agree(&cases, &dir.0);
}

#[test]
fn python_http_server_agrees_with_curl() {
    if !have(&["python3", "curl"]) {
        return;
    }
    let dir = Scratch::new("pyhttp");
    let www = dir.0.join("www");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("a.txt"), "served over HTTP/1.0\n").unwrap();
    std::fs::write(www.join("sub").join("b.html"), "<b>b</b>\n").unwrap();
    let (_py, port) = http_server(&www);
    let p = format!("http://127.0.0.1:{port}");
    let cases: Vec<Case> = ["/", "/a.txt", "/sub", "/sub/", "/sub/b.html", "/missing"]
        .iter()
        .map(|x| case(format!("{p}{x}")))
        .collect();
    agree(&cases, &dir.0);
}

#[test]
fn real_proxies_agree_with_curl() {
    if !have(&["tinyproxy", "microsocks", "python3", "curl"]) {
        return;
    }
    let dir = Scratch::new("proxies");
    let www = dir.0.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("a.txt"), "through a proxy\n").unwrap();
    let (_py, port) = http_server(&www);
    let tp = free_port();
    let conf = dir.0.join("tinyproxy.conf");
    std::fs::write(&conf, format!("Port {tp}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 50\nLogLevel Critical\n")).unwrap();
    let mut tiny = start(
        "tinyproxy",
        Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    ready(SocketAddr::from(([127, 0, 0, 1], tp)), &mut tiny);
    let ms = free_port();
    let mut socks = start(
        "microsocks",
        Command::new("microsocks")
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &ms.to_string(),
                "-u",
                "me",
                "-P",
                "pw",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    ready(SocketAddr::from(([127, 0, 0, 1], ms)), &mut socks);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let url = format!("http://127.0.0.1:{port}/a.txt");
    let tiny_url = format!("http://127.0.0.1:{tp}");
    let cases = vec![
        case(&url).env("http_proxy", &tiny_url),
        case(&url).args(&["-x", &tiny_url]),
        case(format!("http://127.0.0.1:{port}/missing")).env("http_proxy", &tiny_url),
        case(&url).env("ALL_PROXY", &format!("socks5h://me:pw@127.0.0.1:{ms}")),
        case(&url).env("all_proxy", &format!("socks5://me:pw@127.0.0.1:{ms}")),
        case(&url).env("HTTP_PROXY", &dead),  // ignored by both
        case(&url).env("https_proxy", &dead), // not for http://
        case(&url)
            .env("http_proxy", &dead)
            .env("NO_PROXY", "127.0.0.1"),
        case(&url)
            .env("http_proxy", &dead)
            .args(&["--noproxy", "*"]),
        case(&url).env("http_proxy", &dead).args(&["--proxy", ""]),
        // curl says "connect" (exit 7) for a proxy it cannot reach; greenfetch says `proxy`,
        // naming it, so that a dead proxy is not mistaken for a dead site.
        case(&url).env("http_proxy", &dead).expect_kind("proxy"),
        case(&url).env("ALL_PROXY", &dead).expect_kind("proxy"),
    ];
    agree(&cases, &dir.0);
    drop((tiny, socks));
}
