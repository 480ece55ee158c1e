//! `greenfetch serve`: the dispatch service (eventlet's feedscraper) on the resolved fetch
//! settings, with its address policy, Host and Origin checks, and the backdoor; and its
//! graceful stop: on SIGTERM, SIGINT or SIGHUP it stops accepting connections, gives the
//! requests in flight up to `--drain-timeout` (their fetches still running then answer
//! `timeout`, so none gets an empty reply), and exits 0.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use super::args::ServeArgs;
use super::backdoor::start_backdoor;
use super::config::{configure_hub, fetch_config};
use super::{EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, progress, usage_error};

/// `serve` answers from here on: whatever the request, at most this much body per fetch.
const SERVE_MAX_BODY: u64 = 16 * 1024 * 1024;

/// `greenfetch serve`: the dispatch service until a signal stops it.
pub(crate) fn serve(a: ServeArgs) -> u8 {
    use greenfetch::green::ureq::AddressPolicy;
    use greenfetch::server::dispatch::{Dispatch, DispatchConfig};
    use greenfetch::server::http::{HostCheck, HttpConfig};

    configure_hub(a.runtime.workers);
    let concurrency = a.pool.concurrency;
    let mut fetch = match fetch_config(&a.net, None, None, concurrency, a.pool.rate.map(|r| r.0)) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    if a.net.max_body.is_none() {
        fetch.max_body = SERVE_MAX_BODY;
    }
    fetch.client.address_policy = if a.allow_private {
        AddressPolicy::allow_all()
    } else {
        a.allow_addr
            .iter()
            .fold(AddressPolicy::public_only(), |p, x| p.allow(x.0))
    };
    let mut allowed_hosts = if a.allow_any_host {
        HostCheck::any()
    } else {
        HostCheck::local()
    };
    for name in &a.allow_host {
        allowed_hosts = match allowed_hosts.allow(&name.0) {
            Ok(c) => c,
            Err(e) => return usage_error(format!("--allow-host: {e}")),
        };
    }
    let mut allowed_origins = greenfetch::server::dispatch::OriginCheck::none();
    for origin in &a.allow_origin {
        allowed_origins = match allowed_origins.allow(origin) {
            Ok(c) => c,
            Err(e) => return usage_error(format!("--allow-origin: {e}")),
        };
    }
    let (request_timeout, client_timeout, idle_timeout) =
        (a.request_timeout, a.client_timeout, a.idle_timeout);
    let service = Dispatch::new(DispatchConfig {
        fetch,
        concurrency,
        discover: !a.no_discover,
        max_urls: a.max_urls,
        request_timeout,
        http: HttpConfig {
            max_body: a.max_request_body.0,
            client_timeout,
            idle_timeout,
            max_connections: a.max_connections,
            max_connections_per_client: a.max_connections_per_client,
            ..HttpConfig::default()
        },
        allowed_hosts,
        allowed_origins,
    });
    let server = match service.start(&a.listen) {
        Ok(s) => s,
        Err(e) => return usage_error(format!("serve on {}: {e}", a.listen)),
    };
    let addr = server.addr();
    if !addr.ip().is_loopback() {
        eprintln!(
            "greenfetch: warning: listening on {addr}, which is not a loopback address: \
             anyone who can reach it can make this machine fetch URLs{}",
            if a.allow_private {
                ", and with --allow-private, reach its private network"
            } else {
                ""
            }
        );
    }
    if let Some(bd) = a.backdoor {
        let d = service.clone();
        let describe = move || {
            let s = d.stats();
            format!(
                "requests {} urls {} fetches {} errors {} in_flight {} running {}",
                s.requests,
                s.urls,
                s.fetches,
                s.errors,
                s.in_flight,
                d.pool().running()
            )
        };
        if let Err(e) = start_backdoor(bd, service.pool(), &Arc::default(), describe) {
            return usage_error(format!("--backdoor {bd}: {e}"));
        }
    }
    // The first line on stdout is the URL, for scripts; the prose goes to stderr.
    if print_url(addr).is_err() {
        return EXIT_SOME_FAILED;
    }
    eprintln!(
        "greenfetch: serving POST /titles on http://{addr} (SIGTERM or Ctrl-C stops it \
         gracefully)"
    );
    let stop = stop_signal();
    // The service runs in green threads; this (plain) thread waits for the signal.
    let _ = stop.recv();
    let drain = a.drain_timeout.0.unwrap_or(Duration::ZERO);
    let by = Instant::now() + drain;
    service.drain(by);
    drop(server); // stops accepting; idle connections are closed
    let busy = service.stats().requests_in_flight;
    if busy > 0 {
        eprintln!(
            "greenfetch: stopping: answering {} in flight (at most {}; a second signal quits at \
             once)",
            progress::count(busy, "request", "requests"),
            progress::human(drain)
        );
    } else {
        eprintln!("greenfetch: stopping");
    }
    // A request whose fetches were cut at `by` still has its answer to write.
    let last = by + DRAIN_GRACE;
    while service.stats().requests_in_flight > 0 && Instant::now() < last {
        match stop.recv_timeout(Duration::from_millis(20)) {
            Ok(()) => return EXIT_INTERRUPTED,
            Err(_) => continue,
        }
    }
    EXIT_OK
}

/// After `--drain-timeout`, how long answers cut short there may take to be written.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The URL on stdout, alone on the first line.
pub(crate) fn print_url(addr: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "http://{addr}").and_then(|()| out.flush())
}

/// A channel that receives a message on each SIGINT, SIGTERM or SIGHUP (SIGINT too when the
/// shell that started us in the background set it to be ignored: the handler replaces that).
fn stop_signal() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    let _ = ctrlc::set_handler(move || {
        let _ = tx.send(());
    });
    rx
}
