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
//! The code is in one file a job, under src/feed/: `decoding` (bytes to text), `charset` (the
//! encodings and their names), `text` (a title as plain text), `xml` (the root sniffer,
//! feed-rs, the lenient scanner), `json_feed`, and `discovery` ([`discover`], [`html_title`]);
//! this file holds the types and the entry points.
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
mod decoding;
mod discovery;
mod json_feed;
mod text;
mod xml;

use charset::Charset;
use decoding::*;
use discovery::*;
pub use discovery::{discover, html_title};
use json_feed::*;
use text::*;
use xml::*;

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
