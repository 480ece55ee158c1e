//! eventlet's feedscraper (the dispatch pattern) on greenfetch: a web service that takes a list
//! of feed URLs and answers their titles.
//!
//! ```text
//! cargo run --example dispatch -- [ADDR]              # default 127.0.0.1:9010, as eventlet's
//! curl --data-binary @urls.txt http://127.0.0.1:9010/
//! ```
//!
//! One pool caps the fetches of every request together; each request spawns its URLs into a
//! pile of its own on that pool, and joins their titles in input order. The bound address is
//! printed first (port 0 picks a free port). `greenfetch serve` is this grown up: JSON, metrics,
//! per-request limits, and a refusal of private addresses (this example fetches anything).

use std::io::{self, Write};
use std::sync::Arc;

use greenfetch::fetch::{FetchConfig, Fetcher};
use greenfetch::server::http::{HttpConfig, HttpServer, Request, Response};
use greenfetch::titles::title_of;
use greenfetch::{GreenPile, GreenPool};

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9010".into());
    let pool = GreenPool::new(200); // shared by all requests
    let fetcher = Arc::new(Fetcher::new(FetchConfig::default()));

    // The application: a plain blocking function of the request, run in its connection's
    // green thread.
    let app = move |req: &Request| {
        if req.method() != "POST" {
            return Response::text(403, "POST feed URLs, one a line\n");
        }
        let pile = GreenPile::with_pool(&pool); // one per request
        for line in String::from_utf8_lossy(req.body()).lines() {
            let url = line.trim().to_owned();
            if !url.is_empty() {
                let fetcher = fetcher.clone();
                pile.spawn(move || title_of(&fetcher, &url, true).title.unwrap_or_default());
            }
        }
        let titles: Vec<String> = pile.map(Result::unwrap_or_default).collect();
        Response::text(200, titles.join("\n") + "\n")
    };

    let server = HttpServer::start(&addr, HttpConfig::default(), app)?;
    println!("feedscraper listening on {}", server.addr());
    io::stdout().flush()?;
    loop {
        std::thread::park(); // the server runs in green threads until the process is stopped
    }
}
