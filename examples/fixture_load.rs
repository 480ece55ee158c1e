//! Load check for the fixture server (run by `scripts/fixture_10k.sh`; not part of CI).
//!
//! ```text
//! fixture_load serve ADDR              run the fixture server (prints "listening on http://ADDR")
//! fixture_load client ADDR N PATH      N concurrent keep-alive connections, one GET PATH on each
//! ```
//!
//! The client opens every connection at once (one green thread each), sends one request per
//! connection, and keeps each connection open until all N responses are in, so the server holds
//! N keep-alive connections at the same time. It then reads the server's `/stats` (while the N
//! connections are still open) and prints one `key=value` line: successes, failures, wall time
//! until the last response, latency percentiles, the server's open connections and the client's
//! own peak RSS.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenfetch::Event;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", addr] => greenfetch::server::run_fixture(addr),
        ["client", addr, n, path] => match (addr.parse(), n.parse()) {
            (Ok(addr), Ok(n)) => client(addr, n, path),
            _ => Err(io::Error::other("client takes IP:PORT N PATH")),
        },
        _ => {
            eprintln!("usage: fixture_load serve ADDR | fixture_load client IP:PORT N PATH");
            return ExitCode::from(2);
        }
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixture_load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads one response (head and Content-Length body) from `s`; returns its status.
fn read_response(s: &mut impl Read) -> io::Result<u16> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in head"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = resp.parse(&buf).map_err(io::Error::other)? {
            let len: usize = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                .ok_or_else(|| io::Error::other("no Content-Length"))?;
            let status = resp.code.unwrap_or(0);
            let mut left = (head + len).saturating_sub(buf.len());
            while left > 0 {
                let n = s.read(&mut chunk[..left.min(512)])?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in body"));
                }
                left -= n;
            }
            return Ok(status);
        }
    }
}

/// Counts a finished connection (however it finished) and fires `all` at the last one.
struct Finish<'a>(&'a AtomicUsize, usize, &'a Event<()>);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        if self.0.fetch_add(1, Ordering::SeqCst) + 1 == self.1 {
            let _ = self.2.send(());
        }
    }
}

fn client(addr: SocketAddr, n: usize, path: &str) -> io::Result<()> {
    let request: Arc<[u8]> = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
        .into_bytes()
        .into();
    let finished = Arc::new(AtomicUsize::new(0));
    let (all_done, release) = (Event::new(), Event::new());
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (request, finished) = (request.clone(), finished.clone());
            let (all_done, release) = (all_done.clone(), release.clone());
            greenfetch::spawn(move || -> Result<Duration, String> {
                let outcome = (|| {
                    let _finish = Finish(&finished, n, &all_done);
                    let mut s = may::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
                    s.write_all(&request).map_err(|e| e.to_string())?;
                    match read_response(&mut s).map_err(|e| e.to_string())? {
                        200 => Ok((s, t0.elapsed())),
                        other => Err(format!("status {other}")),
                    }
                })();
                // Hold the keep-alive connection open until every request has finished.
                release.wait();
                outcome.map(|(_conn, latency)| latency)
            })
        })
        .collect();
    all_done.wait();
    let wall = t0.elapsed();
    let stats = server_stats(addr).unwrap_or_else(|e| format!("error: {e}"));
    let _ = release.send(());

    let (mut latencies, mut errors) = (Vec::with_capacity(n), Vec::new());
    for t in tasks {
        match t.wait() {
            Ok(Ok(l)) => latencies.push(l),
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    latencies.sort();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .map_or(0, |d| d.as_millis())
    };
    println!(
        "ok={} failed={} wall_ms={} p50_ms={} p99_ms={} max_ms={} client_vmhwm_kib={} server_stats={}",
        latencies.len(),
        errors.len(),
        wall.as_millis(),
        pct(50),
        pct(99),
        latencies.last().map_or(0, |d| d.as_millis()),
        vmhwm_kib().unwrap_or(0),
        stats.trim(),
    );
    errors.sort();
    errors.dedup();
    for e in errors.iter().take(5) {
        eprintln!("error: {e}");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(io::Error::other("some requests failed"))
    }
}

/// `/stats` over a fresh connection, from this (plain) thread.
fn server_stats(addr: SocketAddr) -> io::Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET /stats HTTP/1.0\r\n\r\n")?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    Ok(reply
        .split_once("\r\n\r\n")
        .map_or(reply.clone(), |(_, b)| b.to_owned()))
}

/// This process's peak resident set size, from /proc/self/status.
fn vmhwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
