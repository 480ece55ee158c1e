//! JSON Feed: the title and entries of a JSON Feed document, and its version as a kind.
//!
//! Layer: domain; pure (part of [`feed`](super)).

use super::*;

/// The title of a JSON document: feed-rs first, then the JSON value as parsed.
pub(super) fn json_title(text: &str, entries: Entries) -> Result<Found, Error> {
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
pub(super) fn json_kind(version: Option<&str>) -> Result<FeedKind, Error> {
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
