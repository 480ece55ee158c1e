//! Criterion benchmarks of reading one feed's title, on documents shaped like the shared
//! harness's W5 feeds (about 7 KB: a channel or feed with 20 entries, each with a link, an id, a
//! date and a paragraph of summary).
//!
//! | bench | one iteration is |
//! |---|---|
//! | `title_only/{rss,atom,json}` | [`greenfetch::feed::title_only`]: what `greenfetch titles` runs per feed |
//! | `title_from_bytes/{rss,atom,json}` | [`greenfetch::feed::title_from_bytes`]: the title and every entry title (`--entries`) |
//! | `feed_rs/{rss,atom,json}` | `feed_rs::parser::parse` alone: what the rust-tokio peer runs per feed |
//!
//! Plain threads, no coroutines: these are pure functions over bytes.
//!
//! ```text
//! cargo bench --bench feed -- --warm-up-time 1 --measurement-time 3
//! ```

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use greenfetch::feed::{title_from_bytes, title_only};

/// Entries in each document.
const ENTRIES: usize = 20;
/// Every entry's summary.
const SUMMARY: &str = "a paragraph of made-up text, about as long as the summary a small blog \
    puts under each post, with nothing in it but words to fill the space";

fn rss(id: usize) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Bench feed {id}</title><link>http://127.0.0.1/rss/{id}</link>\
         <description>Bench feed {id}</description>\n"
    );
    for e in 1..=ENTRIES {
        let _ = writeln!(
            s,
            "<item><title>Post {e} of feed {id}</title><link>http://127.0.0.1/rss/{id}/{e}</link>\
             <guid isPermaLink=\"false\">urn:bench:{id}:{e}</guid>\
             <pubDate>Tue, 02 Jan 2024 10:{e:02}:00 +0000</pubDate>\
             <description>Post {e}: {SUMMARY}.</description></item>"
        );
    }
    s.push_str("</channel></rss>\n");
    s
}

fn atom(id: usize) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title>Bench feed {id}</title><id>urn:bench:{id}</id>\
         <updated>2024-01-02T10:00:00Z</updated><author><name>bench</name></author>\
         <link href=\"http://127.0.0.1/atom/{id}\"/>\n"
    );
    for e in 1..=ENTRIES {
        let _ = writeln!(
            s,
            "<entry><title>Post {e} of feed {id}</title><link href=\"http://127.0.0.1/atom/{id}/{e}\"/>\
             <id>urn:bench:{id}:{e}</id><updated>2024-01-02T10:{e:02}:00Z</updated>\
             <summary>Post {e}: {SUMMARY}.</summary></entry>"
        );
    }
    s.push_str("</feed>\n");
    s
}

fn json(id: usize) -> String {
    let items: Vec<String> = (1..=ENTRIES)
        .map(|e| {
            format!(
                "{{\"id\":\"urn:bench:{id}:{e}\",\"url\":\"http://127.0.0.1/json/{id}/{e}\",\
                 \"title\":\"Post {e} of feed {id}\",\"content_text\":\"Post {e}: {SUMMARY}.\",\
                 \"date_published\":\"2024-01-02T10:{e:02}:00Z\"}}"
            )
        })
        .collect();
    format!(
        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"Bench feed {id}\",\
         \"home_page_url\":\"http://127.0.0.1/json/{id}\",\"items\":[\n{}\n]}}\n",
        items.join(",\n")
    )
}

fn main() {
    let docs = [
        ("rss", rss(7), "application/rss+xml"),
        ("atom", atom(7), "application/atom+xml"),
        ("json", json(7), "application/feed+json"),
    ];
    // A bench of a wrong answer measures nothing: check each reading first.
    for (name, body, ct) in &docs {
        let quick = title_only(body.as_bytes(), Some(ct)).expect(name);
        let full = title_from_bytes(body.as_bytes(), Some(ct)).expect(name);
        assert_eq!(quick.title, "Bench feed 7", "{name}");
        assert_eq!(full.title, quick.title, "{name}");
        assert_eq!(full.entries.len(), ENTRIES, "{name}");
        let peer = feed_rs::parser::parse(body.as_bytes()).expect(name);
        assert_eq!(
            peer.title.map(|t| t.content).as_deref(),
            Some("Bench feed 7")
        );
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for (group, run) in [("title_only", 0), ("title_from_bytes", 1), ("feed_rs", 2)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(1));
        for (name, body, ct) in &docs {
            let bytes = body.as_bytes();
            g.bench_function(*name, |b| match run {
                0 => b.iter(|| title_only(black_box(bytes), Some(ct)).map(|i| i.title.len())),
                1 => b.iter(|| title_from_bytes(black_box(bytes), Some(ct)).map(|i| i.title.len())),
                _ => b.iter(|| feed_rs::parser::parse(black_box(bytes)).map(|f| f.entries.len())),
            });
        }
        g.finish();
    }
    c.final_summary();
}
