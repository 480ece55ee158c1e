//! The properties the fuzz targets check, shared with the regression test that replays every
//! input kept in `fuzz/regressions/` (`cargo test` runs it; the fuzzers run these too).

use greenfetch::feed::{discover, html_title, title_from_bytes};
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
/// its whitespace collapsed, and a discovered feed URL parses.
pub(crate) fn check_title(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let ct = TYPES[pick as usize % TYPES.len()];
    if let Ok(info) = title_from_bytes(body, ct) {
        well_formed(&info.title);
    }
    if let Some(t) = html_title(body, ct) {
        well_formed(&t);
    }
    let link = (pick & 0x80 != 0).then(|| String::from_utf8_lossy(body).into_owned());
    if let Some(url) = discover(body, ct, "https://page.test/a/b", link.as_deref()) {
        assert!(url::Url::parse(&url).is_ok(), "{url:?}");
    }
}
