//! `greenfetch bench` end to end: the binary's table, JSON document and SVG chart, closed and
//! open loop, the embedded server and a `--target`, and errors counted by kind.
//!
//! Every server binds 127.0.0.1:0. Workloads are tiny. Nothing here asserts how fast anything
//! ran: the only time checks are lower bounds that the workload itself sets (a `/delay/20`
//! request cannot take less than 20 ms).

use std::process::Output;

use greenfetch::server::fixture::FixtureServer;
use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::Value;

/// Runs `greenfetch bench ARGS`, no stdin; no panic may reach the user.
fn bench(args: &[&str]) -> Output {
    crate::util::output(
        crate::util::greenfetch()
            .arg("bench")
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .env("NO_COLOR", "1"),
    )
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "greenfetch-bench-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const LEVEL_FIELDS: [&str; 15] = [
    "concurrency",
    "requests",
    "ok",
    "errors",
    "errors_by_kind",
    "attempts",
    "bytes",
    "connections_opened",
    "elapsed_s",
    "requests_per_s",
    "mb_per_s",
    "latency_ms",
    "ideal_s",
    "efficiency_pct",
    "peak_rss_kib",
];

const SETTINGS_FIELDS: [&str; 11] = [
    "greenfetch_version",
    "mode",
    "rate_per_s",
    "target",
    "embedded_server",
    "workload",
    "requests_per_level",
    "concurrency",
    "workers",
    "retries",
    "latency",
];

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

/// Checks what holds for every level of a run without errors: all fields there, every request
/// counted once, percentiles in order; returns the latency object.
fn check_clean_level(
    level: &Value,
    concurrency: u64,
    requests: u64,
) -> serde_json::Map<String, Value> {
    let obj = level.as_object().expect("a level is an object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = LEVEL_FIELDS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want, "level fields");
    assert_eq!(level["concurrency"], concurrency);
    assert_eq!(level["requests"], requests);
    assert_eq!(level["ok"], requests, "{level}");
    assert_eq!(level["errors"], 0, "{level}");
    assert_eq!(level["errors_by_kind"], serde_json::json!({}));
    assert_eq!(level["attempts"], requests);
    let conns = level["connections_opened"].as_u64().unwrap();
    assert!(conns >= 1 && conns <= requests, "{level}");
    assert!(f(&level["elapsed_s"]) > 0.0);
    assert!(f(&level["requests_per_s"]) > 0.0);
    assert!(f(&level["mb_per_s"]) >= 0.0);
    assert!(level["peak_rss_kib"].as_u64().unwrap() > 0);
    let lat = level["latency_ms"].as_object().expect("latency_ms").clone();
    let order: Vec<f64> = ["p50", "p90", "p99", "p99_9", "max"]
        .iter()
        .map(|k| f(&lat[*k]))
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{lat:?}");
    assert!(f(&lat["mean"]) > 0.0 && f(&lat["mean"]) <= order[4]);
    lat
}

/// Parses the SVG (it must be well-formed XML); returns the classes of its `<path>`s and its
/// text.
fn parse_svg(doc: &str) -> (Vec<String>, String) {
    let mut r = Reader::from_str(doc);
    let (mut depth, mut paths, mut text, mut root) = (0i32, Vec::new(), String::new(), None);
    loop {
        match r.read_event().expect("the SVG is well-formed XML") {
            Event::Start(e) => {
                if root.is_none() {
                    root = Some(e.name().as_ref().to_owned());
                }
                depth += 1;
            }
            Event::End(_) => depth -= 1,
            Event::Empty(e) if e.name().as_ref() == "path" => {
                let class = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "class")
                    .map(|a| a.value.to_string())
                    .unwrap_or_default();
                paths.push(class);
            }
            Event::Text(t) => text.push_str(&t),
            Event::GeneralRef(g) => {
                let name = g.to_string();
                assert!(
                    ["amp", "lt", "gt", "quot", "apos"].contains(&name.as_str()),
                    "undefined entity {name}"
                );
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "every element is closed");
    assert_eq!(root.as_deref(), Some("svg"));
    (paths, text)
}

#[test]
fn a_tiny_sweep_writes_the_table_the_json_and_the_chart() {
    let dir = tempdir();
    let (json, svg) = (dir.join("bench.json"), dir.join("bench.svg"));
    let out = bench(&[
        "--concurrency",
        "1,4",
        "--requests",
        "20",
        "--delay",
        "5ms",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));

    // The JSON document: settings, then one object per level.
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["interrupted"], false);
    let settings = doc["settings"].as_object().unwrap();
    for k in SETTINGS_FIELDS {
        assert!(settings.contains_key(k), "settings.{k}");
    }
    assert_eq!(settings["mode"], "closed");
    assert_eq!(settings["rate_per_s"], Value::Null);
    assert_eq!(settings["embedded_server"], true);
    assert!(
        settings["target"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert_eq!(settings["workload"]["kind"], "delay");
    assert_eq!(settings["workload"]["path"], "/delay/5/{i}");
    assert_eq!(settings["workload"]["delay_ms"], 5);
    assert_eq!(settings["requests_per_level"], 20);
    assert_eq!(settings["concurrency"], serde_json::json!([1, 4]));
    let levels = doc["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2);
    for (level, c) in levels.iter().zip([1u64, 4]) {
        let lat = check_clean_level(level, c, 20);
        // Every request waited 5 ms at the server: a lower bound, not a speed claim.
        assert!(f(&lat["p50"]) >= 5.0, "{lat:?}");
        // The ideal is ceil(20/c) x 5 ms, and nothing beats it.
        let ideal = 20u64.div_ceil(c) as f64 * 0.005;
        assert!((f(&level["ideal_s"]) - ideal).abs() < 1e-9, "{level}");
        let eff = f(&level["efficiency_pct"]);
        assert!(eff > 0.0 && eff <= 100.0, "{level}");
        // /delay/5/{i} answers "{i}\n".
        let want: u64 = (0..20u64).map(|i| i.to_string().len() as u64 + 1).sum();
        assert_eq!(level["bytes"], want);
    }

    // The table: the heading, two header lines, one row per level, nothing else, within 100
    // columns.
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines[0].starts_with("greenfetch bench: /delay/5/{i}, closed loop"),
        "{table}"
    );
    assert!(lines[1].contains("latency of successful requests, ms"));
    let header: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "c", "requests", "errors", "ok/s", "MB/s", "p50", "p90", "p99", "p99.9", "max",
            "effic.", "RSS", "MiB"
        ]
    );
    for (line, c) in lines[3..].iter().zip(["1", "4"]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], c);
        assert_eq!(cells[1], "20");
        assert_eq!(cells[2], "0");
        assert!(cells[10].ends_with('%'), "{line}");
        assert_eq!(line.len(), lines[2].len(), "aligned columns");
        assert!(line.len() <= 100);
    }

    // The chart: well-formed, one path per series, axes and legend labelled.
    let svg = std::fs::read_to_string(&svg).unwrap();
    let (paths, text) = parse_svg(&svg);
    let series: Vec<&String> = paths
        .iter()
        .filter(|c| c.split(' ').any(|w| w == "series"))
        .collect();
    assert_eq!(
        series,
        ["series ideal", "series rps", "series p50", "series p99"]
    );
    assert_eq!(svg.matches(r#"class="marker rps""#).count(), 2);
    assert_eq!(svg.matches(r#"class="marker p50""#).count(), 2);
    assert_eq!(svg.matches(r#"class="marker p99""#).count(), 2);
    for needle in [
        "greenfetch bench: /delay/5/{i}",
        "requests/s (log scale)",
        "latency (ms)",
        "concurrency (pool size, log scale)",
        "p99 latency (right)",
        "ideal (c / delay)",
        "10",
    ] {
        assert!(text.contains(needle), "{needle} in the chart's text");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn open_loop_charges_a_late_start_to_the_request() {
    // 10 requests due 1 ms apart, through one slot, each held 20 ms by the server: request i
    // cannot end before 20(i+1) ms, though it was due at i ms, so its latency from its due time
    // is at least 19i + 20 ms. A closed-loop measurement would say about 20 ms for each.
    let out = bench(&[
        "--rate", "1000/s", "-c", "1", "-n", "10", "--delay", "20ms", "--json", "-", "-q",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let doc = stdout_json(&out);
    assert_eq!(doc["settings"]["mode"], "open");
    assert_eq!(doc["settings"]["rate_per_s"], 1000.0);
    let level = &doc["levels"][0];
    let lat = check_clean_level(level, 1, 10);
    assert!(f(&lat["max"]) >= 191.0, "{lat:?}");
    assert!(f(&lat["p50"]) >= 96.0, "{lat:?}");
    // The ideal is the pool's (10 x 20 ms), which is later than the schedule's (9 ms + 20 ms).
    assert!((f(&level["ideal_s"]) - 0.2).abs() < 1e-9);
    // With the JSON on stdout, the table goes to stderr, and says which mode.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("open loop at 1000/s"), "{stderr}");
    assert!(stderr.contains("    c requests errors"), "{stderr}");
}

#[test]
fn target_is_a_separately_started_fixture_server() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let target = format!("http://{}/", srv.addr());
    let out = bench(&[
        "--target", &target, "-c", "2", "-n", "12", "--size", "1000", "--json", "-", "-q",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let doc = stdout_json(&out);
    assert_eq!(doc["settings"]["embedded_server"], false);
    assert_eq!(doc["settings"]["target"], target.trim_end_matches('/'));
    assert_eq!(doc["settings"]["workload"]["kind"], "bytes");
    assert_eq!(doc["settings"]["workload"]["size_bytes"], 1000);
    let level = &doc["levels"][0];
    check_clean_level(level, 2, 12);
    assert_eq!(level["bytes"], 12_000);
    assert!(f(&level["mb_per_s"]) > 0.0);
    assert_eq!(level["ideal_s"], Value::Null);
    assert_eq!(level["efficiency_pct"], Value::Null);
    // The requests went to this server.
    assert_eq!(srv.hits(), 12);
}

#[test]
fn feeds_are_fetched_and_parsed() {
    let out = bench(&["--feeds", "-c", "3", "-n", "9", "--json", "-", "-q"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let doc = stdout_json(&out);
    assert_eq!(
        doc["settings"]["workload"]["path"],
        "/feed/{rss|atom|json}/{i}"
    );
    check_clean_level(&doc["levels"][0], 3, 9);
}

#[test]
fn errors_are_counted_by_kind() {
    // HTTP errors from the embedded server.
    let out = bench(&[
        "--path",
        "/status/503",
        "--retries",
        "0",
        "-c",
        "3",
        "-n",
        "6",
        "--json",
        "-",
        "-q",
    ]);
    assert_eq!(code(&out), 1, "some requests failed");
    let doc = stdout_json(&out);
    let level = &doc["levels"][0];
    assert_eq!(level["ok"], 0);
    assert_eq!(level["errors"], 6);
    assert_eq!(
        level["errors_by_kind"],
        serde_json::json!({"http_status": 6})
    );
    assert_eq!(
        level["latency_ms"],
        Value::Null,
        "latency counts successes only"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("errors at concurrency 3: every one of its 6 requests failed: http_status 6"),
        "{stderr}"
    );

    // A target with nobody listening: refused connections.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = bench(&[
        "--target",
        &format!("http://127.0.0.1:{port}"),
        "--retries",
        "0",
        "-c",
        "2",
        "-n",
        "5",
        "-q",
    ]);
    assert_eq!(code(&out), 1);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("errors at concurrency 2: every one of its 5 requests failed: connect 5"),
        "{table}"
    );
    let row: Vec<&str> = table.lines().nth(3).unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["2", "5", "5"]);
    assert_eq!(row[5], "-", "no latency without a success: {table}");
}

#[test]
fn usage_errors() {
    for args in [
        &["-c", "0"][..],
        &["-n", "0"],
        &["--delay", "5ms", "--size", "10"],
        &["--target", "not a url"],
        &["--target", "ftp://127.0.0.1:1"],
        &["--json", "/nonexistent-dir/x.json"],
        &["-H", "no colon"],
    ] {
        let out = bench(args);
        assert_eq!(
            code(&out),
            2,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn retries_are_off_unless_asked_and_duration_and_baseline_work() {
    // A benchmark does not retry behind the user's back: 3 requests, 3 attempts.
    let out = bench(&[
        "--path",
        "/status/503",
        "-c",
        "1",
        "-n",
        "3",
        "--json",
        "-",
        "-q",
    ]);
    let doc = stdout_json(&out);
    assert_eq!(doc["settings"]["retries"], 0);
    assert_eq!(doc["levels"][0]["attempts"], 3);
    assert_eq!(
        doc["levels"][0]["requests_per_s"], 0.0,
        "failures are no throughput"
    );
    let out = bench(&[
        "--path",
        "/status/503",
        "--retries",
        "1",
        "-c",
        "1",
        "-n",
        "2",
        "--json",
        "-",
        "-q",
    ]);
    assert_eq!(stdout_json(&out)["levels"][0]["attempts"], 4);

    // -z: a level runs for a duration; whatever it did is counted.
    let dir = tempdir();
    let old = dir.join("old.json");
    let out = bench(&[
        "-c",
        "1,2",
        "-z",
        "200ms",
        "--delay",
        "5ms",
        "-q",
        "--json",
        old.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&std::fs::read(&old).unwrap()).unwrap();
    assert_eq!(doc["settings"]["duration_per_level_s"], 0.2);
    for level in doc["levels"].as_array().unwrap() {
        assert!(level["requests"].as_u64().unwrap() > 0);
        assert_eq!(level["ok"], level["requests"]);
    }

    // --baseline: a change line under each level's row.
    let out = bench(&[
        "-c",
        "1,2",
        "-n",
        "20",
        "--delay",
        "5ms",
        "-q",
        "--baseline",
        old.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    let deltas: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with('Δ'))
        .collect();
    assert_eq!(deltas.len(), 2, "{table}");
    for i in deltas {
        let row: Vec<&str> = lines[i - 1].split_whitespace().collect();
        assert!(row[0] == "1" || row[0] == "2", "{table}");
        assert!(lines[i].contains('%'), "{table}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
