//! [`GreenResolver`]: name resolution that never blocks a may worker thread.
//!
//! ureq's own resolver calls `getaddrinfo` on the calling thread (or waits on a std channel),
//! which would stall every green thread on that worker. Here a literal IP skips the lookup; a
//! name is looked up once by a small set of dedicated OS threads, concurrent lookups of the same
//! name share one answer, and answers are cached for a while. The waiting green thread parks on
//! an [`Event`]. The lookup function can be replaced ([`GreenResolver::with_lookup`]),
//! which is how tests map names to loopback and simulate a DNS failure without any traffic.
//!
//! # Examples
//!
//! ```
//! use std::net::SocketAddr;
//! use greenfetch_runtime::green::ureq::GreenResolver;
//!
//! let fake = GreenResolver::with_lookup(|host: &str, port: u16| match host {
//!     "fixture.test" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
//!     _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such host")),
//! });
//! assert_eq!(fake.lookup("fixture.test", 80).unwrap()[0].port(), 80);
//! assert!(fake.lookup("nowhere.test", 80).is_err());
//! assert!(fake.lookup("127.0.0.1", 8080).is_ok()); // literals never reach the lookup
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::wait::lock;
use crate::{Event, Queue};

/// The function that turns a host name and port into addresses; it may block (it runs on a
/// resolver thread).
pub type LookupFn = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

type Answer = Result<Vec<SocketAddr>, String>;

/// How long an answer is kept.
const TTL: Duration = Duration::from_secs(60);
/// Failed lookups are kept briefly, so a list full of one dead host asks once.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// Dedicated lookup threads.
const THREADS: usize = 4;
/// Names cached before expired answers are swept out (a list, or a service's strangers, can
/// name any number of hosts). If more than half are still fresh, every finished answer goes,
/// so a sweep comes at most once per `MAX_CACHED / 2` new names.
const MAX_CACHED: usize = 10_000;
/// A lookup with no timeout of its own waits at most this long.
const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

struct Job {
    host: String,
    port: u16,
    reply: Event<Answer>,
}

enum Entry {
    Ready(Answer, Instant),
    InFlight(Event<Answer>),
}

struct Inner {
    cache: Mutex<HashMap<(String, u16), Entry>>,
    jobs: Queue<Job>,
}

/// A ureq resolver that parks the green thread, not the worker, while a name is looked up.
///
/// Cloning shares the cache and the lookup threads.
#[derive(Clone)]
pub struct GreenResolver {
    inner: Arc<Inner>,
}

impl fmt::Debug for GreenResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenResolver")
            .field("cached", &lock(&self.inner.cache).len())
            .finish()
    }
}

impl Default for GreenResolver {
    fn default() -> Self {
        GreenResolver::new()
    }
}

impl GreenResolver {
    /// A resolver using the system's `getaddrinfo` (on its own threads).
    ///
    /// ```
    /// let r = greenfetch_runtime::green::ureq::GreenResolver::new();
    /// assert!(r.lookup("127.0.0.1", 1).is_ok());
    /// ```
    pub fn new() -> Self {
        GreenResolver::with_lookup(|host: &str, port: u16| {
            (host, port).to_socket_addrs().map(|a| a.collect())
        })
    }

    /// A resolver that calls `lookup` (on its own threads) for every name it has not cached.
    ///
    /// See the [module example](self).
    pub fn with_lookup<F>(lookup: F) -> Self
    where
        F: Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    {
        let lookup: Arc<LookupFn> = Arc::new(lookup);
        let jobs: Queue<Job> = Queue::unbounded();
        for i in 0..THREADS {
            let (jobs, lookup) = (jobs.clone(), lookup.clone());
            // Plain OS threads: a blocking lookup here stalls nobody. `Queue::get` parks a
            // plain thread like any other waiter. The threads live as long as the process.
            let spawned = std::thread::Builder::new()
                .name(format!("greenfetch-dns-{i}"))
                .spawn(move || {
                    loop {
                        let job = jobs.get();
                        let answer = lookup(&job.host, job.port)
                            .map_err(|e| lookup_failure(&e))
                            .and_then(|v| {
                                if v.is_empty() {
                                    Err("no addresses".to_owned())
                                } else {
                                    Ok(v)
                                }
                            });
                        let _ = job.reply.send(answer);
                    }
                });
            if spawned.is_err() {
                break; // fewer threads still work; none at all fails each lookup below
            }
        }
        GreenResolver {
            inner: Arc::new(Inner {
                cache: Mutex::new(HashMap::new()),
                jobs,
            }),
        }
    }

    /// Resolves `host` (a name or a literal IP, brackets allowed) and `port`, parking the green
    /// thread while a lookup runs. Waits at most 30 s.
    ///
    /// ```
    /// let r = greenfetch_runtime::green::ureq::GreenResolver::new();
    /// let a = r.lookup("[::1]", 443).unwrap();
    /// assert!(a[0].is_ipv6());
    /// ```
    pub fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        self.lookup_within(host, port, DEFAULT_LOOKUP_TIMEOUT)
    }

    /// [`lookup`](Self::lookup), waiting at most `limit`.
    ///
    /// ```
    /// let r = greenfetch_runtime::green::ureq::GreenResolver::new();
    /// let a = r.lookup_within("127.0.0.1", 80, std::time::Duration::from_secs(1)).unwrap();
    /// assert_eq!(a[0].port(), 80);
    /// ```
    pub fn lookup_within(
        &self,
        host: &str,
        port: u16,
        limit: Duration,
    ) -> io::Result<Vec<SocketAddr>> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let key = (bare.to_ascii_lowercase(), port);
        let pending = {
            let mut cache = lock(&self.inner.cache);
            match cache.get(&key) {
                Some(Entry::Ready(answer, at)) => {
                    let ttl = if answer.is_ok() { TTL } else { NEGATIVE_TTL };
                    if at.elapsed() < ttl {
                        return answer.clone().map_err(not_found);
                    }
                    None
                }
                Some(Entry::InFlight(ev)) => Some(ev.clone()),
                None => None,
            }
            .unwrap_or_else(|| {
                if cache.len() >= MAX_CACHED {
                    sweep(&mut cache);
                }
                let ev = Event::new();
                cache.insert(key.clone(), Entry::InFlight(ev.clone()));
                self.inner.jobs.put(Job {
                    host: key.0.clone(),
                    port,
                    reply: ev.clone(),
                });
                ev
            })
        };
        let answer = pending
            .wait_timeout(limit)
            .unwrap_or_else(|| Err(format!("lookup timed out after {limit:?}")));
        let mut cache = lock(&self.inner.cache);
        if matches!(cache.get(&key), Some(Entry::InFlight(_))) {
            cache.insert(key, Entry::Ready(answer.clone(), Instant::now()));
        }
        answer.map_err(not_found)
    }
}

/// Drops the answers that have expired; if that is not enough, every finished answer.
fn sweep(cache: &mut HashMap<(String, u16), Entry>) {
    cache.retain(|_, e| match e {
        Entry::Ready(answer, at) => at.elapsed() < if answer.is_ok() { TTL } else { NEGATIVE_TTL },
        Entry::InFlight(_) => true,
    });
    if cache.len() > MAX_CACHED / 2 {
        cache.retain(|_, e| matches!(e, Entry::InFlight(_)));
    }
}

/// The system resolver's failure without std's preamble: `name or service not known`.
fn lookup_failure(e: &io::Error) -> String {
    let text = e.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "no answer".to_owned(),
    }
}

fn not_found(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, msg)
}

impl Resolver for GreenResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(ureq::Error::BadUri(uri.to_string()));
        };
        let port = match authority.port_u16() {
            Some(p) => p,
            None if scheme == &ureq::http::uri::Scheme::HTTPS => 443,
            None if scheme == &ureq::http::uri::Scheme::HTTP => 80,
            None => return Err(ureq::Error::BadUri(uri.to_string())),
        };
        let limit = timeout.not_zero().map_or(DEFAULT_LOOKUP_TIMEOUT, |d| *d);
        let addrs = self
            .lookup_within(authority.host(), port, limit)
            .map_err(|_| ureq::Error::HostNotFound)?;
        let mut out = self.empty();
        for a in config.ip_family().keep_wanted(addrs.into_iter()).take(16) {
            out.push(a);
        }
        if out.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_stays_bounded_however_many_names() {
        let r = GreenResolver::with_lookup(|_h: &str, p: u16| {
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], p))])
        });
        for i in 0..=MAX_CACHED {
            r.lookup(&format!("h{i}.test"), 80).unwrap();
        }
        let cached = lock(&r.inner.cache).len();
        assert!(cached <= MAX_CACHED / 2, "{cached} names cached");
        // A name looked up again after the sweep is simply asked again.
        assert!(r.lookup("h0.test", 80).is_ok());
    }
}
