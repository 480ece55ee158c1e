//! The hub's default coroutine stack holds the deepest real work a green thread does here: a
//! feed-rs parse of a large feed (fixtures/large-rss.xml, 198 KB, 320 items).
//!
//! Coroutine stacks are fixed (DESIGN.md, "Rules of the runtime"); an overflow is caught by a
//! guard page but not unwound, so it would leave this test's `wait` hanging: the wait has a
//! generous limit that turns such a hang into a failure. The test runs in debug under
//! `cargo test`, where the parse needs the most stack: measured with may's own counter, about
//! 152 KiB in debug and 39 KiB in release, of the 256 KiB default.

use std::time::Duration;

use greenfetch::hub;

const LARGE_RSS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/large-rss.xml");

/// A feed with a date: parsing it initialises feed-rs's lazy statics (its timestamp regexes).
const TINY_FEED_WITH_DATE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>warm-up</title>
<item><title>one</title><pubDate>Mon, 02 Jan 2006 15:04:05 -0700</pubDate></item>
</channel></rss>"#;

/// Generous: the parse takes well under a second even in debug on a busy machine.
const OVERFLOW_HANG_LIMIT: Duration = Duration::from_secs(120);

#[test]
fn large_feed_parse_fits_default_stack() {
    // Warm the lazy statics on the main thread (a plain OS thread with a big stack), as the
    // spike advises: a coroutine that overflowed while initialising one would hold its lock
    // forever.
    let warm = feed_rs::parser::parse(TINY_FEED_WITH_DATE.as_bytes()).expect("tiny feed parses");
    assert!(
        warm.entries[0].published.is_some(),
        "the warm-up parsed a date"
    );

    assert_eq!(
        hub::settings().stack_size,
        hub::DEFAULT_STACK_SIZE,
        "this test is about the default stack"
    );
    let bytes = std::fs::read(LARGE_RSS).expect("fixtures/large-rss.xml is committed");
    let parse = greenfetch::spawn(move || {
        let feed = feed_rs::parser::parse(&bytes[..]).map_err(|e| e.to_string())?;
        Ok::<_, String>((feed.title.map(|t| t.content), feed.entries.len()))
    });
    // No `kill` on the way out: a coroutine abandoned by an overflow never ends, so a kill
    // (which waits for its victim to end) would hang too. Dropping the handle detaches it.
    let outcome = parse
        .wait_timeout(OVERFLOW_HANG_LIMIT)
        .unwrap_or_else(|_abandoned| {
            panic!("the parse did not end within {OVERFLOW_HANG_LIMIT:?}: a stack overflow?")
        });
    let (title, items) = outcome
        .expect("the green thread ran to the end")
        .expect("feed-rs parsed the fixture");
    assert_eq!(title.as_deref(), Some("greenfetch large fixture feed"));
    assert_eq!(items, 320);
}
