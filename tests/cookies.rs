//! Cookies end to end (`-b/--cookie`, `--cookie-jar`), through the binary against scripted
//! servers (`util::Scripted`): a login redirect chain, cookies kept to their hosts, paths and
//! schemes, expiry, how `-b` pairs and `-H Cookie` join the engine's line, the jar in curl's
//! format (read back by greenfetch and by curl, and curl's read by greenfetch), `titles` and
//! `bench`, and bad cookie options as usage errors.
//!
//! Every server binds 127.0.0.1:0; names other than 127.0.0.1 are given by `--resolve`. The
//! binary runs hermetically (`util::greenfetch`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use crate::util::{Scripted, Seen, answer};

/// Runs `greenfetch ARGS` (no stdin); no panic may reach the user.
fn run(args: &[&str]) -> Output {
    crate::util::output(crate::util::greenfetch().args(args))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh directory for this test's files.
fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("greenfetch-cookies-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn path_of(req: &Seen) -> &str {
    req.line().split(' ').nth(1).unwrap_or("")
}

/// The request's `Cookie` header lines.
fn cookie_lines(req: &Seen) -> Vec<String> {
    req.head
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("cookie")
                .then(|| v.trim().to_owned())
        })
        .collect()
}

/// The cookie names and values of the request's one `Cookie` line, as a set.
fn cookie_set(req: &Seen) -> BTreeSet<String> {
    let lines = cookie_lines(req);
    assert!(lines.len() <= 1, "one Cookie line at most: {lines:?}");
    lines
        .first()
        .map(|l| l.split("; ").map(str::to_owned).collect())
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The last request the server saw for `path`.
fn last_for(srv: &Scripted, path: &str) -> Seen {
    srv.seen()
        .into_iter()
        .rev()
        .find(|s| path_of(s) == path)
        .unwrap_or_else(|| panic!("no request for {path}"))
}

#[test]
fn a_login_redirect_chain_works_with_the_engine_on_and_not_without() {
    // POST /login answers 302 with the session cookie; /private wants it.
    let srv = Scripted::start(|req| match (req.line(), req.body.as_slice()) {
        ("POST /login HTTP/1.1", b"user=ann&pass=pw") => answer(
            "302 Found",
            &[
                "Location: /private",
                "Set-Cookie: session=s1; Path=/; HttpOnly",
            ],
            b"",
        ),
        ("GET /private HTTP/1.1", _) if cookie_set(req).contains("session=s1") => {
            answer("200 OK", &[], b"private page for ann\n")
        }
        _ => answer("403 Forbidden", &[], b"log in first\n"),
    });
    let login = srv.url("/login");
    let base = [
        "fetch",
        "-q",
        "--retries",
        "0",
        "-d",
        "user=ann&pass=pw",
        "-u",
    ];

    let mut args = base.to_vec();
    args.push(&login);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1), "no cookies unless asked for");
    assert!(
        stderr(&out).contains("http_status: HTTP 403"),
        "{}",
        stderr(&out)
    );
    assert!(last_for(&srv, "/private").header("cookie").is_none());

    let dir = tempdir("login");
    let jar = dir.join("jar.txt");
    let jar_arg = jar.to_str().unwrap();
    for on in [&["-b", ""][..], &["--cookie-jar", jar_arg][..]] {
        let mut args = base.to_vec();
        args.push(&login);
        args.extend(on);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{on:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "private page for ann\n", "{on:?}");
        assert_eq!(
            cookie_set(&last_for(&srv, "/private")),
            set(&["session=s1"])
        );
    }
    let written = std::fs::read_to_string(&jar).unwrap();
    assert!(
        written.contains("\n#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\ts1\n"),
        "{written}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cookies_keep_to_their_hosts_paths_and_schemes_and_join_b_and_h_in_one_line() {
    let away = Scripted::start(|_| answer("200 OK", &[], b"landed\n"));
    let away_port = away.addr.port();
    let shop = Scripted::start(move |req| match path_of(req) {
        "/start" => answer(
            "302 Found",
            &[
                "Location: /next",
                "Set-Cookie: host=1",
                "Set-Cookie: sec=2; Secure",
                "Set-Cookie: admin=3; Path=/admin",
                "Set-Cookie: wide=4; Domain=shop.test; Path=/",
                "Set-Cookie: foreign=5; Domain=away.test",
            ],
            b"",
        ),
        "/next" => answer(
            "302 Found",
            &[&format!("Location: http://away.test:{away_port}/landed")],
            b"",
        ),
        _ => answer("404 Not Found", &[], b""),
    });
    let shop_port = shop.addr.port();
    let start = format!("http://shop.test:{shop_port}/start");
    let resolve_shop = format!("shop.test:{shop_port}:127.0.0.1");
    let resolve_away = format!("away.test:{away_port}:127.0.0.1");
    let out = run(&[
        "fetch",
        "-q",
        "--retries",
        "0",
        "--resolve",
        &resolve_shop,
        "--resolve",
        &resolve_away,
        "-b",
        "fixed=1",
        "-H",
        "Cookie: hdr=2",
        "-u",
        &start,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "landed\n");
    // Before any cookie: -b's pairs, then -H's value, in one line.
    assert_eq!(cookie_lines(&last_for(&shop, "/start")), ["fixed=1; hdr=2"]);
    // The engine's cookies first: not `sec` (Secure, plain http to a name that is not
    // loopback), not `admin` (another path), not `foreign` (another domain).
    assert_eq!(
        cookie_lines(&last_for(&shop, "/next")),
        ["host=1; wide=4; fixed=1; hdr=2"]
    );
    // Another host: none of the engine's cookies, no -H Cookie (a credential), -b's pairs
    // (curl sends them everywhere).
    assert_eq!(cookie_lines(&last_for(&away, "/landed")), ["fixed=1"]);

    // `-H 'Cookie:'` sends no Cookie header at all, the engine still on.
    let out = run(&[
        "fetch",
        "-q",
        "--resolve",
        &resolve_shop,
        "--resolve",
        &resolve_away,
        "-b",
        "",
        "-H",
        "Cookie:",
        "-u",
        &start,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(cookie_lines(&last_for(&shop, "/next")).is_empty());
}

#[test]
fn an_expired_cookie_is_removed_and_not_written() {
    let srv = Scripted::start(|req| match path_of(req) {
        "/set" => answer(
            "302 Found",
            &[
                "Location: /expire",
                "Set-Cookie: a=1",
                "Set-Cookie: b=2; Max-Age=600",
            ],
            b"",
        ),
        "/expire" => answer(
            "302 Found",
            &["Location: /check", "Set-Cookie: a=gone; Max-Age=0"],
            b"",
        ),
        _ => answer(
            "200 OK",
            &[],
            req.header("cookie").unwrap_or_default().as_bytes(),
        ),
    });
    let dir = tempdir("expiry");
    let jar = dir.join("jar");
    let out = run(&[
        "fetch",
        "-q",
        "--cookie-jar",
        jar.to_str().unwrap(),
        "-u",
        &srv.url("/set"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "b=2");
    assert_eq!(cookie_set(&last_for(&srv, "/expire")), set(&["a=1", "b=2"]));
    let written = std::fs::read_to_string(&jar).unwrap();
    let cookies: Vec<&str> = written
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(cookies.len(), 1, "{written}");
    let fields: Vec<&str> = cookies[0].split('\t').collect();
    assert_eq!(
        (
            fields[0], fields[1], fields[2], fields[3], fields[5], fields[6]
        ),
        ("127.0.0.1", "FALSE", "/", "FALSE", "b", "2")
    );
    let expires: u64 = fields[4].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now + 500..=now + 600).contains(&expires),
        "{expires} vs {now}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The cookies the jar tests set, on `app.test`: a session cookie (HttpOnly), a persistent
/// one, a domain cookie and a Secure one (kept, but not sent over plain http to a name).
fn setter() -> Scripted {
    Scripted::start(|req| match path_of(req) {
        "/set" => answer(
            "200 OK",
            &[
                "Set-Cookie: sid=s; HttpOnly",
                "Set-Cookie: pref=p; Max-Age=3600; Path=/",
                "Set-Cookie: dom=d; Domain=app.test; Path=/",
                "Set-Cookie: sec=x; Secure; Path=/",
            ],
            b"set\n",
        ),
        _ => answer("200 OK", &[], b"checked\n"),
    })
}

/// curl, without the environment's proxies.
fn curl() -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "--noproxy", "*"]);
    for var in [
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn the_jar_is_curls_format_and_greenfetch_and_curl_read_each_others() {
    let srv = setter();
    let port = srv.addr.port();
    let resolve = format!("app.test:{port}:127.0.0.1");
    let set_url = format!("http://app.test:{port}/set");
    let check_url = format!("http://app.test:{port}/check");
    let dir = tempdir("jar");
    let jar = dir.join("cookies.txt");
    let jar_arg = jar.to_str().unwrap();
    let fetch = |extra: &[&str], url: &str| {
        let mut args = vec!["fetch", "-q", "--resolve", &resolve];
        args.extend(extra);
        args.extend(["-u", url]);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
    };
    let sent = set(&["sid=s", "pref=p", "dom=d"]);

    // greenfetch writes the jar ...
    fetch(&["--cookie-jar", jar_arg], &set_url);
    let written = std::fs::read_to_string(&jar).unwrap();
    let mut lines = written.lines();
    assert_eq!(lines.next(), Some("# Netscape HTTP Cookie File"));
    let cookies: BTreeSet<String> = lines
        .filter(|l| !l.is_empty() && (!l.starts_with('#') || l.starts_with("#HttpOnly_")))
        .map(|l| {
            // The expiry of the persistent cookie is a time: check it is one, then drop it.
            let mut f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 7, "{l:?}");
            if f[5] == "pref" {
                assert!(f[4].parse::<u64>().unwrap() > 1_700_000_000, "{l:?}");
                f[4] = "T";
            }
            f.join("\t")
        })
        .collect();
    assert_eq!(
        cookies,
        set(&[
            "#HttpOnly_app.test\tFALSE\t/\tFALSE\t0\tsid\ts",
            "app.test\tFALSE\t/\tFALSE\tT\tpref\tp",
            ".app.test\tTRUE\t/\tFALSE\t0\tdom\td",
            "app.test\tFALSE\t/\tTRUE\t0\tsec\tx",
        ])
    );

    // ... greenfetch reads it back ...
    fetch(&["-b", jar_arg], &check_url);
    assert_eq!(cookie_set(&last_for(&srv, "/check")), sent);

    // ... and so does curl (the machine image has curl 7.88; .ci/run installs it if not).
    let out = curl()
        .args(["-b", jar_arg, "--resolve", &resolve, &check_url])
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "curl: {}", stderr(&out));
    assert_eq!(cookie_set(&last_for(&srv, "/check")), sent);

    // A jar curl wrote, greenfetch reads.
    let curls = dir.join("curls.txt");
    let out = curl()
        .args([
            "-c",
            curls.to_str().unwrap(),
            "--resolve",
            &resolve,
            &set_url,
        ])
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "curl: {}", stderr(&out));
    fetch(&["-b", curls.to_str().unwrap()], &check_url);
    assert_eq!(cookie_set(&last_for(&srv, "/check")), sent);

    // `-b jar --cookie-jar jar` on a first run: no jar yet is fine; the run makes one.
    let fresh = dir.join("fresh.txt");
    let fresh_arg = fresh.to_str().unwrap();
    fetch(&["-b", fresh_arg, "--cookie-jar", fresh_arg], &set_url);
    fetch(&["-b", fresh_arg, "--cookie-jar", fresh_arg], &check_url);
    assert_eq!(cookie_set(&last_for(&srv, "/check")), sent);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        3,
        "no temporary file left"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn titles_and_bench_take_the_cookie_options_and_serve_does_not() {
    let srv = Scripted::start(|req| {
        if !cookie_set(req).contains("member=yes") {
            return answer("403 Forbidden", &[], b"members only\n");
        }
        answer(
            "200 OK",
            &["Content-Type: application/rss+xml"],
            b"<rss version=\"2.0\"><channel><title>Members' feed</title></channel></rss>",
        )
    });
    let feed = srv.url("/feed");
    let out = run(&["titles", "-q", "-b", "member=yes", "-u", &feed]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Members' feed\n");

    let target = format!("http://{}", srv.addr);
    let out = run(&[
        "bench",
        "-q",
        "--target",
        &target,
        "--path",
        "/feed/{i}",
        "-c",
        "1",
        "-n",
        "3",
        "-b",
        "member=yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen = srv.seen();
    let bench_requests: Vec<&Seen> = seen.iter().filter(|s| path_of(s) != "/feed").collect();
    assert_eq!(bench_requests.len(), 3);
    assert!(
        bench_requests
            .iter()
            .all(|s| cookie_set(s) == set(&["member=yes"]))
    );

    let out = run(&["serve", "-b", "member=yes"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_cookie_options_are_usage_errors_before_any_fetch() {
    let srv = Scripted::start(|_| answer("200 OK", &[], b"ok\n"));
    let url = srv.url("/");
    let dir = tempdir("bad");
    let bad = dir.join("bad-cookies.txt");
    std::fs::write(
        &bad,
        "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tok\t1\nname=value\n",
    )
    .unwrap();
    let binary = dir.join("binary.txt");
    std::fs::write(&binary, b"# ok\n\n\xff\xfe\n").unwrap();
    let missing = dir.join("missing.txt");
    let no_dir = dir.join("no-such-dir").join("jar.txt");
    let (bad_s, binary_s, missing_s, no_dir_s) = (
        bad.to_str().unwrap(),
        binary.to_str().unwrap(),
        missing.to_str().unwrap(),
        no_dir.to_str().unwrap(),
    );
    for (args, says) in [
        (
            vec!["-b", bad_s],
            format!("-b {bad_s}: line 3: not a cookie"),
        ),
        (
            vec!["-b", binary_s],
            format!("-b {binary_s}: line 3: not UTF-8"),
        ),
        (vec!["-b", missing_s], format!("-b {missing_s}: ")),
        (vec!["-b", "-"], "-b -: stdin holds the URLs".to_owned()),
        (vec!["-b", "a=1\r\nX: y"], "control characters".to_owned()),
        (vec!["--cookie-jar", no_dir_s], "no directory".to_owned()),
    ] {
        let mut all = vec!["fetch", "-q", "-u", &url];
        all.extend(&args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.starts_with("greenfetch: "), "{args:?}: {err}");
        assert!(err.contains(&says), "{args:?}: {err}");
    }
    assert!(
        srv.seen().is_empty(),
        "nothing is fetched after a usage error"
    );
    assert!(!no_dir.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
