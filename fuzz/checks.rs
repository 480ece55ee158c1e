//! The properties the fuzz targets check, shared with the regression test that replays every
//! input kept in `fuzz/regressions/` (`cargo test` runs it; the fuzzers run these too).

use greenfetch::feed::{discover, html_title, title_from_bytes, title_only};
use greenfetch::fetch::{host_of, parse_line, stable_hash, MAX_URL_LEN};

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
        cfg.fetch.agent.address_policy = AddressPolicy::deny_all();
        cfg.fetch.agent.resolver = GreenResolver::with_lookup(|host: &str, _| {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{host}: no lookups while fuzzing"),
            ))
        });
        cfg.http.client_timeout = std::time::Duration::from_secs(2);
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
    assert!(
        status[0] != b'5',
        "a {} for {:?}",
        String::from_utf8_lossy(status),
        String::from_utf8_lossy(&data[..data.len().min(200)])
    );
}
