//! The command line, as clap sees it (doc comments are the help, `after_long_help` the
//! EXAMPLES of each command), and the value types and parsers its options are read with. Every
//! count, size and duration is checked here, once, as it is parsed: a zero or otherwise
//! nonsensical value is a usage error (exit 2) that names the flag, the same way everywhere.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// The headings `--help` groups options under.
const INPUT: &str = "Input";
const OUTPUT: &str = "Output";
const LIMITS: &str = "Limits";
const REQUEST: &str = "Request";
const TLS: &str = "TLS";
const PROXY: &str = "Proxy";
const BATCH: &str = "Batch";
const RUNTIME: &str = "Runtime";
const SERVICE: &str = "Service";
const WORKLOAD: &str = "Workload";

/// Fetch URLs concurrently on green threads, and print what came back in input order.
///
/// Reads one URL a line from FILEs or stdin (blank lines and # comments skipped), fetches them
/// through a pool of green threads, and writes the results to stdout in input order. Every input
/// line gets exactly one outcome; errors go to stderr (or into the jsonl records).
///
/// Exit status: 0 all succeeded, 1 some input failed, 2 usage error, 3 an output could not be
/// written, 130 interrupted.
#[derive(Debug, Parser)]
#[command(
    name = "greenfetch",
    version,
    max_term_width = 100,
    after_long_help = EXAMPLES_TOP
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

const EXAMPLES_TOP: &str = "\
Examples (each command's --help has more):
  greenfetch fixture --listen 127.0.0.1:8080 &         # a test server to fetch from
  seq 1 5 | sed 's|.*|127.0.0.1:8080/delay/100/&|' | greenfetch fetch
  greenfetch titles -u 127.0.0.1:8080/feed/rss/1 -u 127.0.0.1:8080/page/2
  greenfetch bench -c 1,10,100 -z 1s                     # against an embedded server
  greenfetch man fetch | man -l -";

const EXAMPLES_FETCH: &str = "\
Examples (against a fixture server: greenfetch fixture --listen 127.0.0.1:8080 &):

  # bodies in input order; a URL without a scheme is fetched as http://, like curl
  seq 1 3 | sed 's|.*|127.0.0.1:8080/delay/100/&|' | greenfetch fetch

  # one line per URL with curl's -w variables (status 000: no answer)
  greenfetch fetch -f none -w '%{http_code} %{size_download} %{time_total}s %{url_effective}\\n' \\
    -u 127.0.0.1:8080/bytes/10 -u 127.0.0.1:8080/status/404 -u 127.0.0.1:9/

  # a JSON record per URL, 200 requests in flight
  seq 0 999 | sed 's|.*|http://127.0.0.1:8080/delay/10/&|' \\
    | greenfetch fetch -c 200 -f jsonl | tail -1

  # the heads of every request and answer on stderr, as curl -v shows them
  greenfetch fetch -v -f none -u http://127.0.0.1:8080/redirect/1

  # a batch that can be killed at any moment and resumed
  seq 0 99 | sed 's|.*|http://127.0.0.1:8080/bytes/&|' > urls.txt
  greenfetch fetch -f jsonl --journal job.journal urls.txt > out.jsonl
  greenfetch fetch -f jsonl --journal job.journal --resume urls.txt >> out.jsonl";

const EXAMPLES_TITLES: &str = "\
Examples (against a fixture server: greenfetch fixture --listen 127.0.0.1:8080 &):

  # a title per input line (an empty line for a comment or a failure), so paste lines up
  printf '%s\\n' 127.0.0.1:8080/feed/rss/1 '# a comment' 127.0.0.1:8080/page/2 > feeds.txt
  paste feeds.txt <(greenfetch titles feeds.txt)

  # JSON records with the entries' titles
  greenfetch titles --entries -u http://127.0.0.1:8080/feed/atom/7";

const EXAMPLES_SERVE: &str = "\
Examples (against a fixture server: greenfetch fixture --listen 127.0.0.1:8080 &):

  # the fixture is on loopback, which serve refuses to fetch unless allowed
  greenfetch serve --listen 127.0.0.1:8081 --allow-addr 127.0.0.1:8080 &
  printf '%s\\n' http://127.0.0.1:8080/feed/rss/1 http://127.0.0.1:8080/page/2 \\
    | curl --data-binary @- http://127.0.0.1:8081/titles
  kill $!     # a graceful stop: requests in flight are answered first, then exit 0";

const EXAMPLES_MERGE: &str = "\
Examples (against a fixture server: greenfetch fixture --listen 127.0.0.1:8080 &):

  seq 0 99 | sed 's|.*|http://127.0.0.1:8080/bytes/&|' > urls.txt
  for k in 0 1 2; do greenfetch fetch -q -f jsonl --shard $k/3 urls.txt > out.$k.jsonl; done
  greenfetch merge out.*.jsonl > all.jsonl";

const EXAMPLES_BENCH: &str = "\
Examples:

  greenfetch bench                                    # 1, 10, 100, 1000 against an embedded server
  greenfetch bench -c 10,100 -z 2s --delay 50ms       # two seconds a level
  greenfetch bench -c 1,10 --json before.json         # keep a run...
  greenfetch bench -c 1,10 --baseline before.json     # ...and compare the next one with it
  greenfetch bench -c 64 --size 1KiB --plot bench.svg --target http://127.0.0.1:8080";

const EXAMPLES_FIXTURE: &str = "\
Endpoints:
  /bytes/{N}                        N bytes of a repeating pattern
  /delay/{ms}/{tag}                 `{tag}` after ms milliseconds
  /status/{code}[?retry-after=N]    that status
  /feed/{rss|atom|json}/{id}        a feed titled `Feed {id}` with three entries
  /page/{id}[?feed=rss|atom|json|header|broken|none]
                                    an HTML page advertising a feed
  /redirect/{N}                     N redirects, then 200
  /slow/{bytes}/{ms}                a body dripped over ms milliseconds
  /fault/{reset,truncate,lie,loop,hang,endless,headers,chunked}
                                    a broken answer of that kind
  /fault/{gzip,deflate,br,zstd}/{N} a small body that decodes to N zero bytes
  /stats                            hits and connections so far (JSON)

Examples:
  greenfetch fixture --listen 127.0.0.1:8080 &
  curl http://127.0.0.1:8080/feed/rss/1
  greenfetch fixture --listen 127.0.0.1:0 | head -1      # the URL of a free port";

const EXAMPLES_COMPLETIONS: &str = "\
Examples:
  greenfetch completions bash > ~/.local/share/bash-completion/completions/greenfetch
  greenfetch completions zsh > \"${fpath[1]}/_greenfetch\"";

const EXAMPLES_MAN: &str = "\
Examples:
  greenfetch man | man -l -              # this overview
  greenfetch man fetch | man -l -        # one command, every option
  greenfetch man --dir man1              # every page, greenfetch.1 and greenfetch-fetch.1 ...";

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Fetch URLs; write their bodies (or records) to stdout in input order.
    #[command(after_long_help = EXAMPLES_FETCH)]
    Fetch(Box<FetchArgs>),
    /// One feed title per input line, in input order (HTML pages: their advertised feed's title).
    #[command(after_long_help = EXAMPLES_TITLES)]
    Titles(Box<TitlesArgs>),
    /// Merge jsonl outputs (shards, or a run and its resumed part) back into input order by
    /// their `index`, streaming; duplicates dropped.
    #[command(after_long_help = EXAMPLES_MERGE)]
    Merge(MergeArgs),
    /// Run the dispatch service: POST /titles with URLs, one a line, answers their titles in
    /// order; prints the URL it listens on. Refuses private targets unless --allow-private.
    #[command(after_long_help = EXAMPLES_SERVE)]
    Serve(Box<ServeArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(after_long_help = EXAMPLES_COMPLETIONS)]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff) on stdout, or write every page into a directory.
    #[command(after_long_help = EXAMPLES_MAN)]
    Man(ManArgs),
    /// Run the fixture server (deterministic endpoints to test and benchmark against); prints
    /// the URL it listens on.
    #[command(after_long_help = EXAMPLES_FIXTURE)]
    Fixture(FixtureArgs),
    /// Benchmark fetching: sweep the pool size against the embedded fixture server (or
    /// --target), and report throughput, latency percentiles, errors and memory per level.
    ///
    /// Every level runs fetch's machinery: a green pool of the level's size, whose green
    /// threads take the requests in order, and a fetcher built from the same network options
    /// as `fetch` (but no retries unless --retries: a benchmark counts failures, it does not
    /// hide them). Each level gets a fresh
    /// fetcher and so fresh connections: levels are independent, and connection set-up counts
    /// in every level. The embedded server runs in the same process, on the same workers.
    ///
    /// Each level's row is printed as it finishes; on a terminal, the running level is shown
    /// live (requests/s, p50 and p99 so far, errors). Throughput (ok/s, MB/s) and latency
    /// percentiles (HDR histogram, 3 significant digits) count successful requests; errors
    /// have their own column, and are listed by kind under the table. "RSS MiB" is the
    /// process's peak resident memory so far (VmHWM): it includes the embedded server and every
    /// earlier level. For /delay workloads, efficiency is the ideal time for the successful
    /// requests, ceil(ok/c) x delay, over the actual time.
    ///
    /// Exit status: 0 no request failed, 1 some did, 2 usage error, 130 interrupted (the
    /// finished levels are still reported).
    #[command(after_long_help = EXAMPLES_BENCH)]
    Bench(Box<BenchArgs>),
}

/// `greenfetch man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// The command whose page to print (`fetch`, `titles`, ...); none: the overview page.
    #[arg(value_name = "COMMAND")]
    pub(crate) command: Option<String>,

    /// Write every page (greenfetch.1, greenfetch-fetch.1, ...) into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub(crate) dir: Option<PathBuf>,
}

/// `greenfetch bench`: its options (the command's help is on `Command::Bench`).
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("workload").args(["delay", "size", "feeds", "path"])))]
pub(crate) struct BenchArgs {
    /// Base URL of a server with the fixture server's endpoints (such as the address
    /// `greenfetch fixture` prints) to benchmark instead of the embedded one.
    #[arg(long, value_name = "URL", help_heading = WORKLOAD)]
    pub(crate) target: Option<String>,

    /// Pool sizes to sweep, comma-separated; each level starts with fresh connections.
    #[arg(
        short = 'c',
        long,
        value_delimiter = ',',
        default_value = "1,10,100,1000",
        value_name = "N,N,...",
        value_parser = at_least_one::<usize>,
        help_heading = WORKLOAD
    )]
    pub(crate) concurrency: Vec<usize>,

    /// Requests per level [default: 20 per pool slot, at least 500].
    #[arg(short = 'n', long, value_name = "N", value_parser = at_least_one::<u64>,
          conflicts_with = "duration", help_heading = WORKLOAD)]
    pub(crate) requests: Option<u64>,

    /// Run each level for DURATION (e.g. `10s`) instead of a number of requests; requests
    /// still in flight at the end are waited for and counted.
    #[arg(short = 'z', long, value_name = "DURATION", value_parser = positive_duration,
          help_heading = WORKLOAD)]
    pub(crate) duration: Option<Duration>,

    /// Workload `/delay/{ms}/{i}`: the server answers after DURATION (whole milliseconds)
    /// [the default workload, with 10ms].
    #[arg(long, value_name = "DURATION", help_heading = WORKLOAD)]
    pub(crate) delay: Option<DurationArg>,

    /// Workload `/bytes/SIZE`: bodies of SIZE bytes.
    #[arg(long, value_name = "SIZE", help_heading = WORKLOAD)]
    pub(crate) size: Option<SizeArg>,

    /// Workload `/feed/{rss|atom|json}/{i}` in turn, each fetched and parsed for its title.
    #[arg(long, help_heading = WORKLOAD)]
    pub(crate) feeds: bool,

    /// Workload: this path for every request, with `{i}` replaced by the request's number
    /// (e.g. `/status/503`, `/redirect/2`).
    #[arg(long, value_name = "PATH", help_heading = WORKLOAD)]
    pub(crate) path: Option<String>,

    /// Open loop: request i is due at start + i/N s, and its latency counts from then
    /// (corrected for coordinated omission, like wrk2); the pool size still caps requests in
    /// flight. Without it, closed loop: a slot sends its next request when its last one ends.
    #[arg(long, value_name = "N/s", help_heading = WORKLOAD)]
    pub(crate) rate: Option<Rate>,

    /// Write settings and per-level results as JSON to FILE (`-`: stdout; the table then goes
    /// to stderr).
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub(crate) json: Option<PathBuf>,

    /// Compare with an earlier run's --json FILE: under each level's row, the change of every
    /// figure against the same concurrency in FILE.
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub(crate) baseline: Option<PathBuf>,

    /// Draw throughput (log scale, with the ideal for /delay workloads) and p50/p99 latency
    /// against concurrency as an SVG chart.
    #[arg(long, value_name = "FILE.svg", help_heading = OUTPUT)]
    pub(crate) plot: Option<PathBuf>,

    /// No progress display.
    #[arg(short, long, help_heading = OUTPUT)]
    pub(crate) quiet: bool,

    #[command(flatten)]
    pub(crate) net: NetArgs,

    #[command(flatten)]
    pub(crate) proxy: ProxyArgs,

    #[command(flatten)]
    pub(crate) request: RequestArgs,

    #[command(flatten)]
    pub(crate) cookies: CookieArgs,

    #[command(flatten)]
    pub(crate) runtime: WorkerArgs,
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
/// shared by all requests. The first line on stdout is the URL it listens on.
///
/// It fetches what strangers send: it listens on loopback unless told otherwise, and refuses
/// loopback, private, link-local and other non-public targets (after DNS, on every redirect)
/// unless --allow-private or --allow-addr. It answers only requests whose Host is an IP
/// address or localhost (421 otherwise, against DNS rebinding) unless --allow-host or
/// --allow-any-host.
///
/// SIGTERM or SIGINT stops it gracefully: it stops accepting connections, answers the
/// requests in flight (for at most --drain-timeout; URLs not done by then answer `timeout`),
/// and exits 0.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. A non-loopback address is served with
    /// a warning.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR", help_heading = SERVICE)]
    pub(crate) listen: String,

    /// Fetch private, loopback and link-local targets too (only for a trusted network).
    #[arg(long, help_heading = SERVICE)]
    pub(crate) allow_private: bool,

    /// Allow this one address even though it is private: `IP:PORT`, or `IP` for every port
    /// (repeatable).
    #[arg(long = "allow-addr", value_name = "IP[:PORT]", help_heading = SERVICE)]
    pub(crate) allow_addr: Vec<AllowAddr>,

    /// Also answer requests with this name in their Host header, on any port (repeatable).
    /// Without it only IP addresses and localhost are answered, and other names get 421, so
    /// that a web page cannot reach the server by DNS rebinding; add the names clients (a
    /// proxy, a health check) use to reach it.
    #[arg(long = "allow-host", value_name = "NAME", help_heading = SERVICE)]
    pub(crate) allow_host: Vec<AllowHost>,

    /// Answer requests whatever their Host: no DNS-rebinding guard (only behind a reverse
    /// proxy that checks Host itself).
    #[arg(long, help_heading = SERVICE)]
    pub(crate) allow_any_host: bool,

    /// Let pages of this web origin (`https://feeds.example.org`) POST /titles through their
    /// visitors' browsers (repeatable; `*`: any). Without it a browser's post from another
    /// site's page gets 403; clients that are not browsers send no Origin and always may.
    #[arg(long = "allow-origin", value_name = "ORIGIN", help_heading = SERVICE)]
    pub(crate) allow_origin: Vec<String>,

    /// Most URLs in one request (413 beyond).
    #[arg(long, default_value = "100", value_name = "N", value_parser = at_least_one::<usize>,
          help_heading = SERVICE)]
    pub(crate) max_urls: usize,

    /// Largest request body (413 beyond).
    #[arg(long, default_value = "64KiB", value_name = "SIZE", value_parser = positive_size,
          help_heading = SERVICE)]
    pub(crate) max_request_body: SizeArg,

    /// A request's deadline: URLs not done by then answer `timeout` (the per-fetch --timeout
    /// applies too).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = positive_duration,
          help_heading = SERVICE)]
    pub(crate) request_timeout: Duration,

    /// A request's head and body must arrive within this (408 beyond), and its answer be
    /// taken within it.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = positive_duration,
          help_heading = SERVICE)]
    pub(crate) client_timeout: Duration,

    /// How long a client connection may sit idle before (or between) requests.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = positive_duration,
          help_heading = SERVICE)]
    pub(crate) idle_timeout: Duration,

    /// On SIGTERM or SIGINT, how long the requests in flight may take to finish; URLs not done
    /// by then answer `timeout` (`0`: answer them at once).
    #[arg(long, default_value = "10s", value_name = "DURATION", help_heading = SERVICE)]
    pub(crate) drain_timeout: DurationArg,

    /// Client connections at once; beyond, the one idle longest is closed to make room (503
    /// only when every connection is serving a request).
    #[arg(long, default_value = "1024", value_name = "N", value_parser = at_least_one::<usize>,
          help_heading = SERVICE)]
    pub(crate) max_connections: usize,

    /// Client connections from one IP address at once (503 beyond).
    #[arg(long, default_value = "128", value_name = "N", value_parser = at_least_one::<usize>,
          help_heading = SERVICE)]
    pub(crate) max_connections_per_client: usize,

    /// For an HTML page answer its <title>; don't fetch the feed it advertises.
    #[arg(long, help_heading = REQUEST)]
    pub(crate) no_discover: bool,

    #[command(flatten)]
    pub(crate) pool: PoolArgs,

    #[command(flatten)]
    pub(crate) net: NetArgs,

    /// Serve a backdoor console on this loopback address (stats, pool, resize N, pause, ...).
    #[arg(long, value_name = "ADDR", help_heading = RUNTIME)]
    pub(crate) backdoor: Option<SocketAddr>,

    #[command(flatten)]
    pub(crate) runtime: WorkerArgs,
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
    #[arg(long, value_name = "N", value_parser = at_least_one::<usize>, help_heading = RUNTIME)]
    pub(crate) workers: Option<usize>,
}

/// Output formats of `fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The bodies, concatenated in input order (like curl); errors on stderr.
    Raw,
    /// One JSON object per input: index, url, final_url, status, bytes, timings, attempts, error.
    Jsonl,
    /// One short line per input: index, status (or ERR kind, with the status of an HTTP
    /// error), bytes, time, url.
    Summary,
    /// Nothing but what -w writes (errors still on stderr).
    None,
}

/// The scheme a URL without one is fetched with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scheme {
    /// `http://`, as curl does.
    Http,
    /// `https://`.
    Https,
}

/// Where the URLs come from.
#[derive(Debug, Args)]
pub(crate) struct InputArgs {
    /// Files of URLs, one a line; `-` or none: stdin (streamed: work starts before EOF).
    #[arg(value_name = "FILE", help_heading = INPUT)]
    pub(crate) files: Vec<PathBuf>,

    /// A URL to fetch (repeatable); read before the FILEs.
    #[arg(short = 'u', long = "url", value_name = "URL", help_heading = INPUT)]
    pub(crate) urls: Vec<String>,

    /// The scheme of a URL given without one (`127.0.0.1:8080/x`, `example.com/x`), as
    /// curl's --proto-default.
    #[arg(long, value_enum, default_value_t = Scheme::Http, value_name = "SCHEME",
          help_heading = INPUT)]
    pub(crate) proto_default: Scheme,
}

/// How fetching behaves: the transport and politeness settings `fetch` and `bench` share.
/// (Concurrency and `--rate` are each command's own: `bench` sweeps the one and schedules by
/// the other.)
#[derive(Debug, Args)]
pub(crate) struct NetArgs {
    /// At most N requests in flight per host.
    #[arg(long, value_name = "N", value_parser = at_least_one::<usize>, help_heading = LIMITS)]
    pub(crate) per_host: Option<usize>,

    /// Requests to one host start at least 1/N s apart (the first at once), e.g. `2` or `2/s`.
    #[arg(long, value_name = "N/s", help_heading = LIMITS)]
    pub(crate) per_host_rate: Option<Rate>,

    /// Limit for a whole request, body included (`0` for none), e.g. `30s`, `500ms`.
    #[arg(long, default_value = "30s", value_name = "DURATION", help_heading = LIMITS)]
    pub(crate) timeout: DurationArg,

    /// Limit for connecting (TCP and TLS; `0` for none).
    #[arg(long, default_value = "10s", value_name = "DURATION", help_heading = LIMITS)]
    pub(crate) connect_timeout: DurationArg,

    /// Redirects followed before giving up (`0`: none, the 3xx is the answer).
    #[arg(long, default_value_t = 10, value_name = "N", help_heading = LIMITS)]
    pub(crate) max_redirects: u32,

    /// Don't follow redirects: a 3xx is the answer.
    #[arg(long, help_heading = LIMITS)]
    pub(crate) no_follow: bool,

    /// Retries of a transient failure (connect, timeout, reset, 429/502/503/504), with
    /// exponential backoff and jitter, honouring Retry-After [default: 2; bench: 0].
    #[arg(long, value_name = "N", help_heading = LIMITS)]
    pub(crate) retries: Option<u32>,

    /// Largest body accepted (after decompression), e.g. `10MiB` [default: 256MiB; for
    /// serve: 16MiB].
    #[arg(long, value_name = "SIZE", value_parser = positive_size, help_heading = LIMITS)]
    pub(crate) max_body: Option<SizeArg>,

    /// Obey robots.txt (RFC 9309; fetched once per origin, for the User-Agent's first word):
    /// a URL it disallows is not fetched and fails as `robots`.
    #[arg(long, help_heading = LIMITS)]
    pub(crate) robots: bool,

    /// An extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER", help_heading = REQUEST)]
    pub(crate) headers: Vec<String>,

    /// The User-Agent header.
    #[arg(short = 'A', long, value_name = "STRING", help_heading = REQUEST)]
    pub(crate) user_agent: Option<String>,

    /// Basic credentials for the URLs' own hosts: `USER:PASSWORD` (dropped on a redirect to
    /// another scheme, host or port unless --location-trusted). (`-u` is --url.)
    #[arg(long, value_name = "USER:PASSWORD", help_heading = REQUEST)]
    pub(crate) user: Option<String>,

    /// On redirects, send credentials (--user, the URL's, -H Authorization and Cookie) to
    /// other hosts too.
    #[arg(long, help_heading = REQUEST)]
    pub(crate) location_trusted: bool,

    /// Resolve HOST:PORT to ADDR without asking DNS, like curl's --resolve (repeatable;
    /// ADDR may be a comma list; an empty ADDR makes HOST fail to resolve; HOST `*` is every
    /// name on that PORT not pinned otherwise).
    #[arg(long, value_name = "HOST:PORT:ADDR", help_heading = REQUEST)]
    pub(crate) resolve: Vec<ResolveArg>,

    /// Trust this CA certificate (PEM or DER) for https, instead of the web's roots.
    #[arg(long, value_name = "FILE", help_heading = TLS)]
    pub(crate) cacert: Option<PathBuf>,

    /// Don't check server certificates (the connection is encrypted, but anyone can pretend
    /// to be the server); a warning is printed once.
    #[arg(short = 'k', long, help_heading = TLS)]
    pub(crate) insecure: bool,
}

/// The runtime (every command that fetches): listed last in --help.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Worker threads running green threads (default: one per CPU, plus one).
    #[arg(long, value_name = "N", value_parser = at_least_one::<usize>, help_heading = RUNTIME)]
    pub(crate) workers: Option<usize>,
}

/// Proxies (`fetch`, `titles`, `bench`; `serve` never uses one). Without these, curl's
/// variables are read: `http_proxy` (lower case only), `https_proxy`/`HTTPS_PROXY`,
/// `all_proxy`/`ALL_PROXY`, `no_proxy`/`NO_PROXY`.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// Send every request through this proxy: `[http://|socks5://|socks5h://][USER:PASS@]HOST[:PORT]`
    /// (port 1080 by default); `''` turns proxies off, the environment's too.
    #[arg(short = 'x', long, value_name = "URL", help_heading = PROXY)]
    pub(crate) proxy: Option<String>,

    /// Hosts reached without the proxy: names (with their subdomains), IP addresses, CIDR
    /// ranges, or `*`, comma-separated (replaces NO_PROXY).
    #[arg(long, value_name = "LIST", help_heading = PROXY)]
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
    #[arg(short = 'b', long = "cookie", value_name = "DATA|FILE", help_heading = REQUEST)]
    pub(crate) cookie: Vec<String>,

    /// Turn the cookie engine on, and when the run ends write every cookie it kept, session
    /// cookies too, to FILE in the Netscape format that curl -b and greenfetch -b read (`-c`
    /// is --concurrency). A -b FILE that names this file may not exist yet.
    #[arg(long = "cookie-jar", value_name = "FILE", help_heading = REQUEST)]
    pub(crate) cookie_jar: Option<PathBuf>,
}

/// What each request sends (`fetch`, `bench`), the same for every URL of the run.
#[derive(Debug, Args)]
pub(crate) struct RequestArgs {
    /// The request method (default GET; POST with a body; HEAD with -I).
    #[arg(short = 'X', long = "request", value_name = "METHOD", help_heading = REQUEST)]
    pub(crate) method: Option<String>,

    /// Ask for the head only (a HEAD request): the output is each answer's status line and
    /// headers, as received.
    #[arg(short = 'I', long, help_heading = REQUEST)]
    pub(crate) head: bool,

    /// POST DATA (`@FILE`: the file, CR and LF removed), as
    /// application/x-www-form-urlencoded; several are joined with `&` (curl's -d).
    #[arg(short = 'd', long = "data", value_name = "DATA", help_heading = REQUEST)]
    pub(crate) data: Vec<String>,

    /// POST DATA as it is (`@FILE`: the file's bytes, unchanged).
    #[arg(long, value_name = "DATA", help_heading = REQUEST)]
    pub(crate) data_binary: Vec<String>,

    /// Don't decode content codings: write the bytes as sent (and send no Accept-Encoding).
    #[arg(long, help_heading = REQUEST)]
    pub(crate) raw: bool,
}

/// `greenfetch fetch`.
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,

    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Raw, help_heading = OUTPUT)]
    pub(crate) format: Format,

    /// Write each body to a file in DIR (named by index and URL) instead of stdout.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR", help_heading = OUTPUT)]
    pub(crate) output_dir: Option<PathBuf>,

    /// After each input's output, write TEMPLATE with curl's variables filled in:
    /// %{http_code}, %{url_effective}, %{url}, %{size_download} (body bytes as they came
    /// over the wire), %{time_total}, %{time_starttransfer}, %{num_redirects},
    /// %{num_retries}, %{speed_download}, %{content_type}, %{method}, %{errormsg},
    /// %{exitcode} (0 ok, 1 failed), %{json} (all of them), and greenfetch's %{index} and
    /// %{error_kind}; \n \r \t \\ and %% escapes; %{stderr} and %{stdout} switch where the
    /// rest goes; @FILE reads the template from a file.
    #[arg(short = 'w', long = "write-out", value_name = "TEMPLATE", help_heading = OUTPUT)]
    pub(crate) write_out: Option<String>,

    /// Show the heads of every request (`> `) and answer (`< `) on stderr, each line after
    /// its input's index (`#3 > GET /x HTTP/1.1`), as curl -v does.
    #[arg(short = 'v', long, help_heading = OUTPUT)]
    pub(crate) verbose: bool,

    #[command(flatten)]
    pub(crate) pool: PoolArgs,

    #[command(flatten)]
    pub(crate) net: NetArgs,

    #[command(flatten)]
    pub(crate) proxy: ProxyArgs,

    #[command(flatten)]
    pub(crate) request: RequestArgs,

    /// POST JSON (`@FILE`: the file; several are concatenated): sets Content-Type and Accept
    /// to application/json.
    #[arg(long = "json", value_name = "DATA", help_heading = REQUEST)]
    pub(crate) json: Vec<String>,

    #[command(flatten)]
    pub(crate) cookies: CookieArgs,

    #[command(flatten)]
    pub(crate) run: RunArgs,

    #[command(flatten)]
    pub(crate) runtime: WorkerArgs,
}

/// How many requests a run of `fetch`, `titles` or `serve` has going at once.
#[derive(Debug, Args)]
pub(crate) struct PoolArgs {
    /// Requests in flight at once (the green pool's size).
    #[arg(short = 'c', long, default_value = "50", value_name = "N",
          value_parser = at_least_one::<usize>, help_heading = LIMITS)]
    pub(crate) concurrency: usize,

    /// At most N requests started per second (evenly spaced), e.g. `20` or `20/s`.
    #[arg(long, value_name = "N/s", help_heading = LIMITS)]
    pub(crate) rate: Option<Rate>,
}

/// How a run of `fetch` or `titles` reports and can be steered.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Write results as they complete instead of in input order.
    #[arg(long, help_heading = OUTPUT)]
    pub(crate) unordered: bool,

    /// No progress display.
    #[arg(short, long, help_heading = OUTPUT)]
    pub(crate) quiet: bool,

    /// Keep only the lines whose host hashes to shard K of N (a stable hash: all of a host's
    /// lines go to one shard, on every machine).
    #[arg(long, value_name = "K/N", help_heading = BATCH)]
    pub(crate) shard: Option<Shard>,

    /// Record each input's index and outcome in FILE once its output is flushed, so a killed
    /// run can be resumed. An existing journal with entries needs --resume.
    #[arg(long, value_name = "FILE", help_heading = BATCH)]
    pub(crate) journal: Option<PathBuf>,

    /// Skip the inputs the journal says are done (append the new output to the old).
    #[arg(long, requires = "journal", help_heading = BATCH)]
    pub(crate) resume: bool,

    /// Sync each output to the disk before its input counts as done (-o DIR's files and their
    /// directory, stdout when it is a file, the journal): outputs then survive the machine
    /// crashing, not only the process dying. Costs a sync per input.
    #[arg(long, help_heading = BATCH)]
    pub(crate) fsync: bool,

    /// Serve a backdoor console on this loopback address (stats, pool, resize N, pause, ...).
    #[arg(long, value_name = "ADDR", help_heading = RUNTIME)]
    pub(crate) backdoor: Option<SocketAddr>,
}

/// Output formats of `titles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TitlesFormat {
    /// One line per input line: the title; an empty line for a blank or comment line and for
    /// a failure (its error goes to stderr).
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

    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = TitlesFormat::Text,
          help_heading = OUTPUT)]
    pub(crate) format: TitlesFormat,

    /// Add the entry (item) titles to each record (implies `--format jsonl`).
    #[arg(long, help_heading = OUTPUT)]
    pub(crate) entries: bool,

    /// For an HTML page print its <title>; don't fetch the feed it advertises.
    #[arg(long, help_heading = REQUEST)]
    pub(crate) no_discover: bool,

    #[command(flatten)]
    pub(crate) pool: PoolArgs,

    #[command(flatten)]
    pub(crate) net: NetArgs,

    #[command(flatten)]
    pub(crate) proxy: ProxyArgs,

    #[command(flatten)]
    pub(crate) cookies: CookieArgs,

    #[command(flatten)]
    pub(crate) run: RunArgs,

    #[command(flatten)]
    pub(crate) runtime: WorkerArgs,
}

/// A whole number of at least 1, for the counts where 0 would mean nothing (or something else
/// than asked): `-c`, `--per-host`, `--workers`, `-n`, `--max-urls`, `--max-connections`...
fn at_least_one<T>(s: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + From<u8>,
{
    match s.trim().parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        Ok(_) => Err("must be at least 1".to_owned()),
        Err(_) => Err("expected a whole number, at least 1".to_owned()),
    }
}

/// A duration that must be more than zero (deadlines that cannot be "none").
fn positive_duration(s: &str) -> Result<Duration, String> {
    match s.parse::<DurationArg>()?.0 {
        Some(d) => Ok(d),
        None => Err("must be more than 0".to_owned()),
    }
}

/// A size that must be more than zero (a limit of 0 bytes would refuse everything).
fn positive_size(s: &str) -> Result<SizeArg, String> {
    match s.parse::<SizeArg>()? {
        SizeArg(0) => Err("must be more than 0".to_owned()),
        size => Ok(size),
    }
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

    #[test]
    fn zero_and_nonsense_are_refused_where_they_mean_nothing() {
        assert_eq!(at_least_one::<usize>("3"), Ok(3));
        assert_eq!(
            at_least_one::<usize>("0"),
            Err("must be at least 1".to_owned())
        );
        assert!(at_least_one::<u64>("-1").is_err());
        assert!(at_least_one::<usize>("many").is_err());
        assert_eq!(positive_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(positive_duration("0").is_err());
        assert!(positive_duration("0ms").is_err());
        assert_eq!(positive_size("1KiB"), Ok(SizeArg(1024)));
        assert!(positive_size("0").is_err());
    }
}
