//! Feed titles: the title of an RSS, Atom or JSON Feed document, as plain text, from the bytes
//! of a response and its Content-Type; and, for an HTML page, the feed it advertises.
//!
//! [`title_from_bytes`] is what `greenfetch titles` prints for one URL. It decodes the bytes
//! (byte-order mark, then the Content-Type charset, then the XML declaration, then UTF-8; every
//! encoding Python's codecs decode, as Python decodes it, under every name Python and the IANA
//! registry give it, and WHATWG's labels: src/feed/charset.rs) and parses with feed-rs. A lenient
//! quick-xml scanner takes over where feed-rs gives up (RSS without a version, RSS 0.90, Atom 0.3
//! with base64 and escaped titles, `dc:title`, element names in odd case, a document broken
//! after its title), and always reads the feed's own title element, as feedparser does, because
//! feed-rs loses text there (after an inline element; all but the last of two titles).
//! Undeclared HTML entities and a stray `&` are repaired first. Titles come back as text: HTML
//! titles lose their tags, references are decoded, runs of whitespace become one space.
//!
//! The reference for "the right title" is Python's feedparser: fixtures/feeds/expected.tsv
//! holds its answer for every fixture, and the few places where greenfetch deliberately answers
//! otherwise are listed, with reasons, in fixtures/README.md.
//!
//! Failures are typed ([`ErrorKind`]): `not_a_feed` (an HTML page, plain text, other XML or
//! JSON), `malformed` (broken before the title could be read, or an unknown encoding),
//! `no_title` (a feed without a title). For an HTML page, [`discover`] finds the advertised
//! feed and [`html_title`] reads the page's own `<title>`.
//!
//! eventlet: `examples/feedscraper.py` calls `feedparser.parse(url)` and returns the title.
//! Here parsing is a pure function over bytes; fetching stays with [`fetch`](crate::fetch) and
//! concurrency with the caller's pool.
//!
//! Layer: domain; pure, no I/O (uses [`error`](crate::error) only).
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::error::ErrorKind;
//! use greenfetch_web::feed::{discover, title_from_bytes, FeedKind};
//!
//! // ISO-8859-1 bytes, an escaped ampersand, extra whitespace.
//! let rss = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n\
//!     <rss version=\"2.0\"><channel><title> Caf\xe9  &amp; co </title>\
//!     <item><title>First</title></item></channel></rss>";
//! let info = title_from_bytes(rss, Some("application/rss+xml")).unwrap();
//! assert_eq!(info.title, "Café & co");
//! assert_eq!(info.kind, FeedKind::Rss20);
//! assert_eq!(info.entries, ["First"]);
//!
//! // An HTML page is not a feed, but it may advertise one.
//! let page = br#"<html><head><link rel="alternate" type="application/atom+xml" href="/atom"></head></html>"#;
//! let err = title_from_bytes(page, Some("text/html")).unwrap_err();
//! assert_eq!(err.kind, ErrorKind::NotAFeed);
//! assert_eq!(
//!     discover(page, Some("text/html"), "https://blog.test/post/1", None).as_deref(),
//!     Some("https://blog.test/atom")
//! );
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use html5gum::{DefaultEmitter, Token, Tokenizer};
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use crate::error::{Error, ErrorKind};

mod charset;
use charset::Charset;

/// What [`title_from_bytes`] read from a feed.
///
/// ```
/// let info = greenfetch_web::feed::title_from_bytes(
///     br#"{"version": "https://jsonfeed.org/version/1.1", "title": "Hi", "items": []}"#,
///     Some("application/feed+json"),
/// ).unwrap();
/// assert_eq!(info.title, "Hi");
/// assert_eq!(info.kind.as_str(), "json11");
/// assert_eq!(info.encoding, "UTF-8");
/// assert!(info.bozo.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedInfo {
    /// The feed's title as plain text: never empty, whitespace collapsed.
    pub title: String,
    /// Which format and version the document is.
    pub kind: FeedKind,
    /// The entry (item) titles in document order, as plain text; `""` for an entry without one.
    pub entries: Vec<String>,
    /// Set when the document is not well-formed but the title was read anyway (feedparser's
    /// "bozo" flag): what was wrong, for example an undefined entity or a truncated document.
    pub bozo: Option<String>,
    /// The name of the character encoding the bytes were read in (`UTF-8`, `windows-1252`,
    /// `IBM437`, ...).
    pub encoding: &'static str,
}

/// A feed format and version. [`FeedKind::as_str`] gives feedparser's name for it.
///
/// ```
/// use greenfetch_web::feed::FeedKind;
/// assert_eq!(FeedKind::Rss20.as_str(), "rss20");
/// assert_eq!(FeedKind::Atom03.as_str(), "atom03");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FeedKind {
    /// RSS 0.90 (`rdf:RDF` in Netscape's 0.9 namespace).
    Rss090,
    /// RSS 0.91.
    Rss091,
    /// RSS 0.92.
    Rss092,
    /// RSS 0.93.
    Rss093,
    /// RSS 0.94.
    Rss094,
    /// RSS 1.0 (RDF Site Summary).
    Rss10,
    /// RSS 2.0.
    Rss20,
    /// `<rss>` with no (or an unknown) version attribute.
    Rss,
    /// Atom 0.1 (`<feed version="0.1">`, a pre-standard draft).
    Atom01,
    /// Atom 0.2 (`<feed version="0.2">`, a pre-standard draft).
    Atom02,
    /// Atom 0.3 (`<feed version="0.3">`, whatever its namespace).
    Atom03,
    /// Atom 1.0.
    Atom10,
    /// `<feed>` neither in the Atom 1.0 namespace nor with a version attribute feedparser
    /// knows.
    Atom,
    /// JSON Feed 1.0.
    Json10,
    /// JSON Feed 1.1.
    Json11,
}

impl FeedKind {
    /// feedparser's name for the format (its `version`): `rss20`, `atom10`, `json11`, ...
    ///
    /// ```
    /// assert_eq!(greenfetch_web::feed::FeedKind::Json10.as_str(), "json1");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Rss090 => "rss090",
            FeedKind::Rss091 => "rss091",
            FeedKind::Rss092 => "rss092",
            FeedKind::Rss093 => "rss093",
            FeedKind::Rss094 => "rss094",
            FeedKind::Rss10 => "rss10",
            FeedKind::Rss20 => "rss20",
            FeedKind::Rss => "rss",
            FeedKind::Atom01 => "atom01",
            FeedKind::Atom02 => "atom02",
            FeedKind::Atom03 => "atom03",
            FeedKind::Atom10 => "atom10",
            FeedKind::Atom => "atom",
            FeedKind::Json10 => "json1",
            FeedKind::Json11 => "json11",
        }
    }

    fn is_atom(self) -> bool {
        matches!(
            self,
            FeedKind::Atom01
                | FeedKind::Atom02
                | FeedKind::Atom03
                | FeedKind::Atom10
                | FeedKind::Atom
        )
    }
}

/// The title of the feed in `body`, read with the charset of `content_type` (the response's
/// `Content-Type` header, if any).
///
/// # Errors
///
/// - `not_a_feed`: empty, plain text, HTML, XML whose root is not a feed root, JSON that is not a
///   JSON Feed;
/// - `malformed`: XML broken before the title could be read, JSON that does not parse, or an
///   encoding nobody knows;
/// - `no_title`: a feed whose title is missing or blank.
///
/// # Examples
///
/// ```
/// use greenfetch_web::error::ErrorKind;
/// use greenfetch_web::feed::title_from_bytes;
///
/// // Atom with an HTML title: tags dropped, references decoded.
/// let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">A &lt;b&gt;bold&lt;/b&gt; &amp;amp; true</title></feed>"#;
/// assert_eq!(title_from_bytes(atom, None).unwrap().title, "A bold & true");
///
/// // The charset comes from Content-Type when the document does not say.
/// let koi8 = b"<rss version=\"2.0\"><channel><title>\xf0\xd2\xc9\xd7\xc5\xd4</title></channel></rss>";
/// let info = title_from_bytes(koi8, Some("application/rss+xml; charset=KOI8-R")).unwrap();
/// assert_eq!(info.title, "Привет");
///
/// let no_title = b"<rss version=\"2.0\"><channel><link>http://a.test/</link></channel></rss>";
/// assert_eq!(title_from_bytes(no_title, None).unwrap_err().kind, ErrorKind::NoTitle);
/// assert_eq!(title_from_bytes(b"", None).unwrap_err().kind, ErrorKind::NotAFeed);
/// assert_eq!(title_from_bytes(b"<rss><channel>", None).unwrap_err().kind, ErrorKind::Malformed);
/// ```
pub fn title_from_bytes(body: &[u8], content_type: Option<&str>) -> Result<FeedInfo, Error> {
    read(body, content_type, Entries::Read)
}

/// [`title_from_bytes`] without the entries: the same title, kind, bozo note, encoding and
/// errors, with [`FeedInfo::entries`] left empty, in a fraction of the time.
///
/// It reads only what the title needs: an XML feed goes through the title scanner alone (one
/// pass that also checks the whole document is well-formed), and feed-rs builds its model only
/// when that pass meets an error or finds no title; a JSON Feed is read for its `version` and
/// `title` in one pass. `greenfetch titles` uses it unless `--entries` is given.
///
/// # Errors
///
/// As [`title_from_bytes`].
///
/// # Examples
///
/// ```
/// use greenfetch_web::feed::{title_from_bytes, title_only};
///
/// let rss = b"<rss version=\"2.0\"><channel><title>News</title>\
///     <item><title>First</title></item></channel></rss>";
/// let quick = title_only(rss, None).unwrap();
/// assert_eq!(quick.title, "News");
/// assert!(quick.entries.is_empty());
///
/// // Everything but the entries is what title_from_bytes says.
/// let full = title_from_bytes(rss, None).unwrap();
/// assert_eq!((quick.kind, quick.bozo, quick.encoding), (full.kind, full.bozo, full.encoding));
/// ```
pub fn title_only(body: &[u8], content_type: Option<&str>) -> Result<FeedInfo, Error> {
    read(body, content_type, Entries::Skip)
}

/// Whether a reading collects the entry titles.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Entries {
    Read,
    Skip,
}

fn read(body: &[u8], content_type: Option<&str>, entries: Entries) -> Result<FeedInfo, Error> {
    let decoded = decode(body, content_type, Markup::Xml)?;
    let text = decoded
        .text
        .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let found = match text.chars().next() {
        None => return Err(Error::new(ErrorKind::NotAFeed, "the body is empty")),
        Some('{') => json_title(text, entries)?,
        Some('<') => xml_title(strip_xml_declaration(text), entries)?,
        Some(_) => {
            return Err(Error::new(
                ErrorKind::NotAFeed,
                "the body is neither XML nor JSON",
            ));
        }
    };
    let bozo = decoded.bozo.or(found.bozo);
    let entries = match entries {
        Entries::Read => found.entries,
        // The full path, taken when the quick one could not answer, reads them anyway.
        Entries::Skip => Vec::new(),
    };
    match found.title {
        Some(title) if !title.chars().all(char::is_whitespace) => Ok(FeedInfo {
            title,
            kind: found.kind,
            entries,
            bozo,
            encoding: decoded.encoding,
        }),
        _ => match bozo {
            Some(why) => Err(Error::new(
                ErrorKind::Malformed,
                format!(
                    "no title could be read from the {} feed: {why}",
                    found.kind.as_str()
                ),
            )),
            None => Err(Error::new(
                ErrorKind::NoTitle,
                format!("the {} feed has no title", found.kind.as_str()),
            )),
        },
    }
}

/// The first feed an HTML page advertises, as an absolute URL.
///
/// Looks at `<link rel="alternate">` elements whose `type` is an RSS, Atom, RDF or JSON Feed type
/// (`application/rss+xml`, `application/atom+xml`, `application/rdf+xml`,
/// `application/feed+json`, `application/json`; not `application/atom+xml;type=entry`), in
/// document order, then at the HTTP `Link` header (`link_header`, the header's value). The
/// page's hrefs resolve against its `<base href>` (itself resolved against `base_url`), the
/// header's against `base_url`, the URL the page was fetched from. Attribute names and values
/// are matched without regard to case, `rel` may hold several tokens, and the page is read in
/// its own charset (BOM, Content-Type, `<meta charset>`).
///
/// ```
/// use greenfetch_web::feed::discover;
/// let page = br#"<head><base href="https://cdn.test/blog/">
///   <LINK REL="alternate home" TYPE="application/rss+xml" HREF="feed.xml"></head>"#;
/// assert_eq!(
///     discover(page, None, "https://blog.test/", None).as_deref(),
///     Some("https://cdn.test/blog/feed.xml")
/// );
/// let header = r#"</comments.json>; rel="alternate"; type="application/feed+json""#;
/// assert_eq!(
///     discover(b"<p>hi</p>", None, "https://blog.test/a/b", Some(header)).as_deref(),
///     Some("https://blog.test/comments.json")
/// );
/// assert_eq!(discover(b"<p>no feed</p>", None, "https://blog.test/", None), None);
/// ```
pub fn discover(
    body: &[u8],
    content_type: Option<&str>,
    base_url: &str,
    link_header: Option<&str>,
) -> Option<String> {
    let page_url = url::Url::parse(base_url).ok()?;
    let text = decode_html(body, content_type);
    let mut base = page_url.clone();
    let mut saw_base = false;
    for token in html_tokens(&text) {
        let Token::StartTag(tag) = token else {
            continue;
        };
        match &tag.name[..] {
            b"base" if !saw_base => {
                if let Some(href) = attr(&tag, b"href") {
                    saw_base = true;
                    if let Ok(b) = page_url.join(href.trim()) {
                        base = b;
                    }
                }
            }
            b"link" => {
                let rel = attr(&tag, b"rel").unwrap_or_default();
                let kind = attr(&tag, b"type").unwrap_or_default();
                let href = attr(&tag, b"href").unwrap_or_default();
                if has_token(&rel, "alternate") && is_feed_type(&kind) && !href.trim().is_empty() {
                    if let Ok(u) = base.join(href.trim()) {
                        return Some(u.into());
                    }
                }
            }
            _ => {}
        }
    }
    link_header.and_then(|h| {
        parse_link_header(h)
            .into_iter()
            .find(|l| has_token(&l.rel, "alternate") && is_feed_type(&l.kind))
            .and_then(|l| page_url.join(&l.href).ok())
            .map(String::from)
    })
}

/// The `<title>` of an HTML page as text (references decoded, whitespace collapsed), or `None`
/// when it has none or it is blank. The page is read in its own charset (BOM, the Content-Type
/// charset, `<meta charset>`, else UTF-8 or, failing that, windows-1252).
///
/// ```
/// use greenfetch_web::feed::html_title;
/// let page = b"<html><head><title>\n  Caf\xe9 &amp;\tbar </title></head></html>";
/// assert_eq!(html_title(page, Some("text/html; charset=iso-8859-1")).as_deref(), Some("Café & bar"));
/// assert_eq!(html_title(b"<p>untitled</p>", None), None);
/// ```
pub fn html_title(body: &[u8], content_type: Option<&str>) -> Option<String> {
    let text = decode_html(body, content_type);
    let mut inside = false;
    let mut title = String::new();
    for token in html_tokens(&text) {
        match token {
            Token::StartTag(tag) if &tag.name[..] == b"title" => inside = true,
            Token::EndTag(tag) if inside && &tag.name[..] == b"title" => break,
            Token::String(s) if inside => title.push_str(&String::from_utf8_lossy(&s.value)),
            _ => {}
        }
    }
    let title = collapse_whitespace(&title);
    (!title.is_empty()).then_some(title)
}

// ---------------------------------------------------------------------------------------------
// Decoding: bytes to UTF-8 text.

/// Whether the body is read as XML (encoding from the XML declaration) or HTML (from `<meta>`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Markup {
    Xml,
    Html,
}

/// The body as UTF-8 text.
struct Decoded {
    text: String,
    encoding: &'static str,
    /// Set when the bytes did not fit the encoding they claimed.
    bozo: Option<String>,
}

/// The charset a label names, or a `malformed` error naming the label.
/// feedparser reads a document labelled exactly `gb2312` (in any case) as gb18030, its superset
/// (so GBK's characters read too); other names of GB2312 stay Python's strict `gb2312`.
fn charset_named(label: &str, whence: &str) -> Result<Charset, Error> {
    let label = if label.eq_ignore_ascii_case("gb2312") {
        "gb18030"
    } else {
        label
    };
    Charset::for_label(label).ok_or_else(|| {
        Error::new(
            ErrorKind::Malformed,
            format!("unknown encoding {label:?} {whence}"),
        )
    })
}

/// Decodes `body`: a byte-order mark first (UTF-32, UTF-16, UTF-8), then a document that
/// starts `<?` (or `<` and three zero bytes) in UTF-16 or UTF-32 without one, then the
/// Content-Type charset, then the document's own declaration (XML declaration or HTML
/// `<meta>`), then UTF-8. A document starting `<?xm` in EBCDIC has its declaration read in
/// EBCDIC (cp037), as feedparser does. Bytes the chosen encoding does not define are read as
/// feedparser reads them: as UTF-8, else windows-1252, else ISO-8859-2, with a bozo note.
fn decode(body: &[u8], content_type: Option<&str>, markup: Markup) -> Result<Decoded, Error> {
    let boms: [(&[u8], Charset); 5] = [
        (b"\x00\x00\xfe\xff", charset::UTF_32BE),
        (b"\xff\xfe\x00\x00", charset::UTF_32LE),
        (b"\xfe\xff", charset::UTF_16BE),
        (b"\xff\xfe", charset::UTF_16LE),
        (b"\xef\xbb\xbf", charset::UTF_8),
    ];
    if let Some((bom, charset)) = boms.iter().find(|(bom, _)| body.starts_with(bom)) {
        return decode_with(*charset, &body[bom.len()..], "byte-order mark");
    }
    // Without a BOM, XML 1.0 appendix F: `<?` in UTF-16, `<` in UTF-32.
    let patterns: [(&[u8], Charset); 4] = [
        (b"\x00\x00\x00\x3c", charset::UTF_32BE),
        (b"\x3c\x00\x00\x00", charset::UTF_32LE),
        (b"\x00\x3c\x00\x3f", charset::UTF_16BE),
        (b"\x3c\x00\x3f\x00", charset::UTF_16LE),
    ];
    if let Some((_, charset)) = patterns.iter().find(|(p, _)| body.starts_with(p)) {
        return decode_with(*charset, body, "byte pattern");
    }
    let declared_label = |body: &[u8]| match markup {
        Markup::Xml => xml_declared_encoding(body),
        Markup::Html => html_declared_encoding(body),
    };
    if let Some(label) = content_type.and_then(charset_param) {
        let charset = charset_named(&label, "in the Content-Type header")?;
        // Where the header's charset does not fit the bytes, feedparser tries the document's
        // own declaration next.
        let declared = declared_label(body).and_then(|l| charset_named(&l, "").ok());
        return decode_trying(charset, declared, body, "Content-Type");
    }
    let ebcdic = markup == Markup::Xml && body.starts_with(b"\x4c\x6f\xa7\x94");
    let declared = match markup {
        Markup::Xml if ebcdic => {
            let head = &body[..body.len().min(1024)];
            charset::CP037
                .decode(head)
                .ok()
                .flatten()
                .and_then(|h| xml_declared_encoding(h.as_bytes()))
        }
        _ => declared_label(body),
    };
    if let Some(label) = declared {
        let charset = charset_named(&label, "declared in the document")?;
        // A document that names UTF-16 (or UTF-32) but was readable as ASCII to find that name
        // is not UTF-16 (WHATWG's rule for <meta>; the same holds for an XML declaration).
        let charset = if charset.is_utf16_or_32() && !ebcdic {
            charset::UTF_8
        } else {
            charset
        };
        return decode_with(charset, body, "declaration");
    }
    if ebcdic {
        // feedparser tries UTF-8 first and notes that it fell back (CharacterEncodingOverride).
        let mut decoded = decode_with(charset::CP037, body, "byte pattern")?;
        decoded.bozo = decoded.bozo.or_else(|| {
            Some(
                "an EBCDIC document without a readable encoding declaration: read as IBM037".into(),
            )
        });
        return Ok(decoded);
    }
    decode_with(charset::UTF_8, body, "default")
}

/// Decodes for HTML, never failing: an unknown charset label is skipped.
fn decode_html(body: &[u8], content_type: Option<&str>) -> String {
    match decode(body, content_type, Markup::Html) {
        Ok(d) => d.text,
        Err(_) => decode(body, None, Markup::Html)
            .map(|d| d.text)
            .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned()),
    }
}

/// `bytes` in `charset`, or, where they are not valid in it, in feedparser's fallbacks (UTF-8,
/// windows-1252, ISO-8859-2: the first that reads them all), with a bozo note. An encoding
/// greenfetch has no decoder for is a `malformed` error naming it.
fn decode_with(charset: Charset, bytes: &[u8], source: &str) -> Result<Decoded, Error> {
    decode_trying(charset, None, bytes, source)
}

/// [`decode_with`], with `also` tried first among the fallbacks.
fn decode_trying(
    charset: Charset,
    also: Option<Charset>,
    bytes: &[u8],
    source: &str,
) -> Result<Decoded, Error> {
    let text = charset.decode(bytes).map_err(|charset::Unsupported| {
        Error::new(
            ErrorKind::Malformed,
            format!(
                "greenfetch cannot decode {} (per the {source})",
                charset.python_name()
            ),
        )
    })?;
    if let Some(text) = text {
        return Ok(Decoded {
            text: text.into_owned(),
            encoding: charset.name(),
            bozo: None,
        });
    }
    let fallbacks = also
        .into_iter()
        .chain([charset::UTF_8, charset::CP1252, charset::ISO_8859_2]);
    for fallback in fallbacks {
        if fallback == charset || (fallback.is_utf8() && charset.is_utf8()) {
            continue;
        }
        if let Ok(Some(text)) = fallback.decode(bytes) {
            return Ok(Decoded {
                text: text.into_owned(),
                encoding: fallback.name(),
                bozo: Some(format!(
                    "the bytes are not {} (per the {source}); read as {}",
                    charset.name(),
                    fallback.name()
                )),
            });
        }
    }
    // ISO-8859-2 defines every byte, so this is not reached; answer as a decoder would.
    Err(Error::new(
        ErrorKind::Malformed,
        format!("the bytes are not {} (per the {source})", charset.name()),
    ))
}

/// The `charset` parameter of a Content-Type value, unquoted.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_owned())
            .filter(|v| !v.is_empty())
    })
}

/// The `encoding` of an XML declaration at the very start of `body` (read as ASCII).
fn xml_declared_encoding(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(1024)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(&head[5..end]);
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_owned())
}

/// The charset of a `<meta charset>` or `<meta http-equiv=content-type content=...>` in the
/// first 1024 bytes (WHATWG's prescan, simplified: it tokenizes that prefix as windows-1252).
fn html_declared_encoding(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(1024)];
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(head);
    for token in html_tokens(&text) {
        let Token::StartTag(tag) = token else {
            continue;
        };
        if &tag.name[..] != b"meta" {
            continue;
        }
        if let Some(cs) = attr(&tag, b"charset").filter(|c| !c.trim().is_empty()) {
            return Some(cs.trim().to_owned());
        }
        let equiv = attr(&tag, b"http-equiv").unwrap_or_default();
        if equiv.trim().eq_ignore_ascii_case("content-type") {
            if let Some(cs) = attr(&tag, b"content").as_deref().and_then(charset_param) {
                return Some(cs);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Text: HTML to text, whitespace.

/// How a title's content is to be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Content {
    /// Plain text.
    Text,
    /// HTML markup (Atom `type="html"`, escaped Atom 0.3, XHTML as markup).
    Html,
    /// RSS: text, unless it looks like HTML (feedparser's `looks_like_html`).
    Sniff,
}

/// Content as the plain text a reader sees, whitespace collapsed.
fn render(raw: &str, content: Content) -> String {
    let html = match content {
        Content::Text => false,
        Content::Html => true,
        Content::Sniff => looks_like_html(raw),
    };
    if html {
        collapse_whitespace(&html_to_text(raw))
    } else {
        collapse_whitespace(raw)
    }
}

/// Runs of ASCII whitespace become one space (WHATWG's "strip and collapse ASCII whitespace",
/// as `document.title` does), and the ends lose any Unicode space too (feedparser's `strip`).
/// A no-break space inside is kept.
fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_ascii_whitespace()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    // Like feedparser (Python's `strip`), the ends lose every Unicode space, no-break spaces
    // included (found by fuzzing); inside, only ASCII runs are collapsed.
    let trimmed = out.trim_matches(char::is_whitespace);
    if trimmed.len() != out.len() {
        out = trimmed.to_owned();
    }
    out
}

/// A tokenizer that switches into raw text for `<script>`, `<style>`, `<title>` and the like,
/// as a browser's tree builder would tell it to.
fn html_tokens(s: &str) -> impl Iterator<Item = Token> + '_ {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    Tokenizer::new_with_emitter(s, emitter).flatten()
}

/// The text of an HTML fragment: tags dropped (script and style content too), references
/// decoded.
fn html_to_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut skipping: Option<Vec<u8>> = None;
    for token in html_tokens(s) {
        match token {
            Token::StartTag(tag) if matches!(&tag.name[..], b"script" | b"style") => {
                skipping = Some(tag.name.0.clone());
            }
            Token::EndTag(tag) if skipping.as_deref() == Some(&tag.name[..]) => skipping = None,
            Token::String(text) if skipping.is_none() => {
                out.push_str(&String::from_utf8_lossy(&text.value));
            }
            _ => {}
        }
    }
    out
}

/// feedparser's `looks_like_html`: a close tag or a reference; every tag a common HTML element;
/// every named reference a known one.
fn looks_like_html(s: &str) -> bool {
    let tags = tag_names(s);
    let has_close = tags.iter().any(|(close, _)| *close);
    let refs = references(s);
    if !has_close && refs.is_empty() {
        return false;
    }
    tags.iter()
        .all(|(_, name)| HTML_ELEMENTS.binary_search(&name.as_str()).is_ok())
        && refs
            .iter()
            .all(|r| r.starts_with('#') || html_entity(r).is_some())
}

/// `(is_close, lower-case name)` of each `<name` or `</name` in `s` (name = `\w+`).
fn tag_names(s: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let (close, body) = match rest.strip_prefix('/') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let name: String = body
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // feedparser counts `</name` as a close tag only when `>` follows the name.
        let closed = close && body[name.len()..].starts_with('>');
        if !name.is_empty() {
            out.push((closed, name.to_lowercase()));
        }
    }
    out
}

/// The names of the `&name;` and `&#123;` references in `s`.
fn references(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        rest = &rest[at + 1..];
        let body = rest.strip_prefix('#').unwrap_or(rest);
        let len = body
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        if len > 0 && body[len..].starts_with(';') {
            let full = len + (rest.len() - body.len());
            out.push(&rest[..full]);
        }
    }
    out
}

/// feedparser's sanitizer's acceptable elements, sorted (for `looks_like_html`).
const HTML_ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "area",
    "article",
    "aside",
    "audio",
    "b",
    "big",
    "blockquote",
    "br",
    "button",
    "canvas",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "command",
    "datagrid",
    "datalist",
    "dd",
    "del",
    "details",
    "dfn",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "em",
    "event-source",
    "fieldset",
    "figcaption",
    "figure",
    "font",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "i",
    "img",
    "input",
    "ins",
    "kbd",
    "keygen",
    "label",
    "legend",
    "li",
    "m",
    "map",
    "menu",
    "meter",
    "multicol",
    "nav",
    "nextid",
    "noscript",
    "ol",
    "optgroup",
    "option",
    "output",
    "p",
    "pre",
    "progress",
    "q",
    "s",
    "samp",
    "section",
    "select",
    "small",
    "sound",
    "source",
    "spacer",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "video",
];

/// The expansion of the HTML named character reference `&name;` (html5gum's WHATWG table), or
/// `None` when `name` is not one.
fn html_entity(name: &str) -> Option<String> {
    if let Some(predefined) = quick_xml::escape::resolve_predefined_entity(name) {
        return Some(predefined.to_owned());
    }
    if name.is_empty() || name.len() > 40 {
        return None;
    }
    let src = format!("&{name};");
    let mut out = String::new();
    for token in Tokenizer::new(src.as_str()).flatten() {
        if let Token::String(s) = token {
            out.push_str(&String::from_utf8_lossy(&s.value));
        }
    }
    // A longer text than one reference (`&copyx;` reads as `©x;`) is not an exact match.
    (out != src && !out.contains(['&', ';'])).then_some(out)
}

// ---------------------------------------------------------------------------------------------
// XML.

const NS_RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const NS_RSS10: &str = "http://purl.org/rss/1.0/";
const NS_ATOM03: &str = "http://purl.org/atom/ns#";
const NS_ATOM10: &str = "http://www.w3.org/2005/Atom";
const NS_DC: &str = "http://purl.org/dc/elements/1.1/";
const NS_RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// Namespaces in which a prefixed `title` element is the feed's (or an entry's) title: the ones
/// feedparser reads as no namespace (its `_matchnamespaces` entries mapped to `''`: the RSS and
/// Atom ones, and the Atom drafts' "Echo", "Pie" and example URIs), compared without regard to
/// case. Any `backend.userland.com/rss` URI counts too. An unprefixed `title` counts in any
/// namespace, as it does to feedparser.
const TITLE_NAMESPACES: &[&str] = &[
    NS_RSS090,
    NS_RSS10,
    NS_ATOM03,
    NS_ATOM10,
    "http://blogs.law.harvard.edu/tech/rss",
    "http://example.com/newformat#",
    "http://example.com/necho",
    "http://purl.org/echo/",
    "uri/of/echo/namespace#",
    "http://purl.org/pie/",
    "http://purl.org/rss/1.0/modules/rss091#",
];

/// Whether a prefixed `title` in namespace `ns` is a feed or entry title (see
/// [`TITLE_NAMESPACES`]).
fn is_title_namespace(ns: &str) -> bool {
    TITLE_NAMESPACES.iter().any(|t| t.eq_ignore_ascii_case(ns))
        || ns.to_ascii_lowercase().contains("backend.userland.com/rss")
}

/// What one reading of a document found.
struct Found {
    kind: FeedKind,
    title: Option<String>,
    entries: Vec<String>,
    bozo: Option<String>,
}

/// The document without its XML declaration (its encoding no longer applies: the text is UTF-8
/// now, and feed-rs would otherwise decode it a second time).
fn strip_xml_declaration(text: &str) -> &str {
    match text.strip_prefix("<?xml") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_whitespace() || c == '?') => rest
            .find("?>")
            .map_or(text, |end| rest[end + 2..].trim_start()),
        _ => text,
    }
}

/// The root element, as far as telling the format goes.
struct Root {
    kind: FeedKind,
    /// Whether feed-rs reads this format (and so is tried first).
    feed_rs: bool,
}

/// Reads up to the root element and tells the format from its name, namespace and version, as
/// feedparser does: a DOCTYPE does not decide (an XHTML DOCTYPE in front of `<rss>` is an RSS
/// feed), the root element does; a `<feed>` is Atom 1.0 when it declares that namespace (any
/// prefix, any case), else its `version` attribute says (`0.3`: Atom 0.3, whatever namespace
/// it is in).
fn sniff_root(text: &str) -> Result<Root, Error> {
    let html_page = || Error::new(ErrorKind::NotAFeed, "an HTML page, not a feed");
    let mut reader = NsReader::from_str(text);
    let mut html_doctype = false;
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok(x) => x,
            // HTML is rarely well-formed XML: a page with an HTML DOCTYPE stays a page.
            Err(_) if html_doctype => return Err(html_page()),
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Malformed,
                    format!("XML is broken before its root element: {e}"),
                ));
            }
        };
        let start = match event {
            Event::Start(e) | Event::Empty(e) => e,
            Event::Eof => {
                return Err(Error::new(
                    ErrorKind::NotAFeed,
                    "the document has no root element",
                ));
            }
            Event::DocType(d) => {
                html_doctype = d
                    .xml10_content()
                    .trim_start()
                    .get(..4)
                    .is_some_and(|n| n.eq_ignore_ascii_case("html"));
                continue;
            }
            Event::Text(t) if !t.xml10_content().trim().is_empty() => {
                return Err(Error::new(
                    ErrorKind::NotAFeed,
                    "text before the root element: not XML",
                ));
            }
            _ => continue,
        };
        let ns = namespace(&ns);
        let local = start.local_name().as_ref().to_ascii_lowercase();
        let version = attribute(&start, "version");
        let kind = match local.as_str() {
            "rss" => match version.as_deref().map(str::trim) {
                Some(v) if v.starts_with('2') => FeedKind::Rss20,
                Some("0.91") => FeedKind::Rss091,
                Some("0.92") => FeedKind::Rss092,
                Some("0.93") => FeedKind::Rss093,
                Some("0.94") => FeedKind::Rss094,
                _ => FeedKind::Rss,
            },
            "rdf" if binds(&start, NS_RSS090) => FeedKind::Rss090,
            "rdf" => FeedKind::Rss10,
            "feed"
                if ns.is_some_and(|n| n.eq_ignore_ascii_case(NS_ATOM10))
                    || binds(&start, NS_ATOM10) =>
            {
                FeedKind::Atom10
            }
            "feed" => match version.as_deref() {
                Some("0.1") => FeedKind::Atom01,
                Some("0.2") => FeedKind::Atom02,
                Some("0.3") => FeedKind::Atom03,
                _ => FeedKind::Atom,
            },
            "html" => return Err(html_page()),
            _ if html_doctype => return Err(html_page()),
            _ => {
                return Err(Error::new(
                    ErrorKind::NotAFeed,
                    format!("XML whose root is <{}>, not a feed", start.name().as_ref()),
                ));
            }
        };
        // feed-rs has no Atom 0.3 (base64 and escaped titles) and no RSS 0.90 namespace.
        // Nor does it read a root in a namespace it does not know (`<rss xmlns="...">`), whose
        // unprefixed elements feedparser still reads.
        let feed_rs = !matches!(
            kind,
            FeedKind::Atom01 | FeedKind::Atom02 | FeedKind::Atom03 | FeedKind::Rss090
        ) && ns.is_none_or(|n| n == NS_RDF || is_title_namespace(n));
        return Ok(Root { kind, feed_rs });
    }
}

/// The namespace an element is bound to, if it is bound to one (borrowed: this runs for every
/// event of a scan).
fn namespace<'a>(ns: &'a ResolveResult<'_>) -> Option<&'a str> {
    match ns {
        ResolveResult::Bound(n) => Some(n.as_ref()),
        _ => None,
    }
}

/// The value of the attribute whose local name is `name`, matched without regard to case.
fn attribute(start: &BytesStart<'_>, name: &str) -> Option<String> {
    start
        .html_attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref().eq_ignore_ascii_case(name))
        .map(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_or_else(|_| a.value.to_string(), |v| v.into_owned())
        })
}

/// Whether the element declares a namespace (default or prefixed) bound to `uri`, in any case
/// (feedparser compares namespaces lower-cased).
fn binds(start: &BytesStart<'_>, uri: &str) -> bool {
    start.html_attributes().flatten().any(|a| {
        let key = a.key.as_ref();
        (key == "xmlns" || key.starts_with("xmlns:")) && a.value.trim().eq_ignore_ascii_case(uri)
    })
}

/// The title of an XML feed: feed-rs first, the lenient scanner where it gives up.
/// Whether `text` (its own declaration already stripped) has another XML declaration,
/// `<?xml` and a space (not `<?xml-stylesheet`, which feeds often have).
fn has_inner_xml_declaration(text: &str) -> bool {
    text.as_bytes().windows(6).any(|w| {
        w[..2] == *b"<?" && w[2..5].eq_ignore_ascii_case(b"xml") && w[5].is_ascii_whitespace()
    })
}

fn xml_title(text: &str, entries: Entries) -> Result<Found, Error> {
    let mut found = read_xml(text, entries)?;
    found.title = found.title.map(c1_as_windows_1252);
    found.entries = found.entries.into_iter().map(c1_as_windows_1252).collect();
    Ok(found)
}

/// `s` with the C1 controls windows-1252 has characters for (U+0080 to U+009F, but for the five
/// it leaves undefined) read as those characters, as feedparser does to every element's text
/// (whatever the document's encoding: a byte 0x93 read as Latin-1, a `\u{93}` in UTF-8).
fn c1_as_windows_1252(s: String) -> String {
    if !s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return s;
    }
    s.chars()
        .map(|c| match u8::try_from(u32::from(c)) {
            Ok(b @ 0x80..=0x9f) => {
                let bytes = [b];
                let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
                text.chars().next().unwrap_or(c)
            }
            _ => c,
        })
        .collect()
}

/// [`xml_title`] before the C1 controls are mapped.
fn read_xml(text: &str, entries: Entries) -> Result<Found, Error> {
    let root = sniff_root(text)?;
    let mut notes = Vec::new();
    let repaired = repair_references(text, &mut notes);
    let repair_bozo = notes.first().map(|first| match notes.len() {
        1 => first.clone(),
        n => format!("{first} (and {} more)", n - 1),
    });
    if entries == Entries::Skip {
        // A document the scanner reads to its end without an error, whose first feed title is
        // not empty: every path below answers with that title (feed-rs or not, its own scan
        // stops at the same element), that kind and no bozo note beyond the repairs. Anything
        // else takes the full path.
        let quick = scan(&repaired, root.kind, Scope::Check);
        if quick.bozo.is_none() && quick.title.is_some() {
            return Ok(Found {
                bozo: repair_bozo,
                ..quick
            });
        }
    }
    // A second XML declaration inside the document makes quick-xml (under feed-rs) panic
    // (found by fuzzing); such a document is not well-formed anyway, so the scanner reads it.
    // Any other panic in feed-rs is caught and treated the same way: never a crash.
    let feed = if root.feed_rs && !has_inner_xml_declaration(&repaired) {
        std::panic::catch_unwind(|| feed_rs::parser::parse(repaired.as_bytes()).ok())
            .ok()
            .flatten()
    } else {
        None
    };
    let mut found = match feed {
        Some(feed) => {
            // feed-rs read the document. The feed's title element is still read as feedparser
            // reads it (the first one, all of its text, its type and mode), by the scanner,
            // which stops once it has it: feed-rs keeps only the text before an inline element
            // (`<title>A <b>b</b> c</title>` gives "A") and the last of two titles. feed-rs
            // drops RSS 1.0 items without a link, so their entries come from a whole scan.
            let scope = if root.kind == FeedKind::Rss10 {
                Scope::Whole
            } else {
                Scope::FeedTitle
            };
            let own = scan(&repaired, root.kind, scope);
            let entries = if scope == Scope::Whole {
                own.entries
            } else {
                feed.entries
                    .iter()
                    .map(|e| {
                        e.title
                            .as_ref()
                            .map(|t| feed_rs_text(t, root.kind))
                            .unwrap_or_default()
                    })
                    .collect()
            };
            let title = own
                .title
                .or_else(|| feed.title.as_ref().map(|t| feed_rs_text(t, root.kind)));
            Found {
                kind: own.kind,
                title,
                entries,
                bozo: own.bozo,
            }
        }
        None => scan(&repaired, root.kind, Scope::Whole),
    };
    found.bozo = repair_bozo.or(found.bozo);
    Ok(found)
}

/// A feed-rs `Text` as plain text, by its content type (and, for RSS, by sniffing).
fn feed_rs_text(text: &feed_rs::model::Text, kind: FeedKind) -> String {
    // feed-rs says text/html for Atom `html`, application/xhtml for `xhtml` (the markup kept).
    let mime = text.content_type.to_string();
    let content = match mime.split(';').next().unwrap_or_default().trim() {
        "text/html" | "application/xhtml" | "application/xhtml+xml" => Content::Html,
        _ if !kind.is_atom() => Content::Sniff,
        _ => Content::Text,
    };
    render(&text.content, content)
}

/// Makes the references of `text` well-formed XML, as feedparser's loose parser reads them: an
/// HTML named reference XML does not define (`&eacute;`, `&nbsp;`) becomes a numeric one, a
/// stray `&` becomes `&amp;`, a numeric reference to a character XML forbids becomes U+FFFD.
/// CDATA sections, comments, processing instructions and the DOCTYPE are left alone. Each
/// repair is noted in `notes`.
fn repair_references<'a>(text: &'a str, notes: &mut Vec<String>) -> Cow<'a, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = memchr::memchr2(b'&', b'<', &text.as_bytes()[i..]) {
        let at = i + off;
        if text.as_bytes()[at] == b'<' {
            i = skip_markup(text, at);
            continue;
        }
        let rest = &text[at + 1..];
        let (len, replacement) = match reference(rest) {
            Reference::Fine(len) => (len, None),
            Reference::Named(len) => {
                let name = &rest[..len - 1];
                match html_entity(name) {
                    Some(chars) => {
                        notes.push(format!("undefined entity &{name};"));
                        let mut numeric = String::new();
                        for c in chars.chars() {
                            let _ = write!(numeric, "&#{};", c as u32);
                        }
                        (len, Some(numeric))
                    }
                    // An entity the DOCTYPE may declare: left for the parser.
                    None => (len, None),
                }
            }
            Reference::Windows1252(len, c) => (len, Some(format!("&#{};", c as u32))),
            Reference::BadNumber(len) => {
                notes.push(format!("invalid character reference &{}", &rest[..len]));
                (len, Some("&#xFFFD;".to_owned()))
            }
            Reference::Stray => {
                notes.push("an unescaped &".to_owned());
                (0, Some("&amp;".to_owned()))
            }
        };
        let end = at + 1 + len;
        if let Some(r) = replacement {
            out.push_str(&text[copied..at]);
            out.push_str(&r);
            copied = if len == 0 { at + 1 } else { end };
        }
        i = end.max(at + 1);
    }
    if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

enum Reference {
    /// A reference XML reads (numeric, or a name it or a DTD defines): its length after `&`.
    Fine(usize),
    /// `name;`: a named reference, length after `&` including `;`.
    Named(usize),
    /// A numeric reference to a character XML forbids.
    BadNumber(usize),
    /// A numeric reference to a C1 control that windows-1252 has a character for.
    Windows1252(usize, char),
    /// An `&` that starts no reference.
    Stray,
}

/// Classifies what follows an `&`.
fn reference(rest: &str) -> Reference {
    if let Some(num) = rest.strip_prefix('#') {
        let (digits, radix, skip) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16, 2),
            None => (num, 10, 1),
        };
        let len = digits
            .find(|c: char| !c.is_digit(radix))
            .unwrap_or(digits.len());
        if len == 0 || !digits[len..].starts_with(';') {
            return Reference::Stray;
        }
        let total = skip + len + 1;
        let code = u32::from_str_radix(&digits[..len], radix).ok();
        // HTML (and feedparser) read &#128; to &#159; as windows-1252, where authors meant it.
        if let Some(byte) = code
            .and_then(|c| u8::try_from(c).ok())
            .filter(|b| *b >= 0x80 && *b < 0xa0)
        {
            let bytes = [byte];
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
            if let Some(c) = text.chars().next().filter(|c| *c as u32 != u32::from(byte)) {
                return Reference::Windows1252(total, c);
            }
        }
        let ok = code.and_then(char::from_u32).is_some_and(|c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
        });
        return if ok {
            Reference::Fine(total)
        } else {
            Reference::BadNumber(total)
        };
    }
    let len = rest
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        .unwrap_or(rest.len());
    let starts_well = rest
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':');
    if len == 0 || !starts_well || !rest[len..].starts_with(';') {
        return Reference::Stray;
    }
    if quick_xml::escape::resolve_predefined_entity(&rest[..len]).is_some() {
        Reference::Fine(len + 1)
    } else {
        Reference::Named(len + 1)
    }
}

/// From a `<` at `at`: the index after a CDATA section, comment, processing instruction or
/// DOCTYPE starting there (whose content is not text), else just after the `<`.
fn skip_markup(text: &str, at: usize) -> usize {
    let rest = &text[at..];
    let past = |open: usize, close: &str| {
        rest[open..]
            .find(close)
            .map_or(text.len(), |e| at + open + e + close.len())
    };
    if rest.starts_with("<![CDATA[") {
        past(9, "]]>")
    } else if rest.starts_with("<!--") {
        past(4, "-->")
    } else if rest.starts_with("<?") {
        past(2, "?>")
    } else if rest.len() >= 9 && rest.as_bytes()[..9].eq_ignore_ascii_case(b"<!DOCTYPE") {
        // An internal subset in [...] may hold '>'.
        let bracket = rest.find('[');
        let close = rest.find('>');
        match (bracket, close) {
            (Some(b), Some(c)) if b < c => past(b, "]>"),
            (_, Some(c)) => at + c + 1,
            _ => text.len(),
        }
    } else {
        at + 1
    }
}

/// How much of the document [`scan`] reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scope {
    /// Up to the end of the feed's own title element.
    FeedTitle,
    /// All of it: the title, `dc:title`, the entry titles, the first error.
    Whole,
    /// All of it, for the first error and the feed's own first title only (no `dc:title`
    /// fallback, no entry titles): what [`title_only`] needs to skip feed-rs.
    Check,
}

/// Which title an element being read is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Feed,
    DcFeed,
    Entry,
}

/// A title element being read.
struct Capture {
    target: Target,
    depth: usize,
    text: String,
    kind_attr: Option<String>,
    mode: Option<String>,
}

/// The lenient title scanner: reads the document with quick-xml up to its end or its first
/// well-formedness error, matching element names without regard to case, and takes the first
/// `title` of the channel (RSS) or feed (Atom), else its `dc:title`, and the first `title` of
/// each item or entry. What was read before an error counts; the error is the bozo note.
fn scan(text: &str, kind: FeedKind, scope: Scope) -> Found {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().expand_empty_elements = true;
    // The open elements' lower-cased local names, end to end (one buffer, no allocation per
    // element), and for each open element where its name starts in `names` and whether it is
    // a feed or entry container.
    let mut names = String::new();
    let mut stack: Vec<(usize, Option<Target>)> = Vec::new();
    let mut capture: Option<Capture> = None;
    let mut title = None;
    let mut dc_title = None;
    let mut entries: Vec<String> = Vec::new();
    let mut entry_has_title = false;
    let mut rdf_kind = None;
    let mut bozo = None;
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok(x) => x,
            Err(e) => {
                bozo = Some(format!(
                    "XML error at byte {}: {e}",
                    reader.error_position()
                ));
                break;
            }
        };
        let ns = namespace(&ns);
        match event {
            Event::Start(e) => {
                let start = names.len();
                names.push_str(e.local_name().as_ref());
                names[start..].make_ascii_lowercase();
                let local = &names[start..];
                if let Some(c) = capture.as_mut() {
                    c.depth += 1;
                    stack.push((start, None));
                    continue;
                }
                let parent = stack.last().and_then(|(_, t)| *t);
                let depth = stack.len();
                let mut role = None;
                // Containers: the Atom feed is the root; an RSS channel is the root's child;
                // items sit in the channel (RSS 0.9x/2.0) or beside it (RSS 0.90/1.0).
                if depth == 0 && kind.is_atom() {
                    role = Some(Target::Feed);
                } else if depth == 1 && local == "channel" {
                    role = Some(Target::Feed);
                    if kind == FeedKind::Rss10 && ns == Some(NS_RSS090) {
                        rdf_kind = Some(FeedKind::Rss090);
                    }
                } else if (local == "item" || local == "entry")
                    && (depth == 1 || (depth == 2 && parent == Some(Target::Feed)))
                {
                    role = Some(Target::Entry);
                    if scope != Scope::Check {
                        entries.push(String::new());
                    }
                    entry_has_title = false;
                }
                if local == "title" && role.is_none() {
                    let is_dc = ns == Some(NS_DC);
                    let title_ns = e.name().prefix().is_none() || ns.is_none_or(is_title_namespace);
                    let target = match parent {
                        Some(Target::Feed) if is_dc && dc_title.is_none() => Some(Target::DcFeed),
                        Some(Target::Feed) if title_ns && title.is_none() => Some(Target::Feed),
                        Some(Target::Entry) if title_ns && !entry_has_title => Some(Target::Entry),
                        _ => None,
                    };
                    if let Some(target) = target {
                        capture = Some(Capture {
                            target,
                            depth: 0,
                            text: String::new(),
                            kind_attr: attribute(&e, "type"),
                            mode: attribute(&e, "mode"),
                        });
                    }
                }
                stack.push((start, role));
            }
            Event::End(_) => {
                if let Some((start, _)) = stack.pop() {
                    names.truncate(start);
                }
                let done = match capture.as_mut() {
                    Some(c) if c.depth == 0 => true,
                    Some(c) => {
                        c.depth -= 1;
                        false
                    }
                    None => false,
                };
                if done {
                    if let Some(c) = capture.take() {
                        if scope == Scope::Check && c.target != Target::Feed {
                            // The element is still captured, so that what is inside it is read
                            // exactly as the other scopes read it; its text is not needed.
                            match c.target {
                                Target::Entry => entry_has_title = true,
                                _ => dc_title = Some(String::new()),
                            }
                            continue;
                        }
                        let value = title_text(&c, kind);
                        match c.target {
                            Target::Feed if scope == Scope::FeedTitle => {
                                title = Some(value);
                                break;
                            }
                            Target::Feed => title = Some(value),
                            Target::DcFeed => dc_title = Some(value),
                            Target::Entry => {
                                if let Some(last) = entries.last_mut() {
                                    *last = value;
                                }
                                entry_has_title = true;
                            }
                        }
                    }
                }
            }
            Event::Text(t) => {
                if let Some(c) = capture.as_mut() {
                    c.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(c) = capture.as_mut() {
                    c.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(c) = capture.as_mut() {
                    match r.resolve_char_ref() {
                        Ok(Some(ch)) => c.text.push(ch),
                        _ => {
                            let name = r.xml10_content();
                            match quick_xml::escape::resolve_predefined_entity(&name) {
                                Some(s) => c.text.push_str(s),
                                None => {
                                    c.text.push('&');
                                    c.text.push_str(&name);
                                    c.text.push(';');
                                }
                            }
                        }
                    }
                }
            }
            Event::Eof => {
                if let Some(&(start, _)) = stack.last() {
                    let open = &names[start..];
                    bozo = Some(format!("the document ends inside <{open}>: truncated"));
                }
                break;
            }
            _ => {}
        }
    }
    let title = match scope {
        Scope::Check => title.filter(|t| !t.is_empty()),
        _ => title.filter(|t| !t.is_empty()).or(dc_title),
    };
    Found {
        kind: rdf_kind.unwrap_or(kind),
        title,
        entries,
        bozo,
    }
}

/// A scanned title element's text, by its `type` and (Atom 0.3) `mode` attributes.
fn title_text(c: &Capture, kind: FeedKind) -> String {
    let kind_attr = c.kind_attr.as_deref().map(str::trim).unwrap_or_default();
    let mode = c.mode.as_deref().map(str::trim).unwrap_or_default();
    let html = matches!(kind_attr, "html" | "text/html");
    let base64_text;
    let raw = if mode.eq_ignore_ascii_case("base64") {
        let compact: String = c.text.split_ascii_whitespace().collect();
        match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
            Ok(bytes) => {
                base64_text = String::from_utf8_lossy(&bytes).into_owned();
                base64_text.as_str()
            }
            Err(_) => c.text.as_str(),
        }
    } else {
        c.text.as_str()
    };
    let content = if html && !mode.eq_ignore_ascii_case("xml") {
        Content::Html
    } else if kind.is_atom() {
        // Atom text, and XHTML (whose tags the scanner already dropped).
        Content::Text
    } else {
        Content::Sniff
    };
    render(raw, content)
}

// ---------------------------------------------------------------------------------------------
// JSON Feed.

/// The title of a JSON document: feed-rs first, then the JSON value as parsed.
fn json_title(text: &str, entries: Entries) -> Result<Found, Error> {
    /// The one field needed before feed-rs reads the document: everything else is skipped
    /// without being built (a whole `serde_json::Value` is built only if feed-rs gives up).
    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default)]
        version: Option<std::borrow::Cow<'a, str>>,
    }
    /// Both fields a title needs, when the entries are not wanted. When this reads, both paths
    /// below give its title: feed-rs keeps the `title` string as it is, and so does the
    /// `Value` fallback; a title that is null or absent is no title in all three. Anything
    /// it cannot read (a duplicate key, a title that is not a string) takes those paths.
    #[derive(serde::Deserialize)]
    struct TitleProbe<'a> {
        #[serde(borrow, default)]
        version: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow, default)]
        title: Option<std::borrow::Cow<'a, str>>,
    }
    if entries == Entries::Skip {
        if let Ok(probe) = serde_json::from_str::<TitleProbe<'_>>(text) {
            return Ok(Found {
                kind: json_kind(probe.version.as_deref())?,
                title: probe.title.map(|t| render(&t, Content::Text)),
                entries: Vec::new(),
                bozo: None,
            });
        }
    }
    let version = match serde_json::from_str::<Probe<'_>>(text) {
        Ok(probe) => probe.version,
        Err(_) => {
            // Not an object with a string version: JSON that is no feed, or no JSON at all.
            serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| {
                Error::new(
                    ErrorKind::Malformed,
                    format!("the JSON does not parse: {e}"),
                )
            })?;
            None
        }
    };
    let kind = json_kind(version.as_deref())?;
    if let Ok(feed) = feed_rs::parser::parse(text.as_bytes()) {
        return Ok(Found {
            kind,
            title: feed.title.map(|t| render(&t.content, Content::Text)),
            entries: feed
                .entries
                .iter()
                .map(|e| {
                    e.title
                        .as_ref()
                        .map(|t| render(&t.content, Content::Text))
                        .unwrap_or_default()
                })
                .collect(),
            bozo: None,
        });
    }
    // feed-rs wants every required field; read what is there.
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::Malformed,
            format!("the JSON does not parse: {e}"),
        )
    })?;
    let text_of = |v: &serde_json::Value| {
        v.get("title")
            .and_then(|t| t.as_str())
            .map(|t| render(t, Content::Text))
    };
    Ok(Found {
        kind,
        title: text_of(&value),
        entries: value
            .get("items")
            .and_then(|i| i.as_array())
            .map(|items| {
                items
                    .iter()
                    .map(|i| text_of(i).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default(),
        bozo: None,
    })
}

/// The JSON Feed version a `version` field names, or `not_a_feed`.
fn json_kind(version: Option<&str>) -> Result<FeedKind, Error> {
    match version
        .unwrap_or_default()
        .strip_prefix("https://jsonfeed.org/version/")
    {
        Some("1") => Ok(FeedKind::Json10),
        Some(_) => Ok(FeedKind::Json11),
        None => Err(Error::new(
            ErrorKind::NotAFeed,
            "JSON without a jsonfeed.org version: not a JSON Feed",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Autodiscovery helpers.

/// A start tag's attribute value, as text.
fn attr(tag: &html5gum::StartTag<()>, name: &[u8]) -> Option<String> {
    tag.attributes
        .get(name)
        .map(|v| String::from_utf8_lossy(&v.value).into_owned())
}

/// Whether the space-separated list `list` holds `token` (ASCII case-insensitive).
fn has_token(list: &str, token: &str) -> bool {
    list.split_ascii_whitespace()
        .any(|t| t.eq_ignore_ascii_case(token))
}

/// Whether a link's `type` names a feed.
fn is_feed_type(kind: &str) -> bool {
    let mut parts = kind.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    // `application/atom+xml;type=entry` is one entry, not a feed (whatwg/html#7483).
    let entry = parts.any(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("type")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("entry")
        })
    });
    !entry
        && matches!(
            essence.as_str(),
            "application/rss+xml"
                | "application/atom+xml"
                | "application/rdf+xml"
                | "application/feed+json"
                | "application/json"
        )
}

/// One link of an HTTP `Link` header.
#[derive(Debug, Default, PartialEq, Eq)]
struct HeaderLink {
    href: String,
    rel: String,
    kind: String,
}

/// Parses an HTTP `Link` header value (RFC 8288): `<uri>; rel="a b"; type="t", <uri2>; ...`.
fn parse_link_header(value: &str) -> Vec<HeaderLink> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(after_lt) = rest.strip_prefix('<') else {
            break;
        };
        let Some(gt) = after_lt.find('>') else {
            break;
        };
        let mut link = HeaderLink {
            href: after_lt[..gt].trim().to_owned(),
            ..HeaderLink::default()
        };
        rest = &after_lt[gt + 1..];
        // Parameters until a top-level comma.
        loop {
            rest = rest.trim_start();
            let Some(after_semi) = rest.strip_prefix(';') else {
                break;
            };
            let after_semi = after_semi.trim_start();
            let name_len = after_semi
                .find(|c: char| c == '=' || c == ';' || c == ',' || c.is_whitespace())
                .unwrap_or(after_semi.len());
            let name = after_semi[..name_len].to_ascii_lowercase();
            rest = after_semi[name_len..].trim_start();
            let mut param = String::new();
            if let Some(v) = rest.strip_prefix('=') {
                let v = v.trim_start();
                if let Some(quoted) = v.strip_prefix('"') {
                    let mut chars = quoted.char_indices();
                    let mut end = quoted.len();
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, e)) = chars.next() {
                                    param.push(e);
                                }
                            }
                            '"' => {
                                end = i + 1;
                                break;
                            }
                            c => param.push(c),
                        }
                    }
                    rest = &quoted[end.min(quoted.len())..];
                } else {
                    let len = v.find([';', ',']).unwrap_or(v.len());
                    param = v[..len].trim().to_owned();
                    rest = &v[len..];
                }
            }
            match name.as_str() {
                "rel" if link.rel.is_empty() => link.rel = param,
                "type" if link.kind.is_empty() => link.kind = param,
                _ => {}
            }
        }
        links.push(link);
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::Encoding;

    #[test]
    fn labels_cover_whatwg_python_and_code_pages() {
        let name = |l: &str| Charset::for_label(l).map(Charset::name);
        assert_eq!(name("UTF-8"), Some("UTF-8"));
        assert_eq!(name("utf_8"), Some("UTF-8"));
        assert_eq!(name("latin-1"), Some("windows-1252"));
        assert_eq!(name("ISO_8859_1"), Some("windows-1252"));
        assert_eq!(name("mac_roman"), Some("macintosh"));
        assert_eq!(name("MacRoman"), Some("macintosh"));
        assert_eq!(name("x-mac-cyrillic"), Some("x-mac-cyrillic"));
        assert_eq!(name("cp437"), Some("IBM437"));
        assert_eq!(name("IBM850"), Some("IBM850"));
        assert_eq!(name("ibm-852"), Some("IBM852"));
        assert_eq!(name("437"), Some("IBM437"));
        assert_eq!(name("cp866"), Some("IBM866"));
        assert_eq!(name("cp932"), Some("cp932"));
        assert_eq!(name("cp950"), Some("cp950"));
        assert_eq!(name("cp10000"), Some("macintosh"));
        assert_eq!(name("windows-1251"), Some("windows-1251"));
        assert_eq!(name("cp037"), Some("IBM037"));
        assert_eq!(name("utf-32"), Some("UTF-32"));
        assert_eq!(name("x-klingon"), None);
        assert_eq!(name("cp99999"), None);
    }

    /// Every WHATWG encoding encoding_rs can encode into, by its WHATWG name: a title in it
    /// survives the round trip.
    #[test]
    fn every_whatwg_encoding_decodes() {
        let labels = [
            "utf-8",
            "ibm866",
            "iso-8859-2",
            "iso-8859-3",
            "iso-8859-4",
            "iso-8859-5",
            "iso-8859-6",
            "iso-8859-7",
            "iso-8859-8",
            "iso-8859-8-i",
            "iso-8859-10",
            "iso-8859-13",
            "iso-8859-14",
            "iso-8859-15",
            "iso-8859-16",
            "koi8-r",
            "koi8-u",
            "macintosh",
            "windows-874",
            "windows-1250",
            "windows-1251",
            "windows-1252",
            "windows-1253",
            "windows-1254",
            "windows-1255",
            "windows-1256",
            "windows-1257",
            "windows-1258",
            "x-mac-cyrillic",
            "gbk",
            "gb18030",
            "big5",
            "euc-jp",
            "iso-2022-jp",
            "shift_jis",
            "euc-kr",
        ];
        for label in labels {
            let enc = Encoding::for_label(label.as_bytes()).unwrap();
            // A non-ASCII character the encoding has: the first high byte (pair) that decodes.
            // From 0xA1 up, where WHATWG and Python agree (GBK reads 0x80 as € to WHATWG only).
            let sample = (0xa1..=0xfeu8)
                .flat_map(|a| [vec![a], vec![a, 0xa1], vec![a, 0x40]])
                .find_map(|bytes| {
                    let s = enc.decode_without_bom_handling_and_without_replacement(&bytes)?;
                    let c = s.chars().next()?;
                    // Some decode-only characters (Big5's HKSCS) do not encode back.
                    let (back, _, unmappable) = enc.encode(&s);
                    (s.chars().count() == 1
                        && !c.is_ascii()
                        && !c.is_control()
                        && !c.is_whitespace()
                        // Private use: where GBK's user-defined rows are to WHATWG only.
                        && !('\u{e000}'..='\u{f8ff}').contains(&c)
                        && !unmappable
                        && back[..] == bytes[..])
                        .then(|| s.into_owned())
                })
                .unwrap_or_else(|| "\u{3042}".to_owned()); // iso-2022-jp: any kana
            let title = format!("T {sample}");
            let doc = format!(
                "<?xml version=\"1.0\" encoding=\"{label}\"?><rss version=\"2.0\"><channel>\
                 <title>{title}</title></channel></rss>"
            );
            let (bytes, _, unmappable) = enc.encode(&doc);
            assert!(!unmappable, "{label}: {title:?} encodes");
            let info = title_from_bytes(&bytes, None).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(info.title, title, "{label}");
            assert_eq!(info.encoding, enc.name(), "{label}");
            assert_eq!(info.bozo, None, "{label}");
        }
    }

    #[test]
    fn declaration_and_header_precedence() {
        let doc = |decl: &str, title: &[u8]| {
            let mut v = format!(
                "<?xml version=\"1.0\" encoding=\"{decl}\"?><rss version=\"2.0\"><channel><title>"
            )
            .into_bytes();
            v.extend_from_slice(title);
            v.extend_from_slice(b"</title></channel></rss>");
            v
        };
        // The header beats the declaration.
        let d = decode(
            &doc("iso-8859-1", "é".as_bytes()),
            Some("text/xml; charset=\"UTF-8\""),
            Markup::Xml,
        )
        .unwrap();
        assert_eq!(d.encoding, "UTF-8");
        // The BOM beats the header.
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend(doc("utf-8", "é".as_bytes()));
        assert_eq!(
            decode(&bom, Some("text/xml; charset=koi8-r"), Markup::Xml)
                .unwrap()
                .encoding,
            "UTF-8"
        );
        // Declared UTF-8 over Latin-1 bytes: read as windows-1252, with a note.
        let info = title_from_bytes(&doc("utf-8", b"caf\xe9"), None).unwrap();
        assert_eq!(info.title, "café");
        assert!(info.bozo.unwrap().contains("not UTF-8"));
        // Unknown encodings are malformed, wherever they are named.
        let e = title_from_bytes(&doc("x-klingon", b"k"), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.message.contains("x-klingon"), "{e}");
        let e =
            title_from_bytes(b"<rss/>", Some("application/rss+xml; charset=bogus")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
    }

    #[test]
    fn utf16_without_bom_is_recognised() {
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><title>Ünï</title></channel></rss>";
        let le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(title_from_bytes(&le, None).unwrap().title, "Ünï");
        assert_eq!(title_from_bytes(&be, None).unwrap().title, "Ünï");
    }

    #[test]
    fn meta_charset_prescan() {
        assert_eq!(
            html_declared_encoding(b"<meta charset='koi8-r'>").as_deref(),
            Some("koi8-r")
        );
        assert_eq!(
            html_declared_encoding(
                b"<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=Shift_JIS\">"
            )
            .as_deref(),
            Some("Shift_JIS")
        );
        assert_eq!(html_declared_encoding(b"<p>none</p>"), None);
    }

    #[test]
    fn json_that_is_no_feed_is_not_a_feed() {
        for doc in [&b"[1, 2]"[..], b"{\"version\": 1}", b"{\"title\": \"t\"}"] {
            let e = title_from_bytes(doc, Some("application/json")).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::NotAFeed,
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
        let e = title_from_bytes(b"{\"version\": ", None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
    }

    #[test]
    fn whitespace_collapses_ascii_only() {
        assert_eq!(collapse_whitespace("\n a \t\r b  \u{a0}c "), "a b \u{a0}c");
        assert_eq!(collapse_whitespace(" \n\t "), "");
        // feedparser gives 'a \xa0 b' for these ends (checked with feedparser 6.0.14).
        assert_eq!(
            collapse_whitespace("\u{a0}\u{a0} a \u{a0} b\u{a0}\u{2003}\u{b}"),
            "a \u{a0} b"
        );
    }

    #[test]
    fn looks_like_html_as_feedparser() {
        assert!(looks_like_html("Fish &amp; <b>chips</b>"));
        assert!(looks_like_html("AT&amp;T"));
        assert!(looks_like_html("caf&#233;"));
        assert!(!looks_like_html("a < b"));
        assert!(!looks_like_html("Use <blink>tags</blink>"));
        assert!(!looks_like_html("no markup"));
        assert!(!looks_like_html("<b>unclosed"));
        assert!(!looks_like_html("&bogus; </b>"));
    }

    #[test]
    fn html_to_text_drops_tags_and_scripts() {
        assert_eq!(
            html_to_text("A <b>b</b> &amp; &eacute;<script>x()</script>!"),
            "A b & é!"
        );
    }

    #[test]
    fn repairs_references() {
        let mut notes = Vec::new();
        assert_eq!(
            repair_references(
                "a &eacute; &amp; & b &#0; &#233; &unknown; &#147;",
                &mut notes
            ),
            "a &#233; &amp; &amp; b &#xFFFD; &#233; &unknown; &#8220;"
        );
        assert_eq!(notes.len(), 3, "{notes:?}");
        // CDATA, comments, PIs and the DOCTYPE keep their ampersands.
        let mut notes = Vec::new();
        let text = "<!DOCTYPE x [<!ENTITY e \"&#38;\">]><!-- & --><?pi & ?><![CDATA[ & ]]>";
        assert_eq!(repair_references(text, &mut notes), text);
        assert!(notes.is_empty());
    }

    #[test]
    fn html_entities_are_exact() {
        assert_eq!(html_entity("eacute").as_deref(), Some("é"));
        assert_eq!(html_entity("nbsp").as_deref(), Some("\u{a0}"));
        assert_eq!(html_entity("copyx"), None);
        assert_eq!(html_entity("nosuch"), None);
    }

    #[test]
    fn strips_only_a_declaration() {
        assert_eq!(
            strip_xml_declaration("<?xml version=\"1.0\"?>\n<rss/>"),
            "<rss/>"
        );
        assert_eq!(
            strip_xml_declaration("<?xml-stylesheet href=\"a\"?><rss/>"),
            "<?xml-stylesheet href=\"a\"?><rss/>"
        );
    }

    #[test]
    fn html_pages_are_not_feeds() {
        for page in [
            "<!doctype html><html><head><title>x</title>",
            "<!DOCTYPE html>\n<meta charset=utf-8><title>x</title>",
            "<!-- hi --><HTML><body>a & b<br></body></HTML>",
            "<html lang=en><head><script>if (a < b && c) {}</script>",
            "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"><html>",
        ] {
            let e = title_from_bytes(page.as_bytes(), Some("text/html")).unwrap_err();
            assert_eq!(e.kind, ErrorKind::NotAFeed, "{page}: {e}");
            assert!(e.message.contains("HTML"), "{page}: {e}");
        }
    }

    #[test]
    fn scanner_notices_truncation() {
        let found = scan(
            "<rss><channel><title>T</title><item>",
            FeedKind::Rss,
            Scope::Whole,
        );
        assert_eq!(found.title.as_deref(), Some("T"));
        assert!(found.bozo.unwrap().contains("<item>"));
        let e = title_from_bytes(b"<rss version=\"2.0\"><channel>", None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
    }

    #[test]
    fn scanner_reads_up_to_the_first_error() {
        let found = scan(
            "<rss><channel><title>T</title><item><title>a</title></item><item><title>b</oops>",
            FeedKind::Rss,
            Scope::Whole,
        );
        assert_eq!(found.title.as_deref(), Some("T"));
        // The second item's title was cut off by the error: only complete titles count.
        assert_eq!(found.entries, ["a", ""]);
        assert!(found.bozo.is_some());
    }

    #[test]
    fn image_and_item_titles_are_not_the_feed_title() {
        let found = scan(
            "<rss><channel><image><title>logo</title></image><item><title>i</title></item></channel></rss>",
            FeedKind::Rss,
            Scope::Whole,
        );
        assert_eq!(found.title, None);
    }

    #[test]
    fn link_header_parses() {
        let links = parse_link_header(
            r#"<https://a.test/style.css>; rel=stylesheet, </f.xml>;rel="alternate home";type="application/rss+xml";title="a, \"b\"", <x>"#,
        );
        assert_eq!(links.len(), 3);
        assert_eq!(links[1].href, "/f.xml");
        assert_eq!(links[1].rel, "alternate home");
        assert_eq!(links[1].kind, "application/rss+xml");
        assert_eq!(links[2].href, "x");
    }

    #[test]
    fn feed_types() {
        assert!(is_feed_type("application/rss+xml"));
        assert!(is_feed_type(" Application/Atom+XML "));
        assert!(is_feed_type("application/feed+json; charset=utf-8"));
        assert!(!is_feed_type("application/atom+xml;type=entry"));
        assert!(!is_feed_type("text/css"));
    }
}
