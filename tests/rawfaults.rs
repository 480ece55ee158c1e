//! Misbehaviour at the socket, beyond the fixture server's faults: a raw server (plain threads,
//! std sockets: test code, no coroutines) answers each path with bytes no well-behaved server
//! sends: no status line, status 000, two framings at once, transfer codings nobody asked for,
//! interim answers without end, broken gzip, resets inside the head and the body, a head
//! dripped past the timeout. One `fetch` run and one `titles` run take every case: one record
//! per line in input order, no panic, each line the outcome curl 7.88 agrees with (or a
//! stricter error where curl hands over bytes it cannot vouch for), within the time bound.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// How the raw server sends a case's bytes.
#[derive(Clone, Copy)]
enum Mode {
    /// All at once, then close.
    Close,
    /// All at once, then a reset (SO_LINGER 0) instead of a close.
    Reset,
    /// A byte every 200 ms: a head that never ends within the client's timeout.
    Drip,
}

/// The outcome a case must have: success with this many body bytes, or this error kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Bytes(u64),
    Kind(&'static str),
}

struct Case {
    path: &'static str,
    bytes: Vec<u8>,
    mode: Mode,
    want: Want,
}

fn case(path: &'static str, bytes: &[u8], mode: Mode, want: Want) -> Case {
    Case {
        path,
        bytes: bytes.to_vec(),
        mode,
        want,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Every case, and what curl 7.88 does with it (`curl -s --compressed -L`), as a comment.
fn cases() -> Vec<Case> {
    use Mode::*;
    use Want::*;
    let ok2 = |path, bytes: &[u8]| case(path, bytes, Close, Bytes(2));
    let zipped = gzip(b"zipped body");
    let mut trailing = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        zipped.len() + 4
    )
    .into_bytes();
    trailing.extend_from_slice(&zipped);
    trailing.extend_from_slice(b"junk");
    let mut cut = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        zipped.len() - 6
    )
    .into_bytes();
    cut.extend_from_slice(&zipped[..zipped.len() - 6]);
    let mut long_status = b"HTTP/1.1 200 ".to_vec();
    long_status.extend(std::iter::repeat_n(b'O', 400_000));
    long_status.extend_from_slice(b"\r\n\r\n");
    let binary: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
    vec![
        // curl 52 "Empty reply from server".
        case("/empty", b"", Close, Kind("connection_reset")),
        // curl 1 "Received HTTP/0.9 when not allowed".
        case("/http09", b"hello there\n", Close, Kind("protocol")),
        case("/binary", &binary, Close, Kind("protocol")),
        // curl 1 "Unsupported response code".
        case(
            "/status-000",
            b"HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\nok",
            Close,
            Kind("protocol"),
        ),
        case(
            "/status-abc",
            b"HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nok",
            Close,
            Kind("protocol"),
        ),
        case(
            "/http2-version",
            b"HTTP/2 200\r\ncontent-length: 2\r\n\r\nok",
            Close,
            Kind("protocol"),
        ),
        // curl 27 "Too large response headers".
        case("/long-status", &long_status, Close, Kind("protocol")),
        // Transfer-Encoding wins over Content-Length (RFC 9112 6.3): curl, 3 bytes.
        case(
            "/te-and-cl",
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            Close,
            Bytes(3),
        ),
        // curl takes the last length; two lengths that differ are unrecoverable (RFC 9112 6.3).
        case(
            "/two-lengths",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            Close,
            Kind("protocol"),
        ),
        case(
            "/same-length-twice",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\nhello",
            Close,
            Bytes(5),
        ),
        // curl 8.
        case(
            "/negative-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
            Close,
            Kind("protocol"),
        ),
        // curl 56.
        case(
            "/huge-chunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nabc",
            Close,
            Kind("protocol"),
        ),
        case(
            "/chunk-extension-and-trailers",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
            Close,
            Bytes(5),
        ),
        // curl 18.
        case(
            "/chunked-cut",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            Close,
            Kind("truncated"),
        ),
        // curl hands over the bytes still gzip-coded (exit 0) or fails (61); never a success
        // here: the body would not be the body.
        case(
            "/te-gzip",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            Close,
            Kind("decoding"),
        ),
        case(
            "/te-unknown",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\nhello",
            Close,
            Kind("decoding"),
        ),
        ok2(
            "/100-continue",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ),
        ok2(
            "/103-early-hints",
            b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ),
        // curl 56 "Too large response headers": interim heads count toward the limit.
        case(
            "/endless-interim",
            &b"HTTP/1.1 100 Continue\r\n\r\n".repeat(20_000),
            Close,
            Kind("protocol"),
        ),
        ok2("/bare-lf", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
        ok2(
            "/obsolete-fold",
            b"HTTP/1.1 200 OK\r\nX-A: a\r\n  b\r\nContent-Length: 2\r\n\r\nok",
        ),
        ok2(
            "/space-before-colon",
            b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
        ),
        ok2("/no-reason", b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"),
        // curl 8 "Header without colon" / a NUL in a header.
        case(
            "/no-colon",
            b"HTTP/1.1 200 OK\r\nGarbage line\r\nContent-Length: 2\r\n\r\nok",
            Close,
            Kind("protocol"),
        ),
        case(
            "/nul-in-header",
            b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok",
            Close,
            Kind("protocol"),
        ),
        case(
            "/http10-until-close",
            b"HTTP/1.0 200 OK\r\n\r\nuntil close",
            Close,
            Bytes(11),
        ),
        case(
            "/204-with-body",
            b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
            Close,
            Bytes(0),
        ),
        // curl 61 "incorrect header check".
        case(
            "/gzip-not-gzip",
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
            Close,
            Kind("decoding"),
        ),
        // curl 23 after writing the body.
        case("/gzip-trailing-junk", &trailing, Close, Kind("decoding")),
        // curl 0 with the body, its CRC never checked; here the check is not skipped.
        case("/gzip-cut", &cut, Close, Kind("decoding")),
        case(
            "/unknown-coding",
            b"HTTP/1.1 200 OK\r\nContent-Encoding: xyz\r\nContent-Length: 5\r\n\r\nhello",
            Close,
            Kind("decoding"),
        ),
        // curl -L: an empty Location is no redirect; the 302 is the answer.
        case(
            "/empty-location",
            b"HTTP/1.1 302 Found\r\nLocation: \r\nContent-Length: 0\r\n\r\n",
            Close,
            Bytes(0),
        ),
        case(
            "/location-not-a-url",
            b"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n",
            Close,
            Kind("protocol"),
        ),
        case(
            "/location-ftp",
            b"HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/x\r\nContent-Length: 0\r\n\r\n",
            Close,
            Kind("unsupported_scheme"),
        ),
        // curl 18.
        case(
            "/length-short",
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..",
            Close,
            Kind("truncated"),
        ),
        case(
            "/head-cut",
            b"HTTP/1.1 200 OK\r\nContent-Le",
            Close,
            Kind("truncated"),
        ),
        // curl 56.
        case(
            "/reset-in-head",
            b"HTTP/1.1 200 OK\r\nContent-Le",
            Reset,
            Kind("connection_reset"),
        ),
        case(
            "/reset-in-body",
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf",
            Reset,
            Kind("connection_reset"),
        ),
        case(
            "/drip-head",
            &b"HTTP/1.1 200 OK\r\n".repeat(100),
            Drip,
            Kind("timeout"),
        ),
    ]
}

/// Serves `cases` on 127.0.0.1:0, a thread a connection; each connection reads one request
/// head and answers with its case's bytes.
fn serve(cases: Vec<Case>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let cases = std::sync::Arc::new(cases);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let cases = cases.clone();
            std::thread::spawn(move || answer(conn, &cases));
        }
    });
    addr
}

fn answer(mut conn: TcpStream, cases: &[Case]) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let target = String::from_utf8_lossy(&head)
        .split(' ')
        .nth(1)
        .unwrap_or("")
        .to_owned();
    let path = target.split('?').next().unwrap_or("");
    let Some(c) = cases.iter().find(|c| c.path == path) else {
        let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    match c.mode {
        Mode::Close => {
            let _ = conn.write_all(&c.bytes);
        }
        Mode::Reset => {
            let _ = conn.write_all(&c.bytes);
            reset(conn);
        }
        Mode::Drip => {
            for b in &c.bytes {
                if conn.write_all(&[*b]).is_err() {
                    return;
                }
                // A server thread, not a coroutine: sleeping here is how it drips.
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// Closes `conn` with a reset (SO_LINGER with a zero timeout).
fn reset(conn: TcpStream) {
    let sock = socket2::SockRef::from(&conn);
    let _ = sock.set_linger(Some(Duration::ZERO));
    drop(conn);
}

fn run(cmd: &str, input: &str) -> (std::process::Output, Duration) {
    let args = [
        "-q",
        "-f",
        "jsonl",
        "-c",
        "16",
        "--timeout",
        "2s",
        "--retries",
        "0",
    ];
    crate::faults::run(cmd, &args, input.as_bytes())
}

/// One record a line, in order, each the wanted outcome; where `fetch` succeeds, `titles` says
/// the body is not a feed.
fn check(cmd: &str, cases: &[Case], out: &std::process::Output, took: Duration) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{cmd}: a panic: {stderr}");
    let recs = crate::util::records(out);
    assert_eq!(
        recs.len(),
        cases.len(),
        "{cmd}: one record a line\n{stderr}"
    );
    let mut bad = Vec::new();
    for (i, (c, r)) in cases.iter().zip(&recs).enumerate() {
        assert_eq!(r["index"], i, "{cmd}: records in input order");
        let kind = r["error"]["kind"].as_str();
        let ok = match (c.want, kind) {
            (Want::Bytes(n), None) => cmd != "fetch" || r["bytes"] == n,
            // The bodies are not feeds: a fetch that succeeded is a title that could not be.
            (Want::Bytes(_), Some(k)) => cmd == "titles" && matches!(k, "not_a_feed" | "no_title"),
            (Want::Kind(w), Some(k)) => w == k,
            (Want::Kind(_), None) => false,
        };
        if !ok {
            bad.push(format!("{cmd} {}: wanted {:?}, got {r}", c.path, c.want));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // Every case ends within its 2 s timeout, 16 at a time.
    let bound = Duration::from_secs(2) * cases.len().div_ceil(16) as u32;
    assert!(
        took < bound * 4,
        "{cmd}: took {took:?}, the bound is {bound:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{cmd}: some lines failed");
}

#[test]
fn fetch_and_titles_take_every_raw_fault() {
    let addr = serve(cases());
    let cases = cases();
    let input: String = cases
        .iter()
        .map(|c| format!("http://{addr}{}\n", c.path))
        .collect();
    let (out, took) = run("fetch", &input);
    check("fetch", &cases, &out, took);
    let (out, took) = run("titles", &input);
    check("titles", &cases, &out, took);
}
