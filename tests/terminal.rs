//! The displays as a person sees them: `greenfetch` run on a pseudo-terminal (util-linux
//! `script`, 100 columns), its output replayed through a small terminal model, and the screen
//! asserted on: the progress bar of `fetch` with error lines printed above it and nothing of it
//! left behind, the bar cleared on Ctrl-C, and `bench`'s live view of the running level with
//! each level's row printed as the level ends.
//!
//! The runs are held at the moment of interest by a local server that answers only when the
//! test lets it ([`Gate`]), so what is on the screen then is known without any sleep.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use greenfetch::server::fixture::FixtureServer;

use crate::util::{LIMIT, greenfetch};

/// The terminal's width.
const COLS: usize = 100;

/// A server that answers `200 ok` to as many requests as it has been allowed, and holds the
/// others until [`Gate::allow`] lets them through. Keep-alive: any number of requests a
/// connection. (`serve`'s graceful stop uses it too.)
pub(crate) struct Gate {
    pub(crate) addr: std::net::SocketAddr,
    allowed: Arc<(Mutex<u64>, Condvar)>,
    seen: Arc<std::sync::atomic::AtomicU64>,
}

impl Gate {
    pub(crate) fn start(allowed: u64) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let allowed = Arc::new((Mutex::new(allowed), Condvar::new()));
        let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (a, n) = (allowed.clone(), seen.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (a, n) = (a.clone(), n.clone());
                std::thread::spawn(move || answer(conn, &a, &n));
            }
        });
        Gate {
            addr,
            allowed,
            seen,
        }
    }

    /// Requests received so far (answered or held).
    pub(crate) fn seen(&self) -> u64 {
        self.seen.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Lets `n` more requests be answered.
    pub(crate) fn allow(&self, n: u64) {
        let (count, cv) = &*self.allowed;
        *count.lock().unwrap() += n;
        cv.notify_all();
    }
}

fn answer(conn: TcpStream, allowed: &(Mutex<u64>, Condvar), seen: &std::sync::atomic::AtomicU64) {
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        // One request head (the requests carry no body).
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (count, cv) = allowed;
        let mut left = count.lock().unwrap();
        while *left == 0 {
            left = cv.wait(left).unwrap();
        }
        *left -= 1;
        drop(left);
        let reply = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
        if w.write_all(reply).is_err() {
            return;
        }
    }
}

/// `greenfetch` running on a pseudo-terminal: what it has written so far, and its keyboard.
struct Terminal {
    child: Child,
    keyboard: ChildStdin,
    seen: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    /// Runs `cmd` (a hermetic [`greenfetch`] command) on a terminal of [`COLS`] columns; with
    /// `stdout_to`, its stdout goes to that file instead (stderr stays on the terminal).
    fn run(cmd: &Command, stdout_to: Option<&std::path::Path>) -> Terminal {
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let mut line = format!("stty cols {COLS} rows 40; exec ");
        line.push_str(&quote(cmd.get_program().to_str().unwrap()));
        for a in cmd.get_args() {
            line.push(' ');
            line.push_str(&quote(a.to_str().unwrap()));
        }
        if let Some(p) = stdout_to {
            line.push_str(" > ");
            line.push_str(&quote(p.to_str().unwrap()));
        }
        let mut script = Command::new("script");
        script.args(["-q", "-f", "-e", "-c", &line, "/dev/null"]);
        // The same environment as the hermetic command, on a terminal that knows colours.
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => script.env(k, v),
                None => script.env_remove(k),
            };
        }
        script.env("TERM", "xterm").env("SHELL", "/bin/sh");
        if let Some(dir) = cmd.get_current_dir() {
            script.current_dir(dir);
        }
        let mut child = script
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("util-linux script runs");
        let keyboard = child.stdin.take().unwrap();
        let mut out = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            child,
            keyboard,
            seen,
            reader: Some(reader),
        }
    }

    fn screen(&self) -> Vec<String> {
        screen(&self.seen.lock().unwrap())
    }

    /// Waits until the screen shows what `cond` looks for; returns that screen.
    fn wait_for(&self, what: &str, cond: impl Fn(&[String]) -> bool) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            let s = self.screen();
            if cond(&s) {
                return s;
            }
            assert!(
                t0.elapsed() < LIMIT,
                "gave up waiting for {what}; the screen:\n{}",
                s.join("\n")
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.keyboard.write_all(keys).unwrap();
        self.keyboard.flush().unwrap();
    }

    /// Waits for the end; its exit code, the last screen, and every byte written.
    fn finish(mut self) -> (i32, Vec<String>, String) {
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if t0.elapsed() > LIMIT {
                let _ = self.child.kill();
                panic!(
                    "still running after {LIMIT:?}:\n{}",
                    self.screen().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.reader.take().unwrap().join().unwrap();
        let raw = self.seen.lock().unwrap().clone();
        (
            status.code().expect("exited"),
            screen(&raw),
            String::from_utf8_lossy(&raw).into_owned(),
        )
    }
}

/// The screen a terminal of [`COLS`] columns shows after `bytes`: the rows, without trailing
/// blanks and without trailing empty rows. Knows what indicatif and a shell write: text,
/// `\r`, `\n`, and CSI sequences for erasing (K, J), moving up and down (A, B), to a column
/// (G), and colours (m, ignored).
fn screen(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
            }
            '\x1b' => {
                if chars.peek() != Some(&'[') {
                    continue;
                }
                chars.next();
                let mut params = String::new();
                let mut end = ' ';
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        end = d;
                        break;
                    }
                    params.push(d);
                }
                let n = params.trim_start_matches('?').parse::<usize>().unwrap_or(0);
                while rows.len() <= row {
                    rows.push(Vec::new());
                }
                match end {
                    'A' => row = row.saturating_sub(n.max(1)),
                    'B' => row += n.max(1),
                    'G' => col = n.saturating_sub(1),
                    'K' if n == 2 => rows[row].clear(),
                    'K' => rows[row].truncate(col),
                    'J' => {
                        rows[row].truncate(col);
                        rows.truncate(row + 1);
                    }
                    _ => {}
                }
            }
            '\t' => col = (col / 8 + 1) * 8,
            c if c.is_control() => {}
            c => {
                if col >= COLS {
                    row += 1;
                    col = 0;
                }
                while rows.len() <= row {
                    rows.push(Vec::new());
                }
                let r = &mut rows[row];
                while r.len() < col {
                    r.push(' ');
                }
                if col < r.len() {
                    r[col] = c;
                } else {
                    r.push(c);
                }
                col += 1;
            }
        }
    }
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|r| r.into_iter().collect::<String>().trim_end().to_owned())
        .collect();
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

fn count(screen: &[String], needle: &str) -> usize {
    screen.iter().filter(|l| l.contains(needle)).count()
}

/// The `-f summary` rows on a screen or in a file: (index, status).
fn summary_rows<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    lines
        .into_iter()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let index = w.next()?;
            index.parse::<u64>().ok()?;
            let status = match w.next()? {
                "ERR" => format!("ERR {}", w.next()?),
                s => s.to_owned(),
            };
            Some((index.to_owned(), status))
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn the_terminal_model_reads_what_indicatif_writes() {
    let s = screen(b"a\r\n\x1b[36mbar\x1b[0m 1/2\r\x1b[2Kline\r\nbar 2/2\x1b[1A\r\x1b[2K\x1b[1B\r\x1b[2K\x1b[1Adone\r\n");
    assert_eq!(s, ["a", "done"]);
}

#[test]
fn error_lines_go_above_the_progress_bar_and_nothing_of_it_stays() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let gate = Gate::start(0);
    let dir = std::env::temp_dir().join(format!("greenfetch-tty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let urls = dir.join("urls.txt");
    // Four lines that end at once (two of them failures), then one the gate holds: the bar
    // stays up, with the outputs of the first four printed.
    let lines = [
        srv.url("/bytes/3"),
        srv.url("/status/404"),
        "# a comment".to_owned(),
        srv.url("/bytes/5"),
        srv.url("/status/404?x"),
        gate.url("/held"),
    ];
    std::fs::write(&urls, lines.join("\n") + "\n").unwrap();

    for stdout_on_terminal in [true, false] {
        let mut cmd = greenfetch();
        cmd.args(["fetch", "-c", "8", "-f", "summary"]).arg(&urls);
        let out_file = dir.join("out.txt");
        let term = Terminal::run(&cmd, (!stdout_on_terminal).then_some(out_file.as_path()));
        let s = term.wait_for("the four outputs and the bar", |s| {
            count(s, "http_status") >= 2 && s.last().is_some_and(|l| l.contains("4/5 done"))
        });
        let all = s.join("\n");
        // Each error line once, above the bar; the bar on the last line only, with its
        // total, rate, error count and requests in flight.
        assert_eq!(count(&s, "greenfetch: #1 "), 1, "{all}");
        assert_eq!(count(&s, "greenfetch: #4 "), 1, "{all}");
        assert_eq!(count(&s, " done "), 1, "one frame of the bar: {all}");
        let bar = s.last().unwrap();
        for want in ["4/5 done", "/s", "ETA", "2 errors", "1 in flight"] {
            assert!(bar.contains(want), "{want:?} in the bar {bar:?}");
        }
        if stdout_on_terminal {
            assert_eq!(
                summary_rows(s.iter().map(String::as_str)),
                pairs(&[
                    ("0", "200"),
                    ("1", "ERR http_status"),
                    ("3", "200"),
                    ("4", "ERR http_status")
                ]),
                "{all}"
            );
        }
        gate.allow(1);
        let (code, s, _) = term.finish();
        let all = s.join("\n");
        assert_eq!(code, 1, "{all}");
        assert_eq!(
            count(&s, " done "),
            0,
            "the bar is cleared at the end: {all}"
        );
        assert_eq!(count(&s, "greenfetch: #"), 2, "{all}");
        let printed = if stdout_on_terminal {
            all.clone()
        } else {
            std::fs::read_to_string(&out_file).unwrap()
        };
        let indices: Vec<String> = summary_rows(printed.lines())
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(indices, ["0", "1", "3", "4", "5"], "{printed}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_clears_the_bar_and_keeps_what_was_finished() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let gate = Gate::start(0);
    let mut cmd = greenfetch();
    cmd.args(["fetch", "-c", "4", "-f", "summary"])
        .args(["-u", &srv.url("/bytes/1"), "-u", &srv.url("/bytes/2")])
        .args(["-u", &gate.url("/held")]);
    let mut term = Terminal::run(&cmd, None);
    term.wait_for("two outputs and the bar", |s| {
        summary_rows(s.iter().map(String::as_str)).len() == 2
            && s.last().is_some_and(|l| l.contains("2/3 done"))
    });
    term.type_keys(b"\x03");
    let (code, s, raw) = term.finish();
    let all = s.join("\n");
    assert_eq!(code, 130, "{all}\n{raw:?}");
    assert_eq!(count(&s, " done "), 0, "no frame left: {all}\n{raw:?}");
    assert_eq!(count(&s, "greenfetch: interrupted"), 1, "{all}");
    assert_eq!(
        summary_rows(s.iter().map(String::as_str)),
        pairs(&[("0", "200"), ("1", "200")]),
        "{all}"
    );
    gate.allow(1);
}

#[test]
fn bench_shows_the_running_level_live_and_each_row_as_its_level_ends() {
    let gate = Gate::start(1);
    let mut cmd = greenfetch();
    cmd.args(["bench", "-c", "1,2", "-n", "3", "--target", &gate.url("")]);
    let term = Terminal::run(&cmd, None);
    // Level 1 holds on its second request: one done, shown live.
    let s = term.wait_for("level 1 live", |s| {
        s.last()
            .is_some_and(|l| l.contains("c=1") && l.contains("1/3") && l.contains("p99"))
    });
    let all = s.join("\n");
    let live = s.last().unwrap();
    for want in ["/s ok", "p50", "ms", "p99", "0 errors"] {
        assert!(live.contains(want), "{want:?} in the live view {live:?}");
    }
    assert!(s[0].starts_with("greenfetch bench: "), "{all}");
    assert_eq!(count(&s, "c=1"), 1, "one frame: {all}");
    // Level 1 ends: its row is printed at once, while level 2 runs (held at its start).
    gate.allow(2);
    let s = term.wait_for("row 1 and level 2 live", |s| {
        s.iter()
            .any(|l| l.split_whitespace().take(3).eq(["1", "3", "0"]))
            && s.last().is_some_and(|l| l.contains("c=2"))
    });
    let all = s.join("\n");
    assert_eq!(count(&s, "c=1"), 0, "level 1's view is gone: {all}");
    assert!(s.iter().all(|l| l.chars().count() <= COLS), "{all}");
    gate.allow(3);
    let (code, s, _) = term.finish();
    let all = s.join("\n");
    assert_eq!(code, 0, "{all}");
    let rows: Vec<&String> = s
        .iter()
        .filter(|l| l.starts_with("    1 ") || l.starts_with("    2 "))
        .collect();
    assert_eq!(rows.len(), 2, "{all}");
    assert_eq!(count(&s, "c=2"), 0, "no live view left: {all}");
}
