//! greenfetch-web: greenfetch's fetch, feed and server toolkit, on the green runtime
//! (`greenfetch-runtime`).
//!
//! - [`client`]: an HTTP/1.1 client over green sockets: proxies as curl takes them, content
//!   codings, curl's head limits, typed errors.
//! - [`fetch`]: one URL fetched well: redirects hop by hop with their credentials, cookies and
//!   robots.txt, politeness limits, retries with backoff.
//! - [`feed`]: a feed's title (and entries) from bytes, as feedparser reads it; [`titles`]: one
//!   URL's title (fetch, parse, discover).
//! - [`server`]: the fixture server, a hardened HTTP/1.1 server, and the dispatch service.
//! - [`error`]: one error type, a stable kind and a message, for every outcome; [`record`]:
//!   the one serializable record of each outcome, for the command line's jsonl and `serve`.
//!
//! The runtime cannot name anything here, and this crate cannot name the command line: the
//! layers are crate boundaries.
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::fetch::{Fetcher, FetchConfig};
//! use greenfetch_web::server::FixtureServer;
//!
//! let server = FixtureServer::start("127.0.0.1:0")?;
//! let fetcher = Fetcher::new(FetchConfig::default());
//! let url = server.url("/feed/rss/7");
//! let out = greenfetch_runtime::spawn(move || fetcher.fetch(&url)).wait().unwrap();
//! assert_eq!(out.status, Some(200));
//! assert!(String::from_utf8_lossy(&out.body).contains("<title>Feed 7</title>"));
//! # Ok::<(), std::io::Error>(())
//! ```
#![deny(missing_docs)]

pub mod client;
pub mod error;
pub mod feed;
pub mod fetch;
pub mod record;
pub mod server;
pub mod titles;
