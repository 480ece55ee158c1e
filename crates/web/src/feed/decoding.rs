//! Decoding: a feed's or a page's bytes to UTF-8 text (byte-order mark, the Content-Type
//! charset, the XML declaration or HTML `<meta>`, then UTF-8), with the charset named in the
//! feed's report.
//!
//! Layer: domain; pure (part of [`feed`](super)).

use super::*;

/// Whether the body is read as XML (encoding from the XML declaration) or HTML (from `<meta>`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Markup {
    Xml,
    Html,
}

/// The body as UTF-8 text.
pub(super) struct Decoded {
    pub(super) text: String,
    pub(super) encoding: &'static str,
    /// Set when the bytes did not fit the encoding they claimed.
    pub(super) bozo: Option<String>,
}

/// The charset a label names, or a `malformed` error naming the label.
/// feedparser reads a document labelled exactly `gb2312` (in any case) as gb18030, its superset
/// (so GBK's characters read too); other names of GB2312 stay Python's strict `gb2312`.
pub(super) fn charset_named(label: &str, whence: &str) -> Result<Charset, Error> {
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
pub(super) fn decode(
    body: &[u8],
    content_type: Option<&str>,
    markup: Markup,
) -> Result<Decoded, Error> {
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
pub(super) fn decode_html(body: &[u8], content_type: Option<&str>) -> String {
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
pub(super) fn decode_with(charset: Charset, bytes: &[u8], source: &str) -> Result<Decoded, Error> {
    decode_trying(charset, None, bytes, source)
}

/// [`decode_with`], with `also` tried first among the fallbacks.
pub(super) fn decode_trying(
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
pub(super) fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_owned())
            .filter(|v| !v.is_empty())
    })
}

/// The `encoding` of an XML declaration at the very start of `body` (read as ASCII).
pub(super) fn xml_declared_encoding(body: &[u8]) -> Option<String> {
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
pub(super) fn html_declared_encoding(body: &[u8]) -> Option<String> {
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
