//! Feed titles against feedparser's answers, autodiscovery, HTML titles, and a parse inside a
//! green thread at the default stack.
//!
//! fixtures/feeds/expected.tsv is written by fixtures/check_feedparser.py from what Python's
//! feedparser reports for each fixture (fixtures/README.md lists them). Its `expected` column is
//! feedparser's answer by fixed rules (whitespace collapsed, HTML rendered as text) or, where we
//! deliberately differ, our decision with its reason in `notes`.

use std::time::Duration;

use greenfetch::error::ErrorKind;
use greenfetch::feed::{discover, html_title, title_from_bytes, title_only};

const FEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/feeds");

/// One row of expected.tsv.
struct Case {
    file: String,
    content_type: Option<String>,
    feedparser: String,
    expected: String,
    version: String,
    bozo: String,
    entries: String,
}

fn cases() -> Vec<Case> {
    let tsv = std::fs::read_to_string(format!("{FEEDS}/expected.tsv")).expect("expected.tsv");
    let mut lines = tsv.lines();
    assert_eq!(
        lines.next(),
        Some("file\tcontent_type\tfeedparser\texpected\tversion\tbozo\tentries\tnotes")
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 8, "{line}");
            Case {
                file: f[0].to_owned(),
                content_type: (f[1] != "-").then(|| f[1].to_owned()),
                feedparser: f[2].to_owned(),
                expected: f[3].to_owned(),
                version: f[4].to_owned(),
                bozo: f[5].to_owned(),
                entries: f[6].to_owned(),
            }
        })
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FEEDS}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every fixture: the title (or failure kind), the format, the bozo flag and the entry titles
/// agree with expected.tsv. All mismatches are reported together.
#[test]
fn fixtures_match_feedparser() {
    let cases = cases();
    assert!(cases.len() >= 50, "expected.tsv lists every fixture");
    let mut failures = Vec::new();
    for case in &cases {
        let got = title_from_bytes(&fixture(&case.file), case.content_type.as_deref());
        let ours = match &got {
            Ok(info) => info.title.clone(),
            Err(e) => format!("error:{}", e.kind),
        };
        if ours != case.expected {
            failures.push(format!(
                "{}: expected {:?}, got {:?} ({:?}); feedparser said {}",
                case.file, case.expected, ours, got, case.feedparser
            ));
            continue;
        }
        let Ok(info) = got else { continue };
        if info.kind.as_str() != case.version {
            failures.push(format!(
                "{}: format {} but feedparser says {}",
                case.file,
                info.kind.as_str(),
                case.version
            ));
        }
        if info.bozo.is_some() != (case.bozo == "1") {
            failures.push(format!(
                "{}: bozo {:?} but feedparser's flag is {}",
                case.file, info.bozo, case.bozo
            ));
        }
        if info.entries.join(" | ") != case.entries {
            failures.push(format!(
                "{}: entries {:?}, feedparser {:?}",
                case.file, info.entries, case.entries
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `title_only` (what `titles` runs without `--entries`) gives every fixture, under its own
/// Content-Type and under none, exactly what `title_from_bytes` gives, less the entries: the
/// same title, format, bozo note and encoding, or the same error.
#[test]
fn title_only_agrees_with_the_full_reading() {
    let mut compared = 0;
    for case in cases() {
        let body = fixture(&case.file);
        for ct in [case.content_type.as_deref(), None] {
            let full = title_from_bytes(&body, ct).map(|mut info| {
                info.entries.clear();
                info
            });
            assert_eq!(title_only(&body, ct), full, "{} ({ct:?})", case.file);
            compared += 1;
        }
    }
    // The large RSS fixture and documents built to reach each fallback: broken after the
    // title, an empty first title with a dc:title, a JSON title that is no string, a JSON
    // Feed with a duplicate key.
    let large = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/large-rss.xml"
    ))
    .expect("large-rss.xml");
    let odd: [&[u8]; 6] = [
        &large,
        b"<rss version=\"2.0\"><channel><title>Kept</title><item><title>a</item></channel></rss>",
        b"<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>\
          <title></title><dc:title>From DC</dc:title></channel></rss>",
        br#"{"version": "https://jsonfeed.org/version/1.1", "title": 7, "items": []}"#,
        br#"{"version": "https://jsonfeed.org/version/1", "title": "A", "title": "B", "items": []}"#,
        br#"{"version": "https://jsonfeed.org/version/1.1", "title": null, "items": []}"#,
    ];
    for body in odd {
        let full = title_from_bytes(body, None).map(|mut info| {
            info.entries.clear();
            info
        });
        assert_eq!(
            title_only(body, None),
            full,
            "{}",
            String::from_utf8_lossy(&body[..60.min(body.len())])
        );
        compared += 1;
    }
    assert!(compared > 100);
}

/// Every file in fixtures/feeds/ is in expected.tsv and documented in fixtures/README.md.
#[test]
fn every_fixture_is_listed() {
    let listed: Vec<String> = cases().into_iter().map(|c| c.file).collect();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/README.md"))
            .unwrap();
    for entry in std::fs::read_dir(FEEDS).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() {
            continue;
        }
        assert!(
            readme.contains(&format!("`feeds/{name}`")),
            "{name} is not in fixtures/README.md"
        );
        if name != "expected.tsv" {
            assert!(listed.contains(&name), "{name} is not in expected.tsv");
        }
    }
    // feeds/encodings/: one document per Python codec and name, documented as a set (by codec)
    // in the README.
    assert!(readme.contains("`feeds/encodings/`"));
    let mut codecs = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(format!("{FEEDS}/encodings")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let codec = name.split("--").next().unwrap().to_owned();
        assert!(
            readme.contains(&format!("| `{codec}` |")),
            "{codec} is not in fixtures/README.md's table of encodings"
        );
        let listed_as = format!("encodings/{name}");
        assert!(listed.contains(&listed_as), "{name} is not in expected.tsv");
        codecs.insert(codec);
    }
    // Every text codec of Python 3.11 but `idna` (a document is no domain name to encode).
    assert!(codecs.len() >= 108, "{} codecs", codecs.len());
}

#[test]
fn failures_say_what_went_wrong() {
    let e = title_from_bytes(
        &fixture("unknown-encoding.xml"),
        Some("application/rss+xml"),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Malformed);
    assert!(e.message.contains("x-klingon"), "{e}");
    let e = title_from_bytes(&fixture("not-a-feed.html"), Some("text/html")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotAFeed);
    assert!(e.message.contains("HTML"), "{e}");
    let e = title_from_bytes(&fixture("no-title.xml"), None).unwrap_err();
    assert_eq!(e.to_string(), "no_title: the rss20 feed has no title");
}

#[test]
fn encoding_is_reported() {
    let enc = |name: &str, ct: Option<&str>| title_from_bytes(&fixture(name), ct).unwrap().encoding;
    assert_eq!(enc("cp437.xml", None), "IBM437");
    assert_eq!(enc("macroman.xml", None), "macintosh");
    assert_eq!(enc("utf16be-bom.xml", None), "UTF-16BE");
    assert_eq!(
        enc(
            "charset-from-header.xml",
            Some("application/rss+xml; charset=windows-1251")
        ),
        "windows-1251"
    );
    assert_eq!(enc("utf8-declared-latin1.xml", None), "windows-1252");
}

// --- autodiscovery ---------------------------------------------------------------------------

const PAGE: &str = "https://blog.example.test/posts/2024/hello.html";

fn found(html: &str) -> Option<String> {
    discover(html.as_bytes(), Some("text/html"), PAGE, None)
}

#[test]
fn discover_in_fixture_pages() {
    assert_eq!(
        discover(
            &fixture("html-with-alternate.html"),
            Some("text/html"),
            PAGE,
            None
        )
        .as_deref(),
        Some("https://blog.example.test/feed.atom"),
        "the first advertised feed, in document order"
    );
    assert_eq!(
        discover(
            &fixture("html-with-base.html"),
            Some("text/html; charset=windows-1252"),
            PAGE,
            None
        )
        .as_deref(),
        Some("http://cdn.example.test/blog/feed.json")
    );
    assert_eq!(
        discover(&fixture("not-a-feed.html"), Some("text/html"), PAGE, None),
        None
    );
}

#[test]
fn discover_attribute_variants() {
    let want = Some("https://blog.example.test/feed.xml".to_owned());
    for tag in [
        r#"<link rel="alternate" type="application/rss+xml" href="/feed.xml">"#,
        r#"<link href="/feed.xml" type="application/rss+xml" rel="alternate">"#,
        r#"<LINK REL="ALTERNATE" TYPE="APPLICATION/RSS+XML" HREF="/feed.xml">"#,
        r#"<link rel='alternate' type='application/rss+xml' href='/feed.xml'/>"#,
        r#"<link rel=alternate type=application/rss+xml href=/feed.xml>"#,
        "<link\n  rel=\"home alternate\"\n  type=\"application/rss+xml\"\n  href=\" /feed.xml \">",
        r#"<link rel="alternate" type="application/rss+xml; charset=utf-8" href="/feed.xml">"#,
        r#"<link rel="alternate" type="application/rss+xml" href="/feed.xml" title="RSS &amp; more">"#,
        r#"<link rel="alternate" type="application/rss+xml" href="&#x2F;feed.xml">"#,
    ] {
        assert_eq!(
            found(&format!("<html><head>{tag}</head></html>")),
            want,
            "{tag}"
        );
    }
}

#[test]
fn discover_feed_types() {
    for (kind, expect) in [
        ("application/rss+xml", true),
        ("application/atom+xml", true),
        ("application/rdf+xml", true),
        ("application/feed+json", true),
        ("application/json", true),
        ("application/atom+xml;type=entry", false),
        ("text/html", false),
        ("text/css", false),
    ] {
        let html = format!(r#"<link rel="alternate" type="{kind}" href="/f">"#);
        assert_eq!(found(&html).is_some(), expect, "{kind}");
    }
    // Not rel=alternate: a stylesheet, a missing rel, an empty href.
    assert_eq!(
        found(r#"<link rel="stylesheet" type="application/rss+xml" href="/f">"#),
        None
    );
    assert_eq!(
        found(r#"<link type="application/rss+xml" href="/f">"#),
        None
    );
    assert_eq!(
        found(r#"<link rel="alternate" type="application/rss+xml" href="">"#),
        None
    );
}

#[test]
fn discover_resolves_hrefs() {
    let one = |href: &str| {
        found(&format!(
            r#"<link rel="alternate" type="application/atom+xml" href="{href}">"#
        ))
    };
    assert_eq!(
        one("feed.atom").as_deref(),
        Some("https://blog.example.test/posts/2024/feed.atom")
    );
    assert_eq!(
        one("../atom").as_deref(),
        Some("https://blog.example.test/posts/atom")
    );
    assert_eq!(
        one("/atom").as_deref(),
        Some("https://blog.example.test/atom")
    );
    assert_eq!(
        one("//feeds.example.test/x").as_deref(),
        Some("https://feeds.example.test/x"),
        "protocol-relative keeps the page's scheme"
    );
    assert_eq!(
        one("http://other.test/feed?a=1&amp;b=2").as_deref(),
        Some("http://other.test/feed?a=1&b=2")
    );
    assert_eq!(
        one("?format=atom").as_deref(),
        Some("https://blog.example.test/posts/2024/hello.html?format=atom")
    );
}

#[test]
fn discover_uses_base_href() {
    let html = r#"<head><base href="/static/"><base href="https://ignored.test/">
        <link rel="alternate" type="application/rss+xml" href="rss.xml"></head>"#;
    assert_eq!(
        found(html).as_deref(),
        Some("https://blog.example.test/static/rss.xml"),
        "the first <base> counts, itself relative to the page"
    );
}

#[test]
fn discover_ignores_links_in_comments_and_scripts() {
    let html = r#"<!-- <link rel="alternate" type="application/rss+xml" href="/old"> -->
        <script>var s = '<link rel="alternate" type="application/rss+xml" href="/js">';</script>
        <link rel="alternate" type="application/rss+xml" href="/real">"#;
    assert_eq!(
        found(html).as_deref(),
        Some("https://blog.example.test/real")
    );
}

#[test]
fn discover_from_link_header() {
    let header = r#"<https://blog.example.test/style.css>; rel="stylesheet", </feed/atom>; rel="alternate"; type="application/atom+xml"; title="Atom, feed""#;
    assert_eq!(
        discover(b"<p>no links</p>", Some("text/html"), PAGE, Some(header)).as_deref(),
        Some("https://blog.example.test/feed/atom")
    );
    // rel with several tokens, unquoted parameters, an absolute URL.
    let header = "<https://feeds.test/a.json>;rel=\"home alternate\";type=application/feed+json";
    assert_eq!(
        discover(b"", None, PAGE, Some(header)).as_deref(),
        Some("https://feeds.test/a.json")
    );
    // The page's own <link> comes first; the header's href ignores the page's <base>.
    let page = br#"<base href="https://cdn.test/"><link rel="alternate" type="application/rss+xml" href="rss">"#;
    assert_eq!(
        discover(
            page,
            None,
            PAGE,
            Some("</h>; rel=alternate; type=application/rss+xml")
        )
        .as_deref(),
        Some("https://cdn.test/rss")
    );
    assert_eq!(
        discover(
            b"",
            None,
            PAGE,
            Some("</h>; rel=alternate; type=application/rss+xml")
        )
        .as_deref(),
        Some("https://blog.example.test/h")
    );
    // Not a feed: wrong rel, wrong type, garbage.
    assert_eq!(
        discover(
            b"",
            None,
            PAGE,
            Some("</h>; rel=next; type=application/rss+xml")
        ),
        None
    );
    assert_eq!(
        discover(b"", None, PAGE, Some("</h>; rel=alternate; type=text/html")),
        None
    );
    assert_eq!(discover(b"", None, PAGE, Some("garbage, <<>>;;")), None);
}

#[test]
fn discover_needs_an_absolute_base() {
    let html = br#"<link rel="alternate" type="application/rss+xml" href="/f">"#;
    assert_eq!(discover(html, None, "not a url", None), None);
}

#[test]
fn html_title_variants() {
    assert_eq!(
        html_title(&fixture("not-a-feed.html"), Some("text/html")).as_deref(),
        Some("Just a page")
    );
    assert_eq!(
        html_title(&fixture("html-with-alternate.html"), Some("text/html")).as_deref(),
        Some("A blog & its feeds")
    );
    // windows-1252 bytes, the charset in both the header and a <meta>.
    assert_eq!(
        html_title(
            &fixture("html-with-base.html"),
            Some("text/html; charset=windows-1252")
        )
        .as_deref(),
        Some("Base — page")
    );
    assert_eq!(
        html_title(&fixture("html-with-base.html"), None).as_deref(),
        Some("Base — page"),
        "from <meta http-equiv> alone"
    );
    // Markup inside <title> is text (RCDATA), entities are decoded, whitespace collapsed.
    assert_eq!(
        html_title(
            b"<TITLE>\n a <b>&lt;b&gt;</b> &eacute;t&eacute; </TITLE>",
            None
        )
        .as_deref(),
        Some("a <b><b></b> été")
    );
    assert_eq!(
        html_title(
            b"<meta charset=\"koi8-r\"><title>\xf0\xd2\xc9\xd7\xc5\xd4</title>",
            None
        )
        .as_deref(),
        Some("Привет")
    );
    assert_eq!(
        html_title(
            b"\xef\xbb\xbf<title>BOM</title>",
            Some("text/html; charset=koi8-r")
        )
        .as_deref(),
        Some("BOM")
    );
    // The first title only; a blank one is None.
    assert_eq!(
        html_title(b"<title>one</title><title>two</title>", None).as_deref(),
        Some("one")
    );
    assert_eq!(html_title(b"<title> \n </title>", None), None);
    assert_eq!(html_title(b"", None), None);
}

// --- the stack ---------------------------------------------------------------------------------

/// Generous: the parses take well under a second even in debug on a busy machine.
const OVERFLOW_HANG_LIMIT: Duration = Duration::from_secs(120);

/// Every fixture, and the large RSS fixture, go through `title_from_bytes` inside one green thread
/// at the hub's default stack (256 KiB; debug build under `cargo test`). The deepest is
/// deep-nesting.xml (an element nested 400 deep). An overflow would not unwind (the coroutine
/// dies holding what it held), so the wait has a limit that turns a hang into a failure.
#[test]
fn every_fixture_parses_inside_a_green_thread() {
    assert_eq!(
        greenfetch::hub::settings().stack_size,
        greenfetch::hub::DEFAULT_STACK_SIZE,
        "this test is about the default stack"
    );
    let mut inputs: Vec<(String, Vec<u8>, Option<String>)> = cases()
        .into_iter()
        .map(|c| (c.file.clone(), fixture(&c.file), c.content_type))
        .collect();
    let large = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/large-rss.xml");
    inputs.push((
        "large-rss.xml".into(),
        std::fs::read(large).unwrap(),
        Some("application/rss+xml".into()),
    ));
    // Warm feed-rs's lazy statics (its date regexes) on this OS thread first, as tests/stack.rs
    // explains: a coroutine that overflowed while initialising one would hold its lock forever.
    let _ = title_from_bytes(&inputs.last().unwrap().1, None);

    let expected: Vec<String> = inputs
        .iter()
        .map(
            |(_, body, ct)| match title_from_bytes(body, ct.as_deref()) {
                Ok(i) => i.title,
                Err(e) => e.to_string(),
            },
        )
        .collect();
    let parse = greenfetch::spawn(move || {
        inputs
            .iter()
            .map(
                |(_, body, ct)| match title_from_bytes(body, ct.as_deref()) {
                    Ok(i) => i.title,
                    Err(e) => e.to_string(),
                },
            )
            .collect::<Vec<_>>()
    });
    let got = parse
        .wait_timeout(OVERFLOW_HANG_LIMIT)
        .unwrap_or_else(|_| panic!("the parses did not end within {OVERFLOW_HANG_LIMIT:?}"))
        .expect("the green thread ran to the end");
    assert_eq!(got, expected);
    assert_eq!(got.last().unwrap(), "greenfetch large fixture feed");
}
