//! The command line as a user meets it (issue 15): `index` as the line number with `titles`
//! lining up under `paste`, shards and a resumed journal on those indices, URLs as people paste
//! them, `-w/--write-out`, `-v`, `-f summary`'s status, zero values refused by name, one
//! manual page per command, help with headings and examples, and `fixture`'s URL line and
//! endpoint list.
//!
//! Every server is on 127.0.0.1:0; a name other than `localhost` is only ever a `.test` name
//! pinned with `--resolve`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Output, Stdio};

use greenfetch::server::fixture::FixtureServer;
use serde_json::Value;

use crate::util::{greenfetch, output};

fn run(args: &[&str]) -> Output {
    output(greenfetch().args(args))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("greenfetch-usage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn jsonl(out: &[u8]) -> Vec<Value> {
    text(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect()
}

#[test]
fn titles_give_every_input_line_its_line_and_index_is_the_line_number() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let dir = scratch("paste");
    let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
    std::fs::write(
        &a,
        format!(
            "{}\n# a comment\n\n{}   # the page's feed\n",
            srv.url("/feed/rss/1"),
            srv.url("/page/2")
        ),
    )
    .unwrap();
    std::fs::write(&b, format!("{}\n", srv.url("/status/404"))).unwrap();
    let out = run(&["titles", "-q", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // One line per input line, files in turn: a comment or blank line gets an empty line, so
    // does the failure (its error on stderr).
    assert_eq!(text(&out.stdout), "Feed 1\n\n\nFeed 2\n\n");
    assert!(text(&out.stderr).contains("#4 "), "{}", text(&out.stderr));

    // jsonl: a record per URL line, `index` its line number in the whole input.
    let out = run(&[
        "titles",
        "-q",
        "-f",
        "jsonl",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let idx: Vec<u64> = jsonl(&out.stdout)
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, [0, 3, 4]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shards_and_a_resumed_journal_keep_to_the_line_numbers() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let dir = scratch("shards");
    let input = dir.join("urls.txt");
    let mut lines = String::new();
    for i in 0..30 {
        if i % 4 == 1 {
            lines.push_str("# comment\n\n");
        }
        lines.push_str(&format!(
            "http://h{}.test:{}/bytes/{i}\n",
            i % 5,
            srv.addr().port()
        ));
    }
    std::fs::write(&input, &lines).unwrap();
    let resolve: Vec<String> = (0..5)
        .map(|h| format!("h{h}.test:{}:127.0.0.1", srv.addr().port()))
        .collect();
    let with_resolve = |args: &mut Vec<String>| {
        for r in &resolve {
            args.push("--resolve".into());
            args.push(r.clone());
        }
    };
    let want: Vec<u64> = lines
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("http"))
        .map(|(i, _)| i as u64)
        .collect();

    // Three shards merge back to the whole run's indices.
    let mut parts = Vec::new();
    for k in 0..3 {
        let mut args: Vec<String> = ["fetch", "-q", "-f", "jsonl", "--shard"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(format!("{k}/3"));
        with_resolve(&mut args);
        args.push(input.to_str().unwrap().into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let part = dir.join(format!("part{k}.jsonl"));
        std::fs::write(&part, &out.stdout).unwrap();
        parts.push(part);
    }
    let mut merge = vec!["merge".to_owned()];
    merge.extend(parts.iter().map(|p| p.to_str().unwrap().to_owned()));
    let merge: Vec<&str> = merge.iter().map(String::as_str).collect();
    let merged = run(&merge);
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged.stderr));
    let idx: Vec<u64> = jsonl(&merged.stdout)
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, want);

    // A journal that has the first half done: the resumed run does the rest, once each.
    let journal = dir.join("job.journal");
    let half = want[want.len() / 2];
    let mut args: Vec<String> = ["titles", "-q", "--journal"].map(String::from).to_vec();
    args.push(journal.to_str().unwrap().into());
    with_resolve(&mut args);
    args.push(input.to_str().unwrap().into());
    let first: Vec<&str> = args.iter().map(String::as_str).collect();
    let whole = run(&first);
    let whole_lines = text(&whole.stdout);
    assert_eq!(whole_lines.lines().count(), lines.lines().count());
    // The journal as a run killed at line `half` leaves it: its header and what came before.
    let kept: String = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .filter(|l| {
            l.split('\t')
                .next()
                .and_then(|i| i.parse::<u64>().ok())
                .is_none_or(|i| i < half)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&journal, &kept).unwrap();
    let mut resumed: Vec<&str> = first.clone();
    resumed.insert(2, "--resume");
    let again = run(&resumed);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    // Titles of `.test` pages are empty lines (bytes are no feed); what matters is the count:
    // one line for each line from `half` on, blank and comment lines included.
    assert_eq!(
        text(&again.stdout).lines().count() as u64,
        lines.lines().count() as u64 - half
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn urls_without_a_scheme_and_comments_after_white_space() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let port = srv.addr().port();
    let input = format!(
        "127.0.0.1:{port}/bytes/3   # three bytes\nlocalhost:{port}/bytes/4\t# four\nfeeds.test:{port}/bytes/5\n"
    );
    let mut child = greenfetch()
        .args(["fetch", "-q", "-f", "jsonl", "--resolve"])
        .arg(format!("feeds.test:{port}:127.0.0.1"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let recs = jsonl(&out.stdout);
    let urls: Vec<&str> = recs.iter().map(|r| r["url"].as_str().unwrap()).collect();
    assert_eq!(
        urls,
        [
            format!("http://127.0.0.1:{port}/bytes/3"),
            format!("http://localhost:{port}/bytes/4"),
            format!("http://feeds.test:{port}/bytes/5"),
        ]
    );
    let bytes: Vec<u64> = recs.iter().map(|r| r["bytes"].as_u64().unwrap()).collect();
    assert_eq!(bytes, [3, 4, 5]);

    // --proto-default https: the fixture speaks plain HTTP, so the guess shows as a TLS error.
    let out = run(&[
        "fetch",
        "-q",
        "-f",
        "jsonl",
        "--proto-default",
        "https",
        "-u",
        &format!("127.0.0.1:{port}/bytes/1"),
    ]);
    let rec = &jsonl(&out.stdout)[0];
    assert_eq!(rec["url"], format!("https://127.0.0.1:{port}/bytes/1"));
    assert_eq!(rec["error"]["kind"], "tls", "{rec}");
}

#[test]
fn write_out_has_curls_variables_one_line_per_input_in_order() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let out = run(&[
        "fetch",
        "-q",
        "-f",
        "none",
        "--retries",
        "0",
        "-w",
        "%{http_code} %{size_download} %{num_redirects} %{url_effective} [%{errormsg}]\\n",
        "-u",
        &srv.url("/redirect/2"),
        "-u",
        &srv.url("/fault/gzip/1000"),
        "-u",
        &srv.url("/status/404"),
        "-u",
        "http://127.0.0.1:9/",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0], format!("200 11 2 {} []", srv.url("/redirect/0")));
    // size_download: the bytes as they came over the wire (gzip), not the 1000 decoded.
    let gz: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!(gz[0], "200");
    assert!(gz[1].parse::<u64>().unwrap() < 1000, "{}", lines[1]);
    assert!(lines[2].starts_with("404 "), "{}", lines[2]);
    assert!(
        lines[3].starts_with("000 0 0 http://127.0.0.1:9/ [connect"),
        "{}",
        lines[3]
    );

    // %{json}: every variable, as one JSON object a line.
    let out = run(&[
        "fetch",
        "-q",
        "-f",
        "none",
        "-w",
        "%{json}\\n",
        "-u",
        &srv.url("/bytes/7"),
    ]);
    let v: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["http_code"], 200);
    assert_eq!(v["size_download"], 7);
    assert_eq!(v["url_effective"], srv.url("/bytes/7"));
    assert!(v["time_total"].as_f64().unwrap() >= v["time_starttransfer"].as_f64().unwrap());
}

#[test]
fn verbose_shows_the_heads_by_index_and_summary_the_failed_status() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let out = run(&[
        "fetch",
        "-q",
        "-v",
        "-f",
        "summary",
        "-u",
        &srv.url("/redirect/1"),
        "-u",
        &srv.url("/status/503"),
    ]);
    let err = text(&out.stderr);
    for want in [
        "#0 > GET /redirect/1 HTTP/1.1",
        "#0 < HTTP/1.1 302 Found",
        "#0 > GET /redirect/0 HTTP/1.1",
        "#0 < HTTP/1.1 200 OK",
        "#1 > GET /status/503 HTTP/1.1",
        &format!("#0 > Host: {}", srv.addr()),
    ] {
        assert!(err.lines().any(|l| l == want), "{want:?} in\n{err}");
    }
    let summary = text(&out.stdout);
    let row: Vec<&str> = summary.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!(row[1], "ERR http_status 503", "{summary}");
}

#[test]
fn zero_values_are_usage_errors_that_name_the_flag() {
    for (args, flag) in [
        (
            &["fetch", "-c", "0", "-u", "http://127.0.0.1:9/"][..],
            "--concurrency",
        ),
        (
            &["fetch", "--per-host", "0", "-u", "http://127.0.0.1:9/"],
            "--per-host",
        ),
        (
            &["fetch", "--workers", "0", "-u", "http://127.0.0.1:9/"],
            "--workers",
        ),
        (
            &["titles", "-c", "0", "-u", "http://127.0.0.1:9/"],
            "--concurrency",
        ),
        (
            &["fetch", "--max-body", "0", "-u", "http://127.0.0.1:9/"],
            "--max-body",
        ),
        (&["bench", "-c", "0"], "--concurrency"),
        (&["bench", "-n", "0"], "--requests"),
        (&["bench", "-z", "0s"], "--duration"),
        (&["serve", "--max-connections", "0"], "--max-connections"),
        (&["serve", "-c", "0"], "--concurrency"),
        (&["serve", "--request-timeout", "0"], "--request-timeout"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn man_has_a_page_for_every_command() {
    let top = run(&["man"]);
    assert_eq!(top.status.code(), Some(0));
    assert!(text(&top.stdout).contains(".TH greenfetch"));
    let fetch = text(&run(&["man", "fetch"]).stdout);
    assert!(
        fetch.contains(".TH fetch") || fetch.contains(".TH greenfetch-fetch"),
        "{fetch}"
    );
    for opt in ["write\\-out", "proto\\-default", "journal", "concurrency"] {
        assert!(fetch.contains(opt), "{opt} in the fetch page");
    }
    assert!(text(&run(&["man", "bench"]).stdout).contains("baseline"));
    let no = run(&["man", "nosuch"]);
    assert_eq!(no.status.code(), Some(2));

    let dir = scratch("man");
    let out = run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for page in [
        "greenfetch.1",
        "greenfetch-fetch.1",
        "greenfetch-titles.1",
        "greenfetch-serve.1",
        "greenfetch-bench.1",
        "greenfetch-fixture.1",
        "greenfetch-merge.1",
    ] {
        assert!(dir.join(page).exists(), "{page}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_has_headings_and_examples_and_fixture_lists_its_endpoints() {
    for cmd in [
        "fetch",
        "titles",
        "serve",
        "merge",
        "bench",
        "fixture",
        "completions",
        "man",
    ] {
        let help = text(&run(&[cmd, "--help"]).stdout);
        assert!(help.contains("Examples"), "{cmd} --help has examples");
    }
    let fetch = text(&run(&["fetch", "--help"]).stdout);
    for heading in [
        "Input:", "Output:", "Limits:", "Request:", "TLS:", "Proxy:", "Batch:", "Runtime:",
    ] {
        assert!(fetch.contains(heading), "{heading} in fetch --help");
    }
    let fixture = text(&run(&["fixture", "--help"]).stdout);
    for endpoint in [
        "/bytes/{N}",
        "/delay/{ms}/{tag}",
        "/feed/",
        "/fault/",
        "/redirect/{N}",
    ] {
        assert!(fixture.contains(endpoint), "{endpoint} in fixture --help");
    }
}

#[test]
fn fixture_prints_its_url_first_and_its_404_lists_the_endpoints() {
    let mut child = greenfetch()
        .args(["fixture", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("http://")
        .expect("a bare URL")
        .to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(
        &mut conn,
        b"GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    assert!(
        reply.contains("/bytes/{n}") && reply.contains("/feed/"),
        "{reply}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn no_display_when_stderr_is_not_a_terminal() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let out = run(&[
        "fetch",
        "-u",
        &srv.url("/bytes/2"),
        "-u",
        &srv.url("/bytes/3"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stderr),
        "",
        "nothing but errors on a stderr that is a pipe"
    );
}

#[test]
fn a_blank_title_says_why_on_stderr() {
    let srv = crate::util::Scripted::start(|_| {
        crate::util::answer(
            "200 OK",
            &["Content-Type: application/rss+xml"],
            b"<rss version=\"2.0\"><channel><title>  </title></channel></rss>",
        )
    });
    let out = run(&["titles", "-q", "-u", &srv.url("/feed")]);
    assert_eq!(text(&out.stdout).trim(), "", "the title is blank");
    let err = text(&out.stderr);
    assert!(
        err.contains("#0 ") && err.contains("no_title: the rss20 feed has no title"),
        "{err}"
    );
}
