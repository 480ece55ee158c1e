//! eventlet's client pattern on greenfetch: a pool of green threads, `imap` of a plain fetch
//! function over the URLs, and each body's length printed **in input order**.
//!
//! ```text
//! cargo run --example client -- http://127.0.0.1:8080/bytes/10 http://127.0.0.1:8080/bytes/20
//! ```
//!
//! With no arguments it starts the embedded fixture server and fetches a few of its pages, so it
//! runs anywhere with no network.

use greenfetch::GreenPool;
use greenfetch::green::ureq::{AgentConfig, GreenAgent, agent};
use greenfetch::server::fixture::FixtureServer;

/// The function each green thread runs: blocking code, green underneath.
fn fetch(agent: &GreenAgent, url: &str) -> Result<usize, ureq::Error> {
    let body = agent.get(url).call()?.body_mut().read_to_vec()?;
    Ok(body.len())
}

fn main() {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    let _server = if urls.is_empty() {
        let srv = FixtureServer::start("127.0.0.1:0").expect("start the fixture server");
        urls = (1..=5)
            .map(|i| srv.url(&format!("/delay/{}/{}", 100 - 20 * i, i * 100)))
            .chain((1..=3).map(|i| srv.url(&format!("/bytes/{}", i * 1000))))
            .collect();
        Some(srv)
    } else {
        None
    };

    let agent = agent(AgentConfig::default());
    let pool = GreenPool::new(200);
    let shown = urls.clone();
    for (url, len) in shown
        .iter()
        .zip(pool.imap(move |u: String| fetch(&agent, &u), urls))
    {
        match len {
            Ok(Ok(n)) => println!("{url}: {n} bytes"),
            Ok(Err(e)) => println!("{url}: error: {e}"),
            Err(e) => println!("{url}: task failed: {e}"),
        }
    }
}
