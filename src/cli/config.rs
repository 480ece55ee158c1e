//! The resolved configuration: the network, request, cookie and runtime options of the
//! command line turned into the library's settings ([`FetchConfig`], the cookie engine, the
//! hub's workers), each checked once before anything runs. A bad value is an `Err` naming the
//! option, which the commands report as a usage error.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use greenfetch::client::ClientConfig;
use greenfetch::client::proxy::Proxies;
use greenfetch::fetch::FetchConfig;
use greenfetch::fetch::cookies::Cookies;
use greenfetch::green::ureq::GreenResolver;
use greenfetch::hub;

use super::args::{self, CookieArgs, NetArgs, ProxyArgs, RequestArgs};

/// Reads a CA certificate file: PEM (one or more certificates) or DER.
pub(crate) fn read_cacert(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(vec![bytes]);
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: bad PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(certs)
}

/// `--retries` when not given (fetch, titles, serve; bench makes none unless asked).
pub(crate) const DEFAULT_RETRIES: u32 = 2;

/// `--max-body` when not given (fetch, titles).
const DEFAULT_MAX_BODY: u64 = 256 * 1024 * 1024;

/// Resolves the network options, for a pool of `concurrency` and an optional `rate` (requests
/// started per second), into the library's fetch settings. `proxy` is `None` for `serve`
/// (which never uses a proxy) and `request` is `None` for the commands whose requests are
/// plain GETs (`titles`, `serve`).
pub(crate) fn fetch_config(
    net: &NetArgs,
    proxy: Option<&ProxyArgs>,
    request: Option<(&RequestArgs, &[String])>,
    concurrency: usize,
    rate: Option<f64>,
) -> Result<FetchConfig, String> {
    let mut headers = Vec::new();
    for h in &net.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("header {h:?}: expected `Name: value`"))?;
        let k = k.trim();
        if !is_token(k) {
            return Err(format!("header {h:?}: bad header name"));
        }
        let v = v.trim();
        if v.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(format!("header {h:?}: control characters in the value"));
        }
        headers.push((k.to_owned(), v.to_owned()));
    }
    let roots = match &net.cacert {
        Some(p) => read_cacert(p)?,
        None => Vec::new(),
    };
    let c = concurrency.max(1);
    let mut client = ClientConfig {
        connect_timeout: net.connect_timeout.0,
        max_idle_per_host: c,
        max_idle_total: c.max(1024),
        roots,
        insecure: net.insecure,
        ..ClientConfig::default()
    };
    if !net.resolve.is_empty() {
        client.resolver = pinned_resolver(&net.resolve);
    }
    if let Some(p) = proxy {
        let env = Proxies::from_env(|name| std::env::var(name).ok())
            .map_err(|e| format!("proxy from the environment: {e}"))?;
        client.proxies = env
            .with_overrides(p.proxy.as_deref(), p.noproxy.as_deref())
            .map_err(|e| format!("--proxy: {e}"))?;
    }
    if let Some(problem) = greenfetch::client::Client::new(client.clone()).tls_problem() {
        return Err(format!("--cacert: {problem}"));
    }
    if net.insecure && !INSECURE_WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "greenfetch: warning: --insecure: server certificates are not checked, so anyone \
             on the path can pretend to be the server"
        );
    }
    let credentials = match &net.user {
        Some(u) => {
            let (user, pass) = u
                .split_once(':')
                .ok_or_else(|| format!("--user {u:?}: expected USER:PASSWORD"))?;
            Some((user.to_owned(), pass.to_owned()))
        }
        None => None,
    };
    let mut cfg = FetchConfig {
        client,
        timeout: net.timeout.0,
        max_redirects: if net.no_follow { 0 } else { net.max_redirects },
        retries: net.retries.unwrap_or(DEFAULT_RETRIES),
        max_body: net.max_body.map_or(DEFAULT_MAX_BODY, |m| m.0),
        headers,
        credentials,
        location_trusted: net.location_trusted,
        per_host: net.per_host,
        per_host_rate: net.per_host_rate.map(|r| r.0),
        rate,
        ..FetchConfig::default()
    };
    if let Some(ua) = &net.user_agent {
        cfg.user_agent = ua.clone();
    }
    if net.robots {
        cfg.robots = Some(Arc::new(greenfetch::fetch::robots::Robots::new(
            &cfg.user_agent,
        )));
    }
    if let Some((r, json)) = request {
        apply_request(&mut cfg, r, json)?;
    }
    Ok(cfg)
}

/// Printed once a process: `--insecure` is on.
static INSECURE_WARNED: AtomicBool = AtomicBool::new(false);

/// An RFC 9110 token (a method or a header name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `-X`, `-I`, `-d`, `--data-binary`, `--json` and `--raw` into the fetch settings.
fn apply_request(
    cfg: &mut FetchConfig,
    r: &RequestArgs,
    json_args: &[String],
) -> Result<(), String> {
    if let Some(m) = &r.method {
        if !is_token(m) {
            return Err(format!("--request {m:?}: not a method name"));
        }
        cfg.method = Some(m.clone());
    }
    let read = |arg: &str, what: &str| -> Result<Vec<u8>, String> {
        match arg.strip_prefix('@') {
            Some("-") => Err(format!(
                "{what} @-: stdin holds the URLs; put the data in a file"
            )),
            Some(path) => std::fs::read(path).map_err(|e| format!("{what} @{path}: {e}")),
            None => Ok(arg.as_bytes().to_vec()),
        }
    };
    let mut form: Vec<Vec<u8>> = Vec::new();
    for d in &r.data {
        let mut bytes = read(d, "--data")?;
        if d.starts_with('@') {
            bytes.retain(|b| *b != b'\r' && *b != b'\n');
        }
        form.push(bytes);
    }
    for d in &r.data_binary {
        form.push(read(d, "--data-binary")?);
    }
    let mut json: Vec<u8> = Vec::new();
    for d in json_args {
        json.extend(read(d, "--json")?);
    }
    if !form.is_empty() && !json_args.is_empty() {
        return Err("--json and --data: give one kind of body".into());
    }
    if r.head && (!form.is_empty() || !json_args.is_empty()) {
        return Err("--head sends no body: drop --data/--json".into());
    }
    if !form.is_empty() {
        cfg.body = Some(form.join(&b'&').into());
        cfg.content_type = Some("application/x-www-form-urlencoded".into());
    } else if !json_args.is_empty() {
        cfg.body = Some(json.into());
        cfg.content_type = Some("application/json".into());
        cfg.accept = Some("application/json".into());
    }
    cfg.head_only = r.head;
    cfg.decode = !r.raw;
    Ok(())
}

/// A resolver that answers the `--resolve` names itself and asks the system for the rest.
fn pinned_resolver(pins: &[args::ResolveArg]) -> GreenResolver {
    let pins: Vec<args::ResolveArg> = pins.to_vec();
    GreenResolver::with_lookup(move |host: &str, port: u16| {
        if let Some(p) = pin_for(&pins, host, port) {
            if p.addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host}: no such host (--resolve)"),
                ));
            }
            return Ok(p
                .addrs
                .iter()
                .map(|ip| std::net::SocketAddr::new(*ip, port))
                .collect());
        }
        use std::net::ToSocketAddrs;
        (host, port).to_socket_addrs().map(|a| a.collect())
    })
}

/// The `--resolve` pin for `host:port`: an exact one, else a wildcard one (`*:PORT:ADDR`,
/// curl's form: every name on that port).
fn pin_for<'a>(
    pins: &'a [args::ResolveArg],
    host: &str,
    port: u16,
) -> Option<&'a args::ResolveArg> {
    pins.iter()
        .find(|p| p.port == port && p.host.eq_ignore_ascii_case(host))
        .or_else(|| pins.iter().find(|p| p.port == port && p.host == "*"))
}

/// The run's cookie engine from `-b` and `--cookie-jar`: `None` when neither is given. A
/// cookie file that cannot be read, or has a line that is not a cookie, is an error naming the
/// file (and the line): nothing has been fetched yet.
pub(crate) fn cookie_engine(a: &CookieArgs) -> Result<Option<Arc<Cookies>>, String> {
    if a.cookie.is_empty() && a.cookie_jar.is_none() {
        return Ok(None);
    }
    let mut jar = Cookies::new();
    let mut files = Vec::new();
    for arg in &a.cookie {
        if arg.contains('=') {
            jar.add_pairs(arg).map_err(|e| format!("-b: {e}"))?;
        } else if arg == "-" {
            return Err("-b -: stdin holds the URLs; put the cookies in a file".to_owned());
        } else if !arg.is_empty() {
            files.push(std::path::PathBuf::from(arg));
        }
    }
    if let Some(out) = &a.cookie_jar {
        if out.as_os_str().is_empty() || out.is_dir() {
            return Err(format!("--cookie-jar {:?}: not a file name", out.display()));
        }
        let dir = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        if !dir.is_dir() {
            return Err(format!(
                "--cookie-jar {}: no directory {} to write it in",
                out.display(),
                dir.display()
            ));
        }
    }
    for path in files {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // `-b jar --cookie-jar jar`: the first run has no jar yet.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && a.cookie_jar.as_deref() == Some(path.as_path()) =>
            {
                continue;
            }
            Err(e) => return Err(format!("-b {}: {e}", path.display())),
        };
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            format!("-b {}: line {line}: not UTF-8 text", path.display())
        })?;
        jar.load(text)
            .map_err(|e| format!("-b {}: {e}", path.display()))?;
    }
    Ok(Some(Arc::new(jar)))
}

/// Writes the cookie jar at the end of a run, if `--cookie-jar` asked for one; says why not
/// on stderr and returns false when it cannot.
pub(crate) fn save_jar(a: &CookieArgs, jar: Option<&Cookies>) -> bool {
    match (&a.cookie_jar, jar) {
        (Some(path), Some(jar)) => match jar.save(path) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("greenfetch: --cookie-jar {}: {e}", path.display());
                false
            }
        },
        _ => true,
    }
}

/// Configures the hub: `--workers`, else one worker thread per CPU plus one.
///
/// The extra worker: a worker's green threads wait while the OS runs something else on its core
/// (the input and output threads, a fixture server on the same machine), and may's work
/// stealing is slower to move them than one more runnable worker is. Measured on the 2-core
/// machine against the shared harness's fixture server, 5–10 runs each, same sitting: 20,000
/// small fetches at c=64 took 2.68–2.79 s per 5 runs on 2 workers, 2.38–2.54 on 3 (tokio
/// 2.36–2.44); 2,000 feed titles at c=100, 2.59–2.61 s per 10 runs on 2 workers, 2.31–2.38 on
/// 3 (tokio 2.27–2.35).
pub(crate) fn configure_hub(workers: Option<usize>) {
    let w =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() + 1));
    let _ = hub::configure(hub::Settings::default().workers(w));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_pin_wins_over_a_wildcard_and_a_wildcard_is_per_port() {
        let pins: Vec<args::ResolveArg> = ["*:80:127.0.0.2", "a.test:80:127.0.0.3", "*:81:"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        let addrs = |host: &str, port: u16| pin_for(&pins, host, port).map(|p| p.addrs.clone());
        assert_eq!(
            addrs("a.test", 80),
            Some(vec!["127.0.0.3".parse().unwrap()])
        );
        assert_eq!(
            addrs("A.Test", 80),
            Some(vec!["127.0.0.3".parse().unwrap()])
        );
        assert_eq!(
            addrs("h1.test", 80),
            Some(vec!["127.0.0.2".parse().unwrap()])
        );
        assert_eq!(
            addrs("a.test", 81),
            Some(vec![]),
            "the wildcard for 81: no address"
        );
        assert_eq!(
            addrs("a.test", 82),
            None,
            "no pin for 82: the system is asked"
        );
    }
}
