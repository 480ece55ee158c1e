//! Text: a title's content as plain text (HTML tags dropped, references decoded, white space
//! collapsed), and the HTML vocabulary that tells escaped HTML from text.
//!
//! Layer: domain; pure (part of [`feed`](super)).

use super::*;

/// How a title's content is to be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Content {
    /// Plain text.
    Text,
    /// HTML markup (Atom `type="html"`, escaped Atom 0.3, XHTML as markup).
    Html,
    /// RSS: text, unless it looks like HTML (feedparser's `looks_like_html`).
    Sniff,
}

/// Content as the plain text a reader sees, whitespace collapsed.
pub(super) fn render(raw: &str, content: Content) -> String {
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
pub(super) fn collapse_whitespace(s: &str) -> String {
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
pub(super) fn html_tokens(s: &str) -> impl Iterator<Item = Token> + '_ {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    Tokenizer::new_with_emitter(s, emitter).flatten()
}

/// The text of an HTML fragment: tags dropped (script and style content too), references
/// decoded.
pub(super) fn html_to_text(s: &str) -> String {
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
pub(super) fn looks_like_html(s: &str) -> bool {
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
pub(super) fn tag_names(s: &str) -> Vec<(bool, String)> {
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
pub(super) fn references(s: &str) -> Vec<&str> {
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
pub(super) const HTML_ELEMENTS: &[&str] = &[
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
pub(super) fn html_entity(name: &str) -> Option<String> {
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
