//! The properties the fuzz targets check, shared with the regression test that replays every
//! input kept in `fuzz/regressions/` (`cargo test` runs it; the fuzzers run these too).

use greenfetch::client::decode::{Coding, decode_error, decoder};
use greenfetch::feed::{discover, html_title, title_from_bytes, title_only};
use greenfetch::fetch::{MAX_URL_LEN, host_of, parse_line, stable_hash};

/// One input line, as `fetch`, `titles` and `serve` check it: `parse_line` returns (never
/// panics), and a URL it accepts is trimmed, within the cap, free of NUL, and has a host that
/// `host_of` and the shard hash can take.
pub(crate) fn check_parse_line(line: &[u8]) {
    if let Ok(url) = parse_line(line) {
        assert!(url.len() <= MAX_URL_LEN);
        assert!(!url.contains('\0'));
        assert_eq!(url.trim(), url);
        let host = host_of(&url).unwrap_or_default();
        let _ = stable_hash(&host);
    }
}

/// Content-Types the first byte of a title input picks from: none, feed types, HTML, charsets
/// (some odd, some unknown).
const TYPES: &[Option<&str>] = &[
    None,
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=utf-8"),
    Some("application/feed+json"),
    Some("text/html"),
    Some("text/html; charset=windows-1252"),
    Some("text/xml; charset=UTF-16"),
    Some("application/xml; charset=ibm866"),
    Some("text/plain; charset=x-mac-roman"),
    Some("application/rss+xml; charset=\"shift_jis\""),
    Some("text/html; charset=utf-16be"),
    Some("; charset="),
    Some("application/json; charset=nonsense"),
    Some("text/html;charset=gb18030;q=1"),
    Some("application/xhtml+xml; charset=ISO-2022-JP"),
    Some(""),
    // Python's codecs (issue 14): generated tables, Python-vs-WHATWG deltas, stateful decoders.
    Some("application/rss+xml; charset=ebcdic-cp-us"),
    Some("application/rss+xml; charset=utf-32"),
    Some("application/atom+xml; charset=UTF-32BE"),
    Some("application/rss+xml; charset=johab"),
    Some("application/rss+xml; charset=csISO2022KR"),
    Some("application/rss+xml; charset=iso2022_jp_2"),
    Some("application/rss+xml; charset=ISO-2022-JP-2004"),
    Some("application/rss+xml; charset=hz-gb-2312"),
    Some("application/rss+xml; charset=big5"),
    Some("application/rss+xml; charset=cp950"),
    Some("application/rss+xml; charset=euc_jis_2004"),
    Some("application/rss+xml; charset=shift_jisx0213"),
    Some("application/rss+xml; charset=euc-kr"),
    Some("application/rss+xml; charset=utf-7"),
    Some("application/rss+xml; charset=punycode"),
    Some("application/rss+xml; charset=unicode_escape"),
    Some("application/rss+xml; charset=raw-unicode-escape"),
    Some("application/rss+xml; charset=idna"),
    Some("application/rss+xml; charset=maccentraleurope"),
    Some("application/rss+xml; charset=koi8-t"),
];

fn well_formed(title: &str) {
    assert!(!title.is_empty());
    assert_eq!(title.trim(), title, "whitespace trimmed");
    assert!(!title.contains("  "), "whitespace collapsed: {title:?}");
    assert!(!title.contains('\n') && !title.contains('\t'), "{title:?}");
}

/// Title extraction from arbitrary bytes: the first byte picks a Content-Type (and, with its
/// top bit, whether the body is also offered as a `Link` header), the rest is the body. Feed
/// titles, HTML titles and autodiscovery return (never panic), a title is never empty and has
/// its whitespace collapsed, a discovered feed URL parses, and `title_only` answers exactly
/// what `title_from_bytes` does, less the entries (its quick path skips feed-rs).
pub(crate) fn check_title(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let ct = TYPES[pick as usize % TYPES.len()];
    let full = title_from_bytes(body, ct);
    if let Ok(info) = &full {
        well_formed(&info.title);
    }
    let without_entries = full.map(|mut info| {
        info.entries.clear();
        info
    });
    assert_eq!(
        title_only(body, ct),
        without_entries,
        "title_only and title_from_bytes differ"
    );
    if let Some(t) = html_title(body, ct) {
        well_formed(&t);
    }
    let link = (pick & 0x80 != 0).then(|| String::from_utf8_lossy(body).into_owned());
    if let Some(url) = discover(body, ct, "https://page.test/a/b", link.as_deref()) {
        assert!(url::Url::parse(&url).is_ok(), "{url:?}");
    }
}

/// The dispatch service, started once per process on loopback, with an agent that can reach
/// nothing: every name fails to resolve (no lookup is made) and every address is refused, so
/// whatever URLs the input holds, no connection leaves the machine.
fn dispatch_server() -> std::net::SocketAddr {
    use greenfetch::green::ureq::{AddressPolicy, GreenResolver};
    use greenfetch::server::dispatch::{Dispatch, DispatchConfig};
    use std::sync::OnceLock;
    static SERVER: OnceLock<std::net::SocketAddr> = OnceLock::new();
    *SERVER.get_or_init(|| {
        let mut cfg = DispatchConfig::default();
        cfg.fetch.retries = 0;
        cfg.fetch.client.address_policy = AddressPolicy::deny_all();
        cfg.fetch.client.resolver = GreenResolver::with_lookup(|host: &str, _| {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{host}: no lookups while fuzzing"),
            ))
        });
        cfg.http.client_timeout = std::time::Duration::from_secs(2);
        // The fuzzer is one client opening connections by the thousand, and each closing
        // connection lingers a moment: without these, its share (128) fills and the answer is
        // a deserved 503 "busy", which says nothing about the request path under test.
        cfg.http.max_connections = 100_000;
        cfg.http.max_connections_per_client = 100_000;
        cfg.http.idle_timeout = std::time::Duration::from_secs(2);
        let server = Dispatch::new(cfg)
            .start("127.0.0.1:0")
            .expect("the dispatch service starts");
        let addr = server.addr();
        std::mem::forget(server); // serves for the life of the process
        addr
    })
}

/// The serve request path: the bytes go to the dispatch service over one connection, which is
/// then half-closed. The service must answer (or close) within its timeouts, every answer must
/// start with an HTTP/1.1 status line, and a bad request is never a `5xx` (a `500` would mean
/// a panic in the service, `503` cannot happen with one client).
pub(crate) fn check_serve_request(data: &[u8]) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(dispatch_server()).expect("connect");
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    // The service may answer and close before reading everything: a failed write is fine.
    let _ = conn.write_all(data);
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    match conn.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("no answer and no close within 30 s: {e}"),
    }
    if answer.is_empty() {
        // Only a connection that sent nothing (or blank lines, which RFC 9112 2.2 says to
        // ignore before a request) may be closed without an answer: serve never drops a
        // request silently.
        assert!(
            data.iter().all(|b| matches!(b, b'\r' | b'\n')),
            "closed without an answer to {:?}",
            String::from_utf8_lossy(&data[..data.len().min(200)])
        );
        return;
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 ") && answer.len() >= 12,
        "not a status line: {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(80)])
    );
    let status = &answer[9..12];
    // A 505 is right for a well-formed version other than 1.x (`HTTP/2.0`), and only then.
    let line = data
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    let other_version = matches!(
        version.strip_prefix(b"HTTP/"),
        Some([d]) if d.is_ascii_digit()
    ) || matches!(
        version.strip_prefix(b"HTTP/"),
        Some([d, b'.', e]) if d.is_ascii_digit() && e.is_ascii_digit()
    );
    if status == b"505" && other_version {
        return;
    }
    // A transfer coding other than chunked is 501 (RFC 9112 §6.1), and only then.
    let text = String::from_utf8_lossy(data).to_ascii_lowercase();
    if status == b"501" && text.contains("transfer-encoding") {
        return;
    }
    assert!(
        status[0] != b'5',
        "a {} for {:?}",
        String::from_utf8_lossy(status),
        String::from_utf8_lossy(&data[..data.len().min(200)])
    );
}

/// A proxy's answer to greenfetch's handshake, any bytes: the first byte picks the handshake
/// (HTTP `CONNECT`, SOCKS5 without and with credentials, SOCKS5 with a name, SOCKS4, SOCKS4a),
/// the rest is what the proxy sends. The handshake returns (never panics, never reads past the
/// end); an HTTP tunnel opens only on a 2xx head and leaves every byte after the head's blank
/// line unread (those belong to the tunnel); a SOCKS5 path opens only on reply code 0.
pub(crate) fn check_proxy_answer(data: &[u8]) {
    use greenfetch::client::proxy::{
        ProxyUrl, SocksTarget, http_connect, socks4_connect, socks5_connect,
    };
    use std::io::{Cursor, Read, Write};
    struct Wire(Cursor<Vec<u8>>, Vec<u8>);
    impl Read for Wire {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(b)
        }
    }
    impl Write for Wire {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.1.write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let Some((&pick, answer)) = data.split_first() else {
        return;
    };
    let mut w = Wire(Cursor::new(answer.to_vec()), Vec::new());
    let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
    match pick % 6 {
        0 => {
            let p = ProxyUrl::parse("http://u:p@127.0.0.1:3128").unwrap();
            if http_connect(&mut w, &p, "origin.test", 443, "fuzz").is_ok() {
                let read = &answer[..w.0.position() as usize];
                assert!(read.ends_with(b"\r\n\r\n") || read.ends_with(b"\n\n"));
                // httparse, like curl, lets blank lines come before the status line.
                let start = read
                    .iter()
                    .position(|b| !matches!(b, b'\r' | b'\n'))
                    .unwrap_or(0);
                let code = read[start..].get(9..12).unwrap_or_default();
                assert_eq!(
                    code.first(),
                    Some(&b'2'),
                    "a tunnel on {:?}",
                    String::from_utf8_lossy(code)
                );
            }
        }
        1..=3 => {
            let p = match pick % 6 {
                1 => ProxyUrl::parse("socks5://127.0.0.1").unwrap(),
                2 => ProxyUrl::parse("socks5://me:pw@127.0.0.1").unwrap(),
                _ => ProxyUrl::parse("socks5h://127.0.0.1").unwrap(),
            };
            let target = if pick % 6 == 3 {
                SocksTarget::Name("origin.test", 80)
            } else {
                SocksTarget::Addr(addr)
            };
            if socks5_connect(&mut w, &p, target).is_ok() {
                // The reply (after the method choice, and the auth status with credentials)
                // said "succeeded".
                let at = if answer.get(1) == Some(&2) { 4 } else { 2 };
                assert_eq!(answer.get(at + 1), Some(&0));
            }
        }
        _ => {
            let p = ProxyUrl::parse("socks4a://127.0.0.1").unwrap();
            let target = if pick % 6 == 4 {
                SocksTarget::Addr(addr)
            } else {
                SocksTarget::Name("origin.test", 80)
            };
            if socks4_connect(&mut w, &p, target).is_ok() {
                assert_eq!(answer.get(1), Some(&90));
            }
        }
    }
}

/// robots.txt, any bytes, for a path taken from the first line of the input: `Robots::check`
/// returns (never panics), answers the same when asked again (from its cache, without a
/// second fetch), and a file that is empty of rules for everyone allows every path.
pub(crate) fn check_robots(data: &[u8]) {
    use greenfetch::fetch::robots::{Robots, RobotsFile};
    let (first, file) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let path: String = String::from_utf8_lossy(first)
        .chars()
        .filter(|c| !c.is_control() && *c != '#' && *c != '?')
        .take(200)
        .collect();
    let Ok(url) = url::Url::parse(&format!("http://127.0.0.1:8080/{path}")) else {
        return;
    };
    let robots = Robots::new("greenfetch/0.1.0");
    let first = robots.check(&url, |_| RobotsFile::Found(file.to_vec()));
    let again = robots.check(&url, |_| panic!("robots.txt fetched twice for one origin"));
    assert_eq!(first, again);
    let empty = Robots::new("greenfetch/0.1.0");
    assert!(empty.check(&url, |_| RobotsFile::Found(Vec::new())).is_ok());
    assert!(empty.check(&url, |_| unreachable!()).is_ok());
}

/// The codings the first byte of a decode input picks from.
const CODINGS: [Coding; 4] = [Coding::Gzip, Coding::Deflate, Coding::Br, Coding::Zstd];

/// The most a decode input is decoded to: a few fuzzer bytes can be a bomb of gigabytes.
const DECODE_CAP: u64 = 4 << 20;

/// `data` in coding `c`, by the crates' encoders (raw deflate for `Deflate` when `raw`).
fn encode(c: Coding, data: &[u8], raw: bool) -> Vec<u8> {
    use std::io::Write;
    let level = flate2::Compression::fast();
    let mut out = Vec::new();
    match c {
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(out, level);
            e.write_all(data).unwrap();
            out = e.finish().unwrap();
        }
        Coding::Deflate if raw => {
            let mut e = flate2::write::DeflateEncoder::new(out, level);
            e.write_all(data).unwrap();
            out = e.finish().unwrap();
        }
        Coding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(out, level);
            e.write_all(data).unwrap();
            out = e.finish().unwrap();
        }
        Coding::Br => {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 2, 16);
            w.write_all(data).unwrap();
            drop(w);
        }
        Coding::Zstd => out = zstd::stream::encode_all(data, 1).unwrap(),
    }
    out
}

/// Reads what `decoder` makes of `body`, up to [`DECODE_CAP`] bytes, a byte at a time from the
/// body when `drip` (as a slow chunked body arrives).
fn decode_all(codings: &[Coding], body: &[u8], drip: bool) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    struct Drip<'a>(&'a [u8]);
    impl Read for Drip<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let reader = if drip {
        decoder(codings, Drip(body))
    } else {
        decoder(codings, body)
    };
    let mut out = Vec::new();
    reader.take(DECODE_CAP).read_to_end(&mut out)?;
    Ok(out)
}

/// The content-coding decoders on arbitrary bytes. The first byte picks one coding or two
/// stacked (bits 0-4), whether the body arrives a byte at a time (bit 5), and whether the rest
/// is a body to decode (bit 6 clear) or a plain text to encode with the crates' encoders and
/// decode back (bit 6 set; bit 7: deflate raw rather than zlib-wrapped).
///
/// A body to decode decodes (never panics), or fails with a `DecodeError`: the body is a slice,
/// so no other error can come from underneath. A round trip gives back the text exactly.
pub(crate) fn check_decode(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let first = CODINGS[usize::from(pick & 3)];
    let second = CODINGS[usize::from((pick >> 2) & 3)];
    let codings: Vec<Coding> = if pick & 0x10 != 0 {
        vec![first, second]
    } else {
        vec![first]
    };
    let drip = pick & 0x20 != 0;
    if pick & 0x40 != 0 {
        let raw = pick & 0x80 != 0;
        let mut body = rest.to_vec();
        for &c in &codings {
            body = encode(c, &body, raw);
        }
        match decode_all(&codings, &body, drip) {
            Ok(out) => assert!(out == rest, "{codings:?}: the round trip changed the text"),
            Err(e) => panic!("{codings:?}: a round trip failed: {e}"),
        }
    } else if let Err(e) = decode_all(&codings, rest, drip) {
        assert!(
            decode_error(&e).is_some(),
            "{codings:?}: not a decode error: {e}"
        );
    }
}

/// The cookie engine on arbitrary bytes: the input is split at its first NUL into a cookie
/// file (Netscape format or `Set-Cookie:` lines, as `-b FILE` reads it) and `Set-Cookie`
/// header values (one a line) stored for a URL. Loading either returns (never panics); the
/// `Cookie` header for the URL has no line break; the jar written (`--cookie-jar`) loads back
/// into the same cookies, and writing it again gives the same file.
pub(crate) fn check_cookies(data: &[u8]) {
    use greenfetch::fetch::cookies::Cookies;
    let (file, headers) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let url = url::Url::parse("http://127.0.0.1:8080/a/b").unwrap();
    let jar = Cookies::new();
    let _ = jar.load(&String::from_utf8_lossy(file));
    jar.store(&url, headers.split(|&b| b == b'\n'));
    if let Some(h) = jar.header(&url) {
        assert!(!h.contains('\n') && !h.contains('\r'), "{h:?}");
    }
    let text = jar.to_netscape();
    let again = Cookies::new();
    let loaded = again.load(&text);
    assert!(
        loaded.is_ok(),
        "the written jar does not load: {loaded:?}\n{text}"
    );
    assert_eq!(
        again.to_netscape(),
        text,
        "a jar read back and written again changed"
    );
    assert_eq!(again.header(&url), jar.header(&url));
}

/// `merge`'s jsonl reader on arbitrary bytes: the input is split at NUL bytes into up to four
/// inputs. The merge returns (never panics); when it succeeds, the records it wrote have
/// strictly increasing indices, each is a line of some input, and its counts add up (every
/// record read is written or dropped as a duplicate; `missing` is the gaps below the largest).
pub(crate) fn check_merge(data: &[u8]) {
    use greenfetch::merge::{Input, merge};
    let parts: Vec<&[u8]> = data.splitn(4, |&b| b == 0).collect();
    let inputs = parts
        .iter()
        .enumerate()
        .map(|(k, p)| Input::new(format!("in{k}"), std::io::Cursor::new(p.to_vec())))
        .collect();
    let mut out = Vec::new();
    let Ok(stats) = merge(inputs, &mut out) else {
        return; // refused with a message: a record without an index, or out of order
    };
    let lines: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(lines.len() as u64, stats.written);
    let mut last: Option<u64> = None;
    for line in &lines {
        assert!(line.ends_with(b"\n"), "every record written ends its line");
        #[derive(serde::Deserialize)]
        struct Indexed {
            index: u64,
        }
        let rec: Indexed = serde_json::from_slice(line).expect("a written record parses");
        assert!(last.is_none_or(|l| rec.index > l), "indices go up strictly");
        last = Some(rec.index);
        let body = &line[..line.len() - 1];
        assert!(
            parts
                .iter()
                .any(|p| p.split(|&b| b == b'\n').any(|l| l == body)),
            "a written line is a line of an input, untouched"
        );
    }
    let read: u64 = parts
        .iter()
        .map(|p| {
            p.split(|&b| b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .count() as u64
        })
        .sum();
    assert_eq!(stats.written + stats.duplicates, read);
    let span = last.map_or(0, |l| u128::from(l) + 1);
    assert_eq!(u128::from(stats.missing), span - u128::from(stats.written));
}
