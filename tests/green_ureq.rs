//! The green ureq agent: plain HTTP against the fixture server, keep-alive reuse, concurrency
//! proven by structure, TLS through `wrap_ssl`, and name resolution through an injected
//! resolver (no lookup leaves the machine).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenfetch::GreenPool;
use greenfetch::client::ClientConfig;
use greenfetch::error::{Error, ErrorKind};
use greenfetch::green::tls::{TlsSide, server_config, wrap_ssl};
use greenfetch::green::ureq::{AgentConfig, GreenResolver, agent};
use greenfetch::server::fixture::FixtureServer;

fn get(a: &greenfetch::green::ureq::GreenAgent, url: &str) -> Result<(u16, String), Error> {
    let mut r = a.get(url).call().map_err(Error::from)?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().map_err(Error::from)?;
    Ok((status, body))
}

#[test]
fn plain_get_inside_a_green_thread() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let a = agent(AgentConfig::default());
    let url = srv.url("/delay/0/hello");
    let (status, body) = greenfetch::spawn(move || get(&a, &url))
        .wait()
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("hello"), "{body}");
}

#[test]
fn keep_alive_connections_are_reused_across_green_threads() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let a = agent(AgentConfig::default());
    for i in 0..20 {
        let (a, url) = (a.clone(), srv.url(&format!("/bytes/{i}")));
        let got = greenfetch::spawn(move || get(&a, &url))
            .wait()
            .unwrap()
            .unwrap();
        assert_eq!(got.1.len(), i);
    }
    assert_eq!(a.connections_opened(), 1);
    assert_eq!(a.idle_connections(), 1);
}

/// How much slower than one delay a fully parallel batch may be and still count as parallel.
const PARALLEL_SLACK: u32 = 4;

#[test]
fn n_delayed_requests_on_a_pool_of_n_overlap() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let a = agent(AgentConfig::default());
    let n = 50u32;
    let delay = Duration::from_millis(200);
    let urls: Vec<String> = (0..n)
        .map(|i| srv.url(&format!("/delay/200/{i}")))
        .collect();
    let pool = GreenPool::new(n as usize);
    let t0 = Instant::now();
    let ok = pool
        .imap(move |u: String| get(&a, &u).is_ok(), urls)
        .filter(|r| r == &Ok(true))
        .count();
    let took = t0.elapsed();
    assert_eq!(ok, n as usize);
    // Serial would take n × delay = 10 s; overlapped takes about one delay.
    assert!(
        took < delay * PARALLEL_SLACK,
        "{n} delayed requests took {took:?}"
    );
}

#[test]
fn injected_resolver_maps_names_and_simulates_dns_failure() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let port = srv.addr().port();
    let resolver = GreenResolver::with_lookup(move |host: &str, p: u16| match host {
        "fixture.test" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], p))]),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "simulated NXDOMAIN",
        )),
    });
    let a = agent(AgentConfig {
        resolver,
        ..AgentConfig::default()
    });
    let a2 = a.clone();
    let (ok, dns) = greenfetch::spawn(move || {
        (
            get(&a2, &format!("http://fixture.test:{port}/bytes/3")),
            get(&a2, "http://nowhere.test/"),
        )
    })
    .wait()
    .unwrap();
    assert_eq!(ok.unwrap().1.len(), 3);
    assert_eq!(dns.unwrap_err().kind, ErrorKind::Dns);
}

/// A one-response-per-connection HTTPS server on `wrap_ssl`, for the TLS tests: its address
/// and its certificate (DER).
pub(crate) fn tls_server(body: &'static str) -> (SocketAddr, Vec<u8>) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let der = cert.cert.der().to_vec();
    let config = server_config(vec![der.clone()], cert.signing_key.serialize_der()).unwrap();
    let listener = greenfetch::listen("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    greenfetch::spawn_n(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { continue };
            let config = config.clone();
            greenfetch::spawn_n(move || {
                let Ok(tls) = wrap_ssl(sock, TlsSide::Server { config }) else {
                    return;
                };
                let mut r = BufReader::new(tls);
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                let mut tls = r.into_inner();
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.flush();
            });
        }
    });
    (addr, der)
}

#[test]
fn https_through_wrap_ssl_with_a_trusted_test_certificate() {
    let (addr, der) = tls_server("secure hello");
    let a = agent(AgentConfig {
        roots: vec![der],
        ..AgentConfig::default()
    });
    let url = format!("https://127.0.0.1:{}/", addr.port());
    let got = greenfetch::spawn(move || get(&a, &url))
        .wait()
        .unwrap()
        .unwrap();
    assert_eq!(got, (200, "secure hello".to_owned()));
}

#[test]
fn an_untrusted_certificate_is_a_tls_error() {
    let (addr, _der) = tls_server("never seen");
    let a = agent(AgentConfig::default()); // web roots only
    let url = format!("https://127.0.0.1:{}/", addr.port());
    let err = greenfetch::spawn(move || get(&a, &url))
        .wait()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls, "{err}");
}

#[test]
fn tls_to_a_plain_port_and_plain_to_a_tls_port_fail_cleanly() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let (tls_addr, der) = tls_server("x");
    let a = agent(AgentConfig {
        roots: vec![der],
        timeout: Some(Duration::from_secs(3)),
        ..AgentConfig::default()
    });
    let tls_to_plain = format!("https://127.0.0.1:{}/bytes/1", srv.addr().port());
    let plain_to_tls = format!("http://127.0.0.1:{}/", tls_addr.port());
    let (x, y) = greenfetch::spawn(move || (get(&a, &tls_to_plain), get(&a, &plain_to_tls)))
        .wait()
        .unwrap();
    assert!(x.is_err(), "{x:?}");
    assert!(y.is_err(), "{y:?}");
}

#[test]
fn the_resolver_shares_one_lookup_between_concurrent_askers() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    let r = GreenResolver::with_lookup(move |_h: &str, p: u16| {
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50)); // a slow DNS server (on a resolver thread)
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], p))])
    });
    let pool = GreenPool::new(20);
    let ok = pool
        .imap(move |_| r.lookup("slow.test", 80).is_ok(), 0..20)
        .filter(|x| x == &Ok(true))
        .count();
    assert_eq!(ok, 20);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// `AddressPolicy::public_only()` refuses loopback however it is reached: as a literal, through
/// a name (checked after resolution), and through a redirect from an allowed address; the
/// refusal is `forbidden`, made once (not retried), and an allowed address still works.
#[test]
fn a_public_only_policy_refuses_private_targets_after_resolution_and_on_redirects() {
    use greenfetch::fetch::{FetchConfig, Fetcher};
    use greenfetch::green::ureq::AddressPolicy;

    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let private = srv.url("/feed/rss/1");
    let hop = crate::util::redirector(private.clone());
    let fport = srv.addr().port();
    let resolver = GreenResolver::with_lookup(move |host: &str, p: u16| match host {
        "public.test" | "rebound.test" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], p))]),
        _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no")),
    });
    let fetcher = Arc::new(Fetcher::new(FetchConfig {
        client: ClientConfig {
            resolver,
            address_policy: AddressPolicy::public_only().allow(hop),
            ..ClientConfig::default()
        },
        retries: 2,
        ..FetchConfig::default()
    }));
    let urls = [
        private.clone(),                                      // a loopback literal
        format!("http://rebound.test:{fport}/feed/rss/1"),    // a name resolving to loopback
        format!("http://public.test:{}/go", hop.port()),      // allowed, then 302 to loopback
        format!("http://public.test:{}/feed", hop.port()),    // allowed, served
        format!("http://[::ffff:127.0.0.1]:{fport}/bytes/1"), // IPv4-mapped loopback
    ];
    let f = fetcher.clone();
    let out: Vec<_> = greenfetch::spawn(move || urls.iter().map(|u| f.fetch(u)).collect())
        .wait()
        .unwrap();
    for (i, o) in out.iter().enumerate() {
        if i == 3 {
            assert!(o.is_ok(), "{o:?}");
            continue;
        }
        let e = o
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("#{i} was fetched"));
        assert_eq!(e.kind, ErrorKind::Forbidden, "#{i}: {e}");
        let ip = if i == 4 {
            "::ffff:127.0.0.1"
        } else {
            "127.0.0.1"
        };
        assert_eq!(e.message, format!("{ip} is a loopback address"), "#{i}");
        assert_eq!(o.attempts, 1, "#{i}: a refusal is not retried");
    }
    assert!(String::from_utf8_lossy(&out[3].body).contains("Allowed feed"));
    // Nothing reached the fixture server.
    assert_eq!(srv.hits(), 0);
}

/// Idle connections are bounded over all hosts, not just per host, and aged-out ones are
/// dropped everywhere: a list (or a service's strangers) naming many hosts cannot pile up
/// idle sockets for hosts never asked for again.
#[test]
fn idle_connections_are_bounded_over_all_hosts() {
    let srv = FixtureServer::start("127.0.0.1:0").unwrap();
    let port = srv.addr().port();
    let resolver = GreenResolver::with_lookup(|_host: &str, p: u16| {
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], p))])
    });
    let fetch_from_five_hosts = move |cfg: AgentConfig| {
        let a = agent(cfg);
        let b = a.clone();
        greenfetch::spawn(move || {
            for h in 0..5 {
                get(&b, &format!("http://h{h}.test:{port}/bytes/1")).unwrap();
            }
        })
        .wait()
        .unwrap();
        (a.connections_opened(), a.idle_connections())
    };
    let capped = AgentConfig {
        resolver: resolver.clone(),
        max_idle_per_host: 1,
        max_idle_total: 2,
        ..AgentConfig::default()
    };
    assert_eq!(fetch_from_five_hosts(capped), (5, 2));
    // With no idle age at all, each check-in sweeps the others out.
    let ageless = AgentConfig {
        resolver,
        max_idle_age: Duration::ZERO,
        ..AgentConfig::default()
    };
    assert_eq!(fetch_from_five_hosts(ageless), (5, 1));
}
