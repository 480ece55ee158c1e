//! XML feeds: the root sniffer (RSS, RDF, Atom by namespace), feed-rs first, and the lenient
//! quick-xml scanner that reads the feed's own title element as feedparser does, after
//! repairing undeclared entities and stray `&`.
//!
//! Layer: domain; pure (part of [`feed`](super)).

use super::*;

pub(super) const NS_RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
pub(super) const NS_RSS10: &str = "http://purl.org/rss/1.0/";
pub(super) const NS_ATOM03: &str = "http://purl.org/atom/ns#";
pub(super) const NS_ATOM10: &str = "http://www.w3.org/2005/Atom";
pub(super) const NS_DC: &str = "http://purl.org/dc/elements/1.1/";
pub(super) const NS_RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// Namespaces in which a prefixed `title` element is the feed's (or an entry's) title: the ones
/// feedparser reads as no namespace (its `_matchnamespaces` entries mapped to `''`: the RSS and
/// Atom ones, and the Atom drafts' "Echo", "Pie" and example URIs), compared without regard to
/// case. Any `backend.userland.com/rss` URI counts too. An unprefixed `title` counts in any
/// namespace, as it does to feedparser.
pub(super) const TITLE_NAMESPACES: &[&str] = &[
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
pub(super) fn is_title_namespace(ns: &str) -> bool {
    TITLE_NAMESPACES.iter().any(|t| t.eq_ignore_ascii_case(ns))
        || ns.to_ascii_lowercase().contains("backend.userland.com/rss")
}

/// What one reading of a document found.
pub(super) struct Found {
    pub(super) kind: FeedKind,
    pub(super) title: Option<String>,
    pub(super) entries: Vec<String>,
    pub(super) bozo: Option<String>,
}

/// The document without its XML declaration (its encoding no longer applies: the text is UTF-8
/// now, and feed-rs would otherwise decode it a second time).
pub(super) fn strip_xml_declaration(text: &str) -> &str {
    match text.strip_prefix("<?xml") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_whitespace() || c == '?') => rest
            .find("?>")
            .map_or(text, |end| rest[end + 2..].trim_start()),
        _ => text,
    }
}

/// The root element, as far as telling the format goes.
pub(super) struct Root {
    pub(super) kind: FeedKind,
    /// Whether feed-rs reads this format (and so is tried first).
    pub(super) feed_rs: bool,
}

/// Reads up to the root element and tells the format from its name, namespace and version, as
/// feedparser does: a DOCTYPE does not decide (an XHTML DOCTYPE in front of `<rss>` is an RSS
/// feed), the root element does; a `<feed>` is Atom 1.0 when it declares that namespace (any
/// prefix, any case), else its `version` attribute says (`0.3`: Atom 0.3, whatever namespace
/// it is in).
pub(super) fn sniff_root(text: &str) -> Result<Root, Error> {
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
pub(super) fn namespace<'a>(ns: &'a ResolveResult<'_>) -> Option<&'a str> {
    match ns {
        ResolveResult::Bound(n) => Some(n.as_ref()),
        _ => None,
    }
}

/// The value of the attribute whose local name is `name`, matched without regard to case.
pub(super) fn attribute(start: &BytesStart<'_>, name: &str) -> Option<String> {
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
pub(super) fn binds(start: &BytesStart<'_>, uri: &str) -> bool {
    start.html_attributes().flatten().any(|a| {
        let key = a.key.as_ref();
        (key == "xmlns" || key.starts_with("xmlns:")) && a.value.trim().eq_ignore_ascii_case(uri)
    })
}

/// Whether `text` (its own declaration already stripped) has another XML declaration,
/// `<?xml` and a space (not `<?xml-stylesheet`, which feeds often have).
pub(super) fn has_inner_xml_declaration(text: &str) -> bool {
    text.as_bytes().windows(6).any(|w| {
        w[..2] == *b"<?" && w[2..5].eq_ignore_ascii_case(b"xml") && w[5].is_ascii_whitespace()
    })
}

/// The title of an XML feed: feed-rs first, the lenient scanner where it gives up.
pub(super) fn xml_title(text: &str, entries: Entries) -> Result<Found, Error> {
    let mut found = read_xml(text, entries)?;
    found.title = found.title.map(c1_as_windows_1252);
    found.entries = found.entries.into_iter().map(c1_as_windows_1252).collect();
    Ok(found)
}

/// `s` with the C1 controls windows-1252 has characters for (U+0080 to U+009F, but for the five
/// it leaves undefined) read as those characters, as feedparser does to every element's text
/// (whatever the document's encoding: a byte 0x93 read as Latin-1, a `\u{93}` in UTF-8).
pub(super) fn c1_as_windows_1252(s: String) -> String {
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
pub(super) fn read_xml(text: &str, entries: Entries) -> Result<Found, Error> {
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
pub(super) fn feed_rs_text(text: &feed_rs::model::Text, kind: FeedKind) -> String {
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
pub(super) fn repair_references<'a>(text: &'a str, notes: &mut Vec<String>) -> Cow<'a, str> {
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

pub(super) enum Reference {
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
pub(super) fn reference(rest: &str) -> Reference {
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
pub(super) fn skip_markup(text: &str, at: usize) -> usize {
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
pub(super) enum Scope {
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
pub(super) enum Target {
    Feed,
    DcFeed,
    Entry,
}

/// A title element being read.
pub(super) struct Capture {
    pub(super) target: Target,
    pub(super) depth: usize,
    pub(super) text: String,
    pub(super) kind_attr: Option<String>,
    pub(super) mode: Option<String>,
}

/// The lenient title scanner: reads the document with quick-xml up to its end or its first
/// well-formedness error, matching element names without regard to case, and takes the first
/// `title` of the channel (RSS) or feed (Atom), else its `dc:title`, and the first `title` of
/// each item or entry. What was read before an error counts; the error is the bozo note.
pub(super) fn scan(text: &str, kind: FeedKind, scope: Scope) -> Found {
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
pub(super) fn title_text(c: &Capture, kind: FeedKind) -> String {
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
