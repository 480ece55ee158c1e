//! Outputs that survive a full disk and a SIGKILL: `-o DIR` and stdout on a small tmpfs that
//! fills up (exit 3, the input named, no partial file under a final name, a journal naming
//! exactly what is complete, and a `--resume` after space is freed that completes the job with
//! every output present once), and `-o DIR` killed mid-run.
//!
//! Mounting a tmpfs needs root. `.ci/run` runs as root and requires these tests
//! (`GREENFETCH_CI=1`); elsewhere, without root, they say so on stderr and check nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use greenfetch::server::fixture::FixtureServer;

/// A tmpfs of `size` mounted on a fresh folder, unmounted and removed when dropped.
struct SmallDisk {
    at: PathBuf,
}

impl SmallDisk {
    /// `None` (the test is skipped) where mounting is not allowed, unless CI requires it.
    fn mount(name: &str, size: &str) -> Option<SmallDisk> {
        let at =
            std::env::temp_dir().join(format!("greenfetch-disk-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir(&at);
            assert!(
                std::env::var("GREENFETCH_CI").is_err(),
                "mounting a tmpfs failed, and CI requires the full-disk tests (run as root)"
            );
            eprintln!("skipped: mounting a tmpfs needs root (see tests/disk.rs)");
            return None;
        }
        Some(SmallDisk { at })
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.at)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.at).status();
        let _ = std::fs::remove_dir(&self.at);
    }
}

/// A scratch folder on the ordinary disk (for journals and URL lists).
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("greenfetch-diskjob-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` URLs of 100,000-byte bodies, one a line, in a file.
fn url_list(srv: &greenfetch::server::Server, dir: &Path, n: usize) -> PathBuf {
    let list: String = (0..n)
        .map(|i| format!("{}\n", srv.url(&format!("/bytes/100000?{i}"))))
        .collect();
    let p = dir.join("urls");
    std::fs::write(&p, list).unwrap();
    p
}

/// The indices the journal names, in order.
fn journal_indices(journal: &Path) -> Vec<u64> {
    std::fs::read_to_string(journal)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next()?.parse().ok())
        .collect()
}

/// The files of `dir` as (name, size); `.part` files included, so a test can see them.
fn files(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

fn fetch(args: &[&str], stdout: Stdio) -> std::process::Output {
    crate::util::greenfetch()
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_under_output_dir_stops_cleanly_and_resumes() {
    let Some(disk) = SmallDisk::mount("dir", "2m") else {
        return;
    };
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let work = scratch("dir");
    let urls = url_list(&srv, &work, 30);
    let (out, journal) = (disk.at.join("out"), work.join("journal"));
    let (o, j, u) = (
        out.to_str().unwrap(),
        journal.to_str().unwrap(),
        urls.to_str().unwrap(),
    );

    let first = fetch(
        &["fetch", "-q", "-c", "4", "-o", o, "--journal", j, u],
        Stdio::null(),
    );
    let err = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(3), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains("greenfetch: stopped: #"),
        "the input is named: {err}"
    );
    let written = files(&out);
    assert!(!written.is_empty() && written.len() < 30, "{written:?}");
    for (name, size) in &written {
        assert!(
            !name.ends_with(".part"),
            "a temporary file was left: {name}"
        );
        assert_eq!(*size, 100_000, "{name} is partial");
    }
    let done = journal_indices(&journal);
    let named: Vec<u64> = written
        .iter()
        .map(|(n, _)| n[..6].parse().unwrap())
        .collect();
    let mut sorted = done.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted, named,
        "the journal names exactly the complete files"
    );

    disk.resize("4m");
    let second = fetch(
        &[
            "fetch",
            "-q",
            "-c",
            "4",
            "-o",
            o,
            "--journal",
            j,
            "--resume",
            u,
        ],
        Stdio::null(),
    );
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let all = files(&out);
    assert_eq!(all.len(), 30, "{all:?}");
    assert!(
        all.iter()
            .all(|(n, s)| *s == 100_000 && !n.ends_with(".part"))
    );
    let mut done = journal_indices(&journal);
    done.sort_unstable();
    assert_eq!(
        done,
        (0..30).collect::<Vec<u64>>(),
        "each input once in the journal"
    );
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn a_full_disk_under_stdout_cuts_the_torn_record_and_resumes() {
    let Some(disk) = SmallDisk::mount("stdout", "2m") else {
        return;
    };
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let work = scratch("stdout");
    let urls = url_list(&srv, &work, 12);
    let journal = work.join("journal");
    let (j, u) = (journal.to_str().unwrap(), urls.to_str().unwrap());
    // Ballast leaves room for a few bodies, not for all.
    let ballast = disk.at.join("ballast");
    std::fs::write(&ballast, vec![0u8; 1_650_000]).unwrap();
    let out_path = disk.at.join("bodies");
    let out = std::fs::File::create(&out_path).unwrap();
    let first = fetch(
        &["fetch", "-q", "-c", "1", "--journal", j, u],
        Stdio::from(out),
    );
    let err = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(3), "{err}");
    assert!(
        err.contains("writing stdout: No space left on device"),
        "{err}"
    );
    let done = journal_indices(&journal);
    assert!(!done.is_empty() && done.len() < 12, "{done:?}");
    let size = std::fs::metadata(&out_path).unwrap().len();
    assert_eq!(
        size,
        100_000 * done.len() as u64,
        "only whole records stay in the file"
    );

    std::fs::remove_file(&ballast).unwrap();
    let out = std::fs::OpenOptions::new()
        .append(true)
        .open(&out_path)
        .unwrap();
    let second = fetch(
        &["fetch", "-q", "-c", "1", "--journal", j, "--resume", u],
        Stdio::from(out),
    );
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(std::fs::metadata(&out_path).unwrap().len(), 100_000 * 12);
    let _ = std::fs::remove_dir_all(&work);
}

/// SIGKILL while bodies are being written into `-o DIR`: no file under its final name is
/// partial, and `--resume` completes the rest.
#[test]
fn a_killed_output_dir_run_has_no_partial_files_and_resumes() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let work = scratch("kill");
    let n = 200;
    let list: String = (0..n)
        .map(|i| format!("{}\n", srv.url(&format!("/bytes/{}?{i}", 50_000 + i * 997))))
        .collect();
    let urls = work.join("urls");
    std::fs::write(&urls, list).unwrap();
    let (out, journal) = (work.join("out"), work.join("journal"));
    let (o, j, u) = (
        out.to_str().unwrap(),
        journal.to_str().unwrap(),
        urls.to_str().unwrap(),
    );
    let mut child = crate::util::greenfetch()
        .args([
            "fetch",
            "-q",
            "-c",
            "8",
            "--rate",
            "400",
            "-o",
            o,
            "--journal",
            j,
            u,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some files are out (polling the folder: a process has no event for it).
    let until = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&out).map_or(0, |d| d.count()) < 40 {
        assert!(Instant::now() < until, "no output after 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let size_of = |name: &str| -> u64 {
        let i: u64 = name[..6].parse().unwrap();
        50_000 + i * 997
    };
    for (name, size) in files(&out) {
        if !name.ends_with(".part") {
            assert_eq!(
                size,
                size_of(&name),
                "{name} is partial under its final name"
            );
        }
    }
    let resumed = fetch(
        &[
            "fetch",
            "-q",
            "-c",
            "8",
            "-o",
            o,
            "--journal",
            j,
            "--resume",
            u,
        ],
        Stdio::null(),
    );
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let all = files(&out);
    assert_eq!(
        all.len(),
        n as usize,
        "every body once, no temporary file left: {:?}",
        &all[..3]
    );
    for (name, size) in all {
        assert_eq!(size, size_of(&name), "{name}");
    }
    let _ = std::fs::remove_dir_all(&work);
}
