//! The command line, as clap sees it (doc comments are the help), and its resolution into the
//! plain settings the commands run with.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Fetch URLs concurrently on green threads, and print what came back in input order.
///
/// Reads one URL a line from FILEs or stdin (blank lines and # comments skipped), fetches them
/// through a pool of green threads, and writes the results to stdout in input order. Every input
/// line gets exactly one outcome; errors go to stderr (or into the jsonl records).
///
/// Exit status: 0 all succeeded, 1 some input failed, 2 usage error, 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "greenfetch", version, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Fetch URLs; write their bodies (or records) to stdout in input order.
    Fetch(Box<FetchArgs>),
    /// One feed title per input URL, in input order (HTML pages: their advertised feed's title).
    Titles(Box<TitlesArgs>),
    /// Merge jsonl outputs (shards, or a run and its resumed part) back into input order by
    /// their `index`, streaming; duplicates dropped.
    Merge(MergeArgs),
    /// Run the dispatch service: POST /titles with URLs, one a line, answers their titles in
    /// order; prints the address it bound. Refuses private targets unless --allow-private.
    Serve(Box<ServeArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `greenfetch man | man -l -`.
    Man,
    /// Run the fixture server (deterministic endpoints to test and benchmark against); prints
    /// the address it bound.
    Fixture(FixtureArgs),
    /// Benchmark fetching: sweep the pool size against the embedded fixture server (or
    /// --target), and report throughput, latency percentiles, errors and memory per level.
    ///
    /// Every level runs fetch's machinery: a green pool of the level's size, whose green
    /// threads take the requests in order, and a fetcher built from the same network options
    /// as `fetch`. Each level gets a fresh
    /// fetcher and so fresh connections: levels are independent, and connection set-up counts
    /// in every level. The embedded server runs in the same process, on the same workers.
    ///
    /// Latency percentiles (HDR histogram, 3 significant digits) count successful requests;
    /// errors are counted by kind. "peak RSS so far" is the process's high-water mark (VmHWM):
    /// it includes the embedded server and every earlier level. For /delay workloads,
    /// efficiency is the ideal time, ceil(N/c) x delay, over the actual time.
    ///
    /// Exit status: 0 no request failed, 1 some did, 2 usage error, 130 interrupted (the
    /// finished levels are still reported).
    Bench(Box<BenchArgs>),
}

/// `greenfetch bench`: its options (the command's help is on `Command::Bench`).
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("workload").args(["delay", "size", "feeds", "path"])))]
pub(crate) struct BenchArgs {
    /// Base URL of a server with the fixture server's endpoints (such as the address
    /// `greenfetch fixture` prints) to benchmark instead of the embedded one.
    #[arg(long, value_name = "URL")]
    pub(crate) target: Option<String>,

    /// Pool sizes to sweep, comma-separated; each level starts with fresh connections.
    #[arg(
        short = 'c',
        long,
        value_delimiter = ',',
        default_value = "1,10,100,1000",
        value_name = "N,N,..."
    )]
    pub(crate) concurrency: Vec<usize>,

    /// Requests per level [default: 20 per pool slot, at least 500].
    #[arg(short = 'n', long, value_name = "N")]
    pub(crate) requests: Option<u64>,

    /// Workload `/delay/{ms}/{i}`: the server answers after DURATION (whole milliseconds)
    /// [the default workload, with 10ms].
    #[arg(long, value_name = "DURATION")]
    pub(crate) delay: Option<DurationArg>,

    /// Workload `/bytes/SIZE`: bodies of SIZE bytes.
    #[arg(long, value_name = "SIZE")]
    pub(crate) size: Option<SizeArg>,

    /// Workload `/feed/{rss|atom|json}/{i}` in turn, each fetched and parsed for its title.
    #[arg(long)]
    pub(crate) feeds: bool,

    /// Workload: this path for every request, with `{i}` replaced by the request's number
    /// (e.g. `/status/503`, `/redirect/2`).
    #[arg(long, value_name = "PATH")]
    pub(crate) path: Option<String>,

    /// Open loop: request i is due at start + i/N s, and its latency counts from then
    /// (corrected for coordinated omission, like wrk2); the pool size still caps requests in
    /// flight. Without it, closed loop: a slot sends its next request when its last one ends.
    #[arg(long, value_name = "N/s")]
    pub(crate) rate: Option<Rate>,

    /// Write settings and per-level results as JSON to FILE (`-`: stdout; the table then goes
    /// to stderr).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,

    /// Draw requests/s and p99 latency against concurrency as an SVG chart.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) net: NetArgs,

    #[command(flatten)]
    pub(crate) proxy: ProxyArgs,

    #[command(flatten)]
    pub(crate) request: RequestArgs,

    #[command(flatten)]
    pub(crate) cookies: CookieArgs,

    /// No progress bar.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

/// `greenfetch merge`.
#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// jsonl files, each in index order (`-`: stdin).
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// `greenfetch serve`.
///
/// POST /titles with URLs one a line (blank lines and # comments skipped) answers one title a
/// line in input order (an empty line for a failure), or a JSON array with `Accept:
/// application/json`. GET /healthz; GET /metrics (Prometheus). One pool of -c fetches is
/// shared by all requests.
///
/// It fetches what strangers send: it listens on loopback unless told otherwise, and refuses
/// loopback, private, link-local and other non-public targets (after DNS, on every redirect)
/// unless --allow-private or --allow-addr. It answers only requests whose Host is an IP
/// address or localhost (421 otherwise, against DNS rebinding) unless --allow-host or
/// --allow-any-host.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. A non-loopback address is served with
    /// a warning.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub(crate) listen: String,

    /// Fetch private, loopback and link-local targets too (only for a trusted network).
    #[arg(long)]
    pub(crate) allow_private: bool,

    /// Allow this one address even though it is private: `IP:PORT`, or `IP` for every port
    /// (repeatable).
    #[arg(long = "allow-addr", value_name = "IP[:PORT]")]
    pub(crate) allow_addr: Vec<AllowAddr>,

    /// Also answer requests with this name in their Host header, on any port (repeatable).
    /// Without it only IP addresses and localhost are answered, and other names get 421, so
    /// that a web page cannot reach the server by DNS rebinding; add the names clients (a
    /// proxy, a health check) use to reach it.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub(crate) allow_host: Vec<AllowHost>,

    /// Answer requests whatever their Host: no DNS-rebinding guard (only behind a reverse
    /// proxy that checks Host itself).
    #[arg(long)]
    pub(crate) allow_any_host: bool,

    /// Let pages of this web origin (`https://feeds.example.org`) POST /titles through their
    /// visitors' browsers (repeatable; `*`: any). Without it a browser's post from another
    /// site's page gets 403; clients that are not browsers send no Origin and always may.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub(crate) allow_origin: Vec<String>,

    /// Most URLs in one request (413 beyond).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub(crate) max_urls: usize,

    /// Largest request body (413 beyond).
    #[arg(long, default_value = "64KiB", value_name = "SIZE")]
    pub(crate) max_request_body: SizeArg,

    /// A request's deadline: URLs not done by then answer `timeout` (the per-fetch --timeout
    /// applies too).
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub(crate) request_timeout: DurationArg,

    /// A request's head and body must arrive within this (408 beyond), and its answer be
    /// taken within it.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub(crate) client_timeout: DurationArg,

    /// How long a client connection may sit idle before (or between) requests.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub(crate) idle_timeout: DurationArg,

    /// Client connections at once; beyond, the one idle longest is closed to make room (503
    /// only when every connection is serving a request).
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub(crate) max_connections: usize,

    /// Client connections from one IP address at once (503 beyond).
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub(crate) max_connections_per_client: usize,

    /// For an HTML page answer its <title>; don't fetch the feed it advertises.
    #[arg(long)]
    pub(crate) no_discover: bool,

    #[command(flatten)]
    pub(crate) pool: PoolArgs,

    #[command(flatten)]
    pub(crate) net: NetArgs,

    /// Serve a backdoor console on this loopback address (stats, pool, resize N, pause, ...).
    #[arg(long, value_name = "ADDR")]
    pub(crate) backdoor: Option<SocketAddr>,
}

/// `IP:PORT` or `IP` (every port) for `--allow-addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllowAddr(pub(crate) SocketAddr);

impl FromStr for AllowAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(sa) = t.parse::<SocketAddr>() {
            return Ok(AllowAddr(sa));
        }
        let ip = t.trim_start_matches('[').trim_end_matches(']');
        ip.parse::<std::net::IpAddr>()
            .map(|ip| AllowAddr(SocketAddr::new(ip, 0)))
            .map_err(|_| format!("{s:?}: expected IP:PORT or IP, e.g. 10.0.0.5:8080"))
    }
}

/// A host name for `--allow-host` (checked as the service will match it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AllowHost(pub(crate) String);

impl FromStr for AllowHost {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        greenfetch::server::http::HostCheck::local().allow(s)?;
        Ok(AllowHost(s.to_owned()))
    }
}

/// `greenfetch fixture`.
#[derive(Debug, Args)]
pub(crate) struct FixtureArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub(crate) listen: String,

    /// Worker threads (default: one per CPU, plus one).
    #[arg(long, value_name = "N")]
    pub(crate) workers: Option<usize>,
}

/// Output formats of `fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The bodies, concatenated in input order (like curl); errors on stderr.
    Raw,
    /// One JSON object per input: index, url, final_url, status, bytes, timings, attempts, error.
    Jsonl,
    /// One short line per input: index, status (or ERR kind), bytes, time, url.
    Summary,
}

/// Where the URLs come from.
#[derive(Debug, Args)]
pub(crate) struct InputArgs {
    /// Files of URLs, one a line; `-` or none: stdin (streamed: work starts before EOF).
    #[arg(value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,

    /// A URL to fetch (repeatable); read before the FILEs.
    #[arg(short = 'u', long = "url", value_name = "URL")]
    pub(crate) urls: Vec<String>,

    /// Keep only the lines whose host hashes to shard K of N (a stable hash: all of a host's
    /// lines go to one shard, on every machine).
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<Shard>,
}

/// How fetching behaves: the transport and politeness settings `fetch` and `bench` share.
/// (Concurrency and `--rate` are each command's own: `bench` sweeps the one and schedules by
/// the other.)
#[derive(Debug, Args)]
pub(crate) struct NetArgs {
    /// At most N requests in flight per host.
    #[arg(long, value_name = "N")]
    pub(crate) per_host: Option<usize>,

    /// Limit for a whole request, body included (`0` for none), e.g. `30s`, `500ms`.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub(crate) timeout: DurationArg,

    /// Limit for connecting (TCP and TLS).
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub(crate) connect_timeout: DurationArg,

    /// Redirects followed before giving up.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub(crate) max_redirects: u32,

    /// Don't follow redirects: a 3xx is the answer.
    #[arg(long)]
    pub(crate) no_follow: bool,

    /// Retries of a transient failure (connect, timeout, reset, 429/502/503/504), with
    /// exponential backoff and jitter, honouring Retry-After.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub(crate) retries: u32,

    /// Largest body accepted (after decompression), e.g. `10MiB` [default: 256MiB; for
    /// serve: 16MiB].
    #[arg(long, value_name = "SIZE")]
    pub(crate) max_body: Option<SizeArg>,

    /// An extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub(crate) headers: Vec<String>,

    /// The User-Agent header.
    #[arg(short = 'A', long, value_name = "STRING")]
    pub(crate) user_agent: Option<String>,

    /// Trust this CA certificate (PEM or DER) for https, instead of the web's roots.
    #[arg(long, value_name = "FILE")]
    pub(crate) cacert: Option<PathBuf>,

    /// Resolve HOST:PORT to ADDR without asking DNS, like curl's --resolve (repeatable;
    /// ADDR may be a comma list; an empty ADDR makes HOST fail to resolve; HOST `*` is every
    /// name on that PORT not pinned otherwise).
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub(crate) resolve: Vec<ResolveArg>,

    /// Worker threads running green threads (default: one per CPU, plus one).
    #[arg(long, value_name = "N")]
    pub(crate) workers: Option<usize>,

    /// Don't check server certificates (the connection is encrypted, but anyone can pretend
    /// to be the server); a warning is printed once.
    #[arg(short = 'k', long)]
    pub(crate) insecure: bool,

    /// Basic credentials for the URLs' own hosts: `USER:PASSWORD` (dropped on a redirect to
    /// another scheme, host or port unless --location-trusted). (`-u` is --url.)
    #[arg(long, value_name = "USER:PASSWORD")]
    pub(crate) user: Option<String>,

    /// On redirects, send credentials (--user, the URL's, -H Authorization and Cookie) to
    /// other hosts too.
    #[arg(long)]
    pub(crate) location_trusted: bool,

    /// Requests to one host start at least 1/N s apart (the first at once), e.g. `2` or `2/s`.
    #[arg(long, value_name = "N/s")]
    pub(crate) per_host_rate: Option<Rate>,

    /// Obey robots.txt (RFC 9309; fetched once per origin, for the User-Agent's first word):
    /// a URL it disallows is not fetched and fails as `robots`.
    #[arg(long)]
    pub(crate) robots: bool,
}

/// Proxies (`fetch`, `titles`, `bench`; `serve` never uses one). Without these, curl's
/// variables are read: `http_proxy` (lower case only), `https_proxy`/`HTTPS_PROXY`,
/// `all_proxy`/`ALL_PROXY`, `no_proxy`/`NO_PROXY`.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// Send every request through this proxy: `[http://|socks5://|socks5h://][USER:PASS@]HOST[:PORT]`
    /// (port 1080 by default); `''` turns proxies off, the environment's too.
    #[arg(short = 'x', long, value_name = "URL")]
    pub(crate) proxy: Option<String>,

    /// Hosts reached without the proxy: names (with their subdomains), IP addresses, CIDR
    /// ranges, or `*`, comma-separated (replaces NO_PROXY).
    #[arg(long, value_name = "LIST")]
    pub(crate) noproxy: Option<String>,
}

/// Cookies (`fetch`, `titles`, `bench`; `serve` fetches strangers' URLs and keeps none): off
/// unless one of these is given, and then one RFC 6265 cookie engine serves the whole run,
/// redirects included, so a login chain works.
#[derive(Debug, Args)]
pub(crate) struct CookieArgs {
    /// Cookies, curl's way: `'NAME=VALUE; ...'` (with a `=`) is sent on every request of the
    /// run, to every host; anything else is a FILE of cookies to start with (Netscape format,
    /// as curl writes it, or `Set-Cookie:` lines); `''` starts with none. Any -b turns the
    /// cookie engine on: cookies the servers set are kept and sent back (RFC 6265). Repeatable.
    #[arg(short = 'b', long = "cookie", value_name = "DATA|FILE")]
    pub(crate) cookie: Vec<String>,

    /// Turn the cookie engine on, and when the run ends write every cookie it kept, session
    /// cookies too, to FILE in the Netscape format that curl -b and greenfetch -b read (`-c`
    /// is --concurrency). A -b FILE that names this file may not exist yet.
    #[arg(long = "cookie-jar", value_name = "FILE")]
    pub(crate) cookie_jar: Option<PathBuf>,
}

/// What each request sends (`fetch`, `bench`), the same for every URL of the run.
#[derive(Debug, Args)]
pub(crate) struct RequestArgs {
    /// The request method (default GET; POST with a body; HEAD with -I).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub(crate) method: Option<String>,

    /// Ask for the head only (a HEAD request): the output is each answer's status line and
    /// headers, as received.
    #[arg(short = 'I', long)]
    pub(crate) head: bool,

    /// POST DATA (`@FILE`: the file, CR and LF removed), as
    /// application/x-www-form-urlencoded; several are joined with `&` (curl's -d).
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub(crate) data: Vec<String>,

    /// POST DATA as it is (`@FILE`: the file's bytes, unchanged).
    #[arg(long, value_name = "DATA")]
    pub(crate) data_binary: Vec<String>,

    /// Don't decode content codings: write the bytes as sent (and send no Accept-Encoding).
    #[arg(long)]
    pub(crate) raw: bool,
}

/// `greenfetch fetch`.
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,

    #[command(flatten)]
    pub(crate) pool: PoolArgs,

    #[command(flatten)]
    pub(crate) net: NetArgs,

    #[command(flatten)]
    pub(crate) proxy: ProxyArgs,

    #[command(flatten)]
    pub(crate) request: RequestArgs,

    #[command(flatten)]
    pub(crate) cookies: CookieArgs,

    /// POST JSON (`@FILE`: the file; several are concatenated): sets Content-Type and Accept
    /// to application/json.
    #[arg(long = "json", value_name = "DATA")]
    pub(crate) json: Vec<String>,

    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Raw)]
    pub(crate) format: Format,

    /// Write each body to a file in DIR (named by index and URL) instead of stdout.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub(crate) output_dir: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// How many requests a run of `fetch`, `titles` or `serve` has going at once.
#[derive(Debug, Args)]
pub(crate) struct PoolArgs {
    /// Requests in flight at once (the green pool's size).
    #[arg(short = 'c', long, default_value_t = 50, value_name = "N")]
    pub(crate) concurrency: usize,

    /// At most N requests started per second (evenly spaced), e.g. `20` or `20/s`.
    #[arg(long, value_name = "N/s")]
    pub(crate) rate: Option<Rate>,
}

/// How a run of `fetch` or `titles` reports and can be steered.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Write results as they complete instead of in input order.
    #[arg(long)]
    pub(crate) unordered: bool,

    /// No progress bar.
    #[arg(short, long)]
    pub(crate) quiet: bool,

    /// Serve a backdoor console on this loopback address (stats, pool, resize N, pause, ...).
    #[arg(long, value_name = "ADDR")]
    pub(crate) backdoor: Option<SocketAddr>,

    /// Record each input's index and outcome in FILE once its output is flushed, so a killed
    /// run can be resumed. An existing journal with entries needs --resume.
    #[arg(long, value_name = "FILE")]
    pub(crate) journal: Option<PathBuf>,

    /// Skip the inputs the journal says are done (append the new output to the old).
    #[arg(long, requires = "journal")]
    pub(crate) resume: bool,

    /// Sync each output to the disk before its input counts as done (-o DIR's files and their
    /// directory, stdout when it is a file, the journal): outputs then survive the machine
    /// crashing, not only the process dying. Costs a sync per input.
    #[arg(long)]
    pub(crate) fsync: bool,
}

/// Output formats of `titles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TitlesFormat {
    /// One title a line; an empty line for a failure (the error goes to stderr).
    Text,
    /// One JSON object per input: index, url, kind (feed|html), title, feed_url, format,
    /// status, timings, error.
    Jsonl,
}

/// `greenfetch titles`.
#[derive(Debug, Args)]
pub(crate) struct TitlesArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,

    #[command(flatten)]
    pub(crate) pool: PoolArgs,

    #[command(flatten)]
    pub(crate) net: NetArgs,

    #[command(flatten)]
    pub(crate) proxy: ProxyArgs,

    #[command(flatten)]
    pub(crate) cookies: CookieArgs,

    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = TitlesFormat::Text)]
    pub(crate) format: TitlesFormat,

    /// Add the entry (item) titles to each record (implies `--format jsonl`).
    #[arg(long)]
    pub(crate) entries: bool,

    /// For an HTML page print its <title>; don't fetch the feed it advertises.
    #[arg(long)]
    pub(crate) no_discover: bool,

    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `HOST:PORT:ADDR[,ADDR...]` for `--resolve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolveArg {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) addrs: Vec<std::net::IpAddr>,
}

impl FromStr for ResolveArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected HOST:PORT:ADDR, e.g. example.test:443:127.0.0.1");
        let (host, rest) = s.split_once(':').ok_or_else(bad)?;
        let (port, addrs) = rest.split_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let addrs = addrs
            .split(',')
            .filter(|a| !a.is_empty())
            .map(|a| a.trim_start_matches('[').trim_end_matches(']').parse())
            .collect::<Result<Vec<std::net::IpAddr>, _>>()
            .map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(ResolveArg {
            host: host.to_ascii_lowercase(),
            port,
            addrs,
        })
    }
}

/// `K/N` for `--shard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) k: u64,
    pub(crate) n: u64,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected K/N, e.g. 0/4"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("{k:?} is not a number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} is not a number"))?;
        if n == 0 || k >= n {
            return Err(format!("shard {k}/{n}: need 0 <= K < N"));
        }
        Ok(Shard { k, n })
    }
}

/// Requests per second for `--rate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate(pub(crate) f64);

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let num = s.trim().trim_end_matches("/s");
        match num.parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() => Ok(Rate(r)),
            _ => Err(format!(
                "{s:?}: expected a positive rate such as 20 or 20/s"
            )),
        }
    }
}

/// A duration such as `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds; `0` is none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DurationArg(pub(crate) Option<Duration>);

impl FromStr for DurationArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("{s:?}: expected a duration such as 500ms, 10s or 2m"))?;
        let secs = match unit.trim() {
            "" | "s" | "sec" | "secs" => n,
            "ms" => n / 1000.0,
            "m" | "min" => n * 60.0,
            "h" => n * 3600.0,
            u => return Err(format!("{s:?}: unknown unit {u:?} (use ms, s, m or h)")),
        };
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("{s:?}: out of range"));
        }
        Ok(DurationArg(if secs == 0.0 {
            None
        } else {
            Some(Duration::from_secs_f64(secs))
        }))
    }
}

/// A byte size such as `512`, `64KiB`, `10MB`, `1G`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SizeArg(pub(crate) u64);

impl FromStr for SizeArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?}: expected a size such as 512, 64KiB or 10MB"))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            u => return Err(format!("{s:?}: unknown unit {u:?}")),
        };
        n.checked_mul(mult)
            .map(SizeArg)
            .ok_or_else(|| format!("{s:?}: too large"))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_values() {
        assert_eq!("0/4".parse::<Shard>(), Ok(Shard { k: 0, n: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert_eq!(
            "500ms".parse::<DurationArg>(),
            Ok(DurationArg(Some(Duration::from_millis(500))))
        );
        assert_eq!("0".parse::<DurationArg>(), Ok(DurationArg(None)));
        assert_eq!(
            "2m".parse::<DurationArg>().unwrap().0,
            Some(Duration::from_secs(120))
        );
        assert_eq!("64KiB".parse::<SizeArg>(), Ok(SizeArg(65536)));
        assert_eq!("10MB".parse::<SizeArg>(), Ok(SizeArg(10_000_000)));
        assert_eq!("20/s".parse::<Rate>(), Ok(Rate(20.0)));
        assert!("x".parse::<Rate>().is_err());
        let r: ResolveArg = "a.test:80:127.0.0.1,::1".parse().unwrap();
        assert_eq!((r.port, r.addrs.len()), (80, 2));
        assert!("a.test:80:".parse::<ResolveArg>().unwrap().addrs.is_empty());
        assert_eq!(
            "10.0.0.5".parse::<AllowAddr>().unwrap().0,
            "10.0.0.5:0".parse().unwrap()
        );
        assert_eq!("[::1]:80".parse::<AllowAddr>().unwrap().0.port(), 80);
        assert!("nope".parse::<AllowAddr>().is_err());
        assert_eq!(
            "Feeds.Example.org".parse::<AllowHost>().unwrap().0,
            "Feeds.Example.org"
        );
        for bad in ["a.test:8080", "", "*", "a b"] {
            assert!(bad.parse::<AllowHost>().is_err(), "{bad:?}");
        }
    }
}
