//! Discovery: the feed an HTML page advertises (its `<link rel="alternate">` elements, then
//! the `Link` header), and the page's own `<title>`.
//!
//! Layer: domain; pure (part of [`feed`](super)).

use super::*;

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

/// A start tag's attribute value, as text.
pub(super) fn attr(tag: &html5gum::StartTag<()>, name: &[u8]) -> Option<String> {
    tag.attributes
        .get(name)
        .map(|v| String::from_utf8_lossy(&v.value).into_owned())
}

/// Whether the space-separated list `list` holds `token` (ASCII case-insensitive).
pub(super) fn has_token(list: &str, token: &str) -> bool {
    list.split_ascii_whitespace()
        .any(|t| t.eq_ignore_ascii_case(token))
}

/// Whether a link's `type` names a feed.
pub(super) fn is_feed_type(kind: &str) -> bool {
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
pub(super) struct HeaderLink {
    pub(super) href: String,
    pub(super) rel: String,
    pub(super) kind: String,
}

/// Parses an HTTP `Link` header value (RFC 8288): `<uri>; rel="a b"; type="t", <uri2>; ...`.
pub(super) fn parse_link_header(value: &str) -> Vec<HeaderLink> {
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
