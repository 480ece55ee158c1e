//! Batch jobs: a run killed with SIGKILL and resumed from its journal, shards that cover every
//! input exactly once, and `greenfetch merge` putting the parts back in input order.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use greenfetch::server::fixture::FixtureServer;
use serde_json::Value;

fn greenfetch() -> Command {
    crate::util::greenfetch()
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("greenfetch-batch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn indices(jsonl: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(jsonl)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a jsonl record");
            v["index"].as_u64().expect("an index")
        })
        .collect()
}

/// Starts `fetch -f jsonl --journal J [--resume]` on `input`, stdout piped.
fn start_fetch(input: &Path, journal: &Path, resume: bool) -> Child {
    let mut cmd = greenfetch();
    cmd.args(["fetch", "-q", "-f", "jsonl", "-c", "8", "--journal"])
        .arg(journal)
        .arg(input)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if resume {
        cmd.arg("--resume");
    }
    cmd.spawn().expect("start greenfetch")
}

/// Reads `lines` lines of the child's output, SIGKILLs it, and returns everything it wrote.
fn kill_after(mut child: Child, lines: usize) -> Vec<u8> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut got = Vec::new();
    for _ in 0..lines {
        if out.read_until(b'\n', &mut got).unwrap() == 0 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL: no handler, no flush
    child.wait().unwrap();
    out.read_to_end(&mut got).unwrap();
    got
}

/// A run killed at any moment and resumed gives every input's output exactly once, apart from
/// the in-flight window; `merge` removes those duplicates by index. Two kills: one in the first
/// run, one in the resumed run.
#[test]
fn killed_run_resumes_with_every_input_once() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let dir = scratch("resume");
    let n = 300u64;
    let input = dir.join("urls");
    let list: String = (0..n)
        .map(|i| format!("{}\n", srv.url(&format!("/delay/{}/{i}", 1 + (i * 7) % 9))))
        .collect();
    std::fs::write(&input, list).unwrap();
    let journal = dir.join("journal");

    let part1 = kill_after(start_fetch(&input, &journal, false), 90);
    let part2 = kill_after(start_fetch(&input, &journal, true), 90);
    let last = start_fetch(&input, &journal, true)
        .wait_with_output()
        .unwrap();
    assert_eq!(
        last.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    let part3 = last.stdout;

    let (i1, i2, i3) = (indices(&part1), indices(&part2), indices(&part3));
    assert!(i1.len() >= 90 && i2.len() >= 90, "both kills came mid-run");
    assert!(!i3.is_empty(), "the last part had work left");
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for i in i1.iter().chain(&i2).chain(&i3) {
        *seen.entry(*i).or_default() += 1;
    }
    assert_eq!(seen.len() as u64, n, "every input has an output");
    assert_eq!(*seen.keys().last().unwrap(), n - 1);
    let dups: usize = seen.values().map(|c| c - 1).sum();
    assert!(
        dups <= 2 * 8,
        "duplicates only from the in-flight window: {dups}"
    );
    // Each part is in input order.
    for part in [&i1, &i2, &i3] {
        assert!(part.windows(2).all(|w| w[0] < w[1]), "{part:?}");
    }

    // merge puts the three parts back together: every index once, in order.
    let files: Vec<PathBuf> = [part1, part2, part3]
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let f = dir.join(format!("part{k}"));
            std::fs::write(&f, p).unwrap();
            f
        })
        .collect();
    let merged = greenfetch().arg("merge").args(&files).output().unwrap();
    assert_eq!(merged.status.code(), Some(0));
    assert_eq!(indices(&merged.stdout), (0..n).collect::<Vec<_>>());
    let report = String::from_utf8_lossy(&merged.stderr);
    assert!(
        report.contains(&format!("{dups} duplicates dropped; 0 missing")),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An existing journal is never overwritten by accident; `--resume` needs `--journal`.
#[test]
fn journal_guards() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let dir = scratch("guards");
    let journal = dir.join("j");
    let url = srv.url("/bytes/1");
    let run = |extra: &[&str]| -> Output {
        greenfetch()
            .args(["fetch", "-q", "-u", &url, "--journal"])
            .arg(&journal)
            .args(extra)
            .output()
            .unwrap()
    };
    assert_eq!(run(&[]).status.code(), Some(0));
    let again = run(&[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    let resumed = run(&["--resume"]);
    assert_eq!(resumed.status.code(), Some(0));
    assert!(resumed.stdout.is_empty(), "nothing left to do");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        ["0\tok"]
    );
    let no_journal = greenfetch()
        .args(["fetch", "-q", "-u", &url, "--resume"])
        .output()
        .unwrap();
    assert_eq!(no_journal.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--shard K/N` for K in 0..N covers every input exactly once, all of a host's lines on one
/// shard (bad lines too, each on one shard), and merging the shards' outputs gives the
/// unsharded run's records in input order. Also for `titles`.
#[test]
fn shards_cover_every_input_once_and_merge_back() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let dir = scratch("shards");
    let port = srv.addr().port();
    let hosts: Vec<String> = (0..12).map(|h| format!("h{h}.test")).collect();
    let mut list = String::new();
    for i in 0..120 {
        match i % 10 {
            9 => list += &format!("not a url {i}\n"),
            _ => {
                let h = &hosts[i % hosts.len()];
                list += &format!("http://{h}:{port}/feed/rss/f{i}\n");
            }
        }
    }
    let input = dir.join("urls");
    std::fs::write(&input, &list).unwrap();
    let mut resolve = Vec::new();
    for h in &hosts {
        resolve.push("--resolve".to_owned());
        resolve.push(format!("{h}:{port}:127.0.0.1"));
    }
    for cmd in ["fetch", "titles"] {
        let run = |shard: Option<&str>| -> Vec<u8> {
            let mut c = greenfetch();
            c.args([cmd, "-q", "-f", "jsonl", "--retries", "0"])
                .args(&resolve)
                .arg(&input);
            if let Some(s) = shard {
                c.args(["--shard", s]);
            }
            let out = c.output().unwrap();
            assert_eq!(out.status.code(), Some(1), "the bad lines fail");
            out.stdout
        };
        let whole = run(None);
        let n = 3;
        let mut files = Vec::new();
        let mut owner: HashMap<u64, usize> = HashMap::new();
        let mut host_shard: HashMap<String, usize> = HashMap::new();
        for k in 0..n {
            let out = run(Some(&format!("{k}/{n}")));
            for line in String::from_utf8_lossy(&out).lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                let i = v["index"].as_u64().unwrap();
                assert!(
                    owner.insert(i, k).is_none(),
                    "{cmd}: index {i} on two shards"
                );
                if let Some(h) = v["url"].as_str().and_then(|u| u.split('/').nth(2)) {
                    let prev = host_shard.insert(h.to_owned(), k);
                    assert!(prev.is_none_or(|p| p == k), "{cmd}: host {h} split");
                }
            }
            let f = dir.join(format!("{cmd}-shard{k}"));
            std::fs::write(&f, out).unwrap();
            files.push(f);
        }
        assert_eq!(owner.len(), 120, "{cmd}: every input on some shard");
        assert!(
            (0..n).all(|k| owner.values().any(|v| *v == k)),
            "{cmd}: every shard has work"
        );
        let merged = greenfetch().arg("merge").args(&files).output().unwrap();
        assert_eq!(merged.status.code(), Some(0));
        let strip = |bytes: &[u8]| -> Vec<Value> {
            String::from_utf8_lossy(bytes)
                .lines()
                .map(|l| {
                    let mut v: Value = serde_json::from_str(l).unwrap();
                    v.as_object_mut().unwrap().remove("timings");
                    v
                })
                .collect()
        };
        assert_eq!(strip(&merged.stdout), strip(&whole), "{cmd}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// merge refuses a file that is not in index order, naming the file and line.
#[test]
fn merge_refuses_unordered_input() {
    let dir = scratch("unordered");
    let f = dir.join("u.jsonl");
    std::fs::write(&f, "{\"index\":1}\n{\"index\":0}\n").unwrap();
    let out = greenfetch().arg("merge").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("u.jsonl:2") && err.contains("index order"),
        "{err}"
    );
    let mut child = greenfetch()
        .args(["merge", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"index\":0}\n{\"index\":0}\n{\"index\":2}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(indices(&out.stdout), vec![0, 2]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The README's scale-out on GNU parallel, for real: four local jobs, each `--shard K/4
/// --journal`, one of them SIGKILLed mid-run (by the PID its job wrote) and run again with
/// `--resume`; `merge` of the four outputs equals the unsharded run. `parallel` is installed
/// by `.ci/run` and required there (`GREENFETCH_CI`); elsewhere, without it, the test says so
/// and checks nothing.
#[test]
fn gnu_parallel_shards_with_a_killed_job_resumed_merge_to_the_unsharded_output() {
    let have = Command::new("sh")
        .args(["-c", "command -v parallel"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            std::env::var("GREENFETCH_CI").is_err(),
            "CI requires GNU parallel"
        );
        eprintln!("skipped: GNU parallel is not installed");
        return;
    }
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let dir = scratch("parallel");
    let port = srv.addr().port();
    let n = 240;
    let list: String = (0..n)
        .map(|i| format!("http://h{}.test:{port}/delay/150/{i}\n", i % 12))
        .collect();
    std::fs::write(dir.join("urls"), list).unwrap();
    let resolve: Vec<String> = (0..12)
        .flat_map(|h| {
            [
                "--resolve".to_owned(),
                format!("h{h}.test:{port}:127.0.0.1"),
            ]
        })
        .collect();
    let gf = env!("CARGO_BIN_EXE_greenfetch");
    let d = dir.display();
    let job = format!(
        "echo $$ > {d}/pid.{{}}; exec env -u HOME {gf} fetch -q -f jsonl -c 4 --retries 0 --shard {{}}/4 \
         --journal {d}/j.{{}} {} {d}/urls > {d}/out.{{}}.jsonl",
        resolve.join(" ")
    );
    // greenfetch runs under GNU parallel, so parallel's environment is cleared as
    // `util::greenfetch` clears the binary's; but for `HOME`, which parallel itself uses
    // (`~/.parallel`): the job line takes it away from greenfetch (`env -u HOME`).
    let mut parallel = Command::new("parallel");
    for var in crate::util::AMBIENT.iter().filter(|v| **v != "HOME") {
        parallel.env_remove(var);
    }
    let mut parallel = parallel
        .args(["--will-cite", "-j", "4", &job, ":::", "0", "1", "2", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill shard 2's job once some of its output is out (polling: no event for that).
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let out2 = dir.join("out.2.jsonl");
    while std::fs::read(&out2).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count()) < 5 {
        assert!(
            std::time::Instant::now() < until,
            "shard 2 wrote nothing in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let pid = std::fs::read_to_string(dir.join("pid.2")).unwrap();
    assert!(
        Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .unwrap()
            .success()
    );
    let status = parallel.wait().unwrap();
    assert_eq!(status.code(), Some(1), "parallel counts the one killed job");
    let done_before = std::fs::read_to_string(dir.join("j.2"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(
        done_before < n / 4,
        "the job was killed before its end ({done_before} done)"
    );
    // The killed job, again, resumed from its journal, appending to its output.
    let mut again = greenfetch();
    again
        .args([
            "fetch",
            "-q",
            "-f",
            "jsonl",
            "-c",
            "4",
            "--retries",
            "0",
            "--shard",
            "2/4",
            "--journal",
        ])
        .arg(dir.join("j.2"))
        .arg("--resume")
        .args(&resolve)
        .arg(dir.join("urls"))
        .stdout(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&out2)
                .unwrap(),
        );
    assert_eq!(again.status().unwrap().code(), Some(0));
    let parts: Vec<PathBuf> = (0..4).map(|k| dir.join(format!("out.{k}.jsonl"))).collect();
    let merged = greenfetch().arg("merge").args(&parts).output().unwrap();
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let whole = greenfetch()
        .args(["fetch", "-q", "-f", "jsonl", "-c", "60", "--retries", "0"])
        .args(&resolve)
        .arg(dir.join("urls"))
        .output()
        .unwrap();
    let strip = |bytes: &[u8]| -> Vec<Value> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("timings");
                v
            })
            .collect()
    };
    let merged = strip(&merged.stdout);
    assert_eq!(merged.len(), n);
    assert_eq!(merged, strip(&whole.stdout));
    std::fs::remove_dir_all(&dir).unwrap();
}
