//! `greenfetch serve`: the dispatch service (eventlet's feedscraper) on the resolved fetch
//! settings, with its address policy, Host and Origin checks, and the backdoor.

use std::io::{self, Write};
use std::sync::Arc;

use super::args::{self, ServeArgs};
use super::backdoor::start_backdoor;
use super::config::{configure_hub, fetch_config};
use super::{EXIT_SOME_FAILED, usage_error};

/// `serve` answers from here on: whatever the request, at most this much body per fetch.
const SERVE_MAX_BODY: u64 = 16 * 1024 * 1024;

/// `greenfetch serve`: the dispatch service until the process is stopped.
pub(crate) fn serve(a: ServeArgs) -> u8 {
    use greenfetch::green::ureq::AddressPolicy;
    use greenfetch::server::dispatch::{Dispatch, DispatchConfig};
    use greenfetch::server::http::{HostCheck, HttpConfig};

    configure_hub(a.net.workers);
    let concurrency = a.pool.concurrency.max(1);
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
    let required = |d: args::DurationArg, name: &str| {
        d.0.ok_or_else(|| format!("--{name} must be more than 0"))
    };
    let timeouts = (
        required(a.request_timeout, "request-timeout"),
        required(a.client_timeout, "client-timeout"),
        required(a.idle_timeout, "idle-timeout"),
    );
    let (request_timeout, client_timeout, idle_timeout) = match timeouts {
        (Ok(r), Ok(c), Ok(i)) => (r, c, i),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return usage_error(e),
    };
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
            max_connections: a.max_connections.max(1),
            max_connections_per_client: a.max_connections_per_client.max(1),
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
    let mut out = io::stdout().lock();
    if writeln!(out, "listening on http://{addr}")
        .and_then(|()| out.flush())
        .is_err()
    {
        return EXIT_SOME_FAILED;
    }
    drop(out);
    // The service runs in green threads; this (plain) thread only keeps the process alive.
    loop {
        std::thread::park();
    }
}
