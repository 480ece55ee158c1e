//! Input: URL lines from `-u`, files and stdin, read on a plain OS thread (a blocking read must
//! not stall a worker) and handed to the pipeline through a bounded green `Queue`, so work
//! starts before EOF and memory does not grow with the input.
//!
//! Every line has an index: its 0-based line number in the whole input (`-u` URLs first, one
//! line each, then the files in turn). A blank or `#` line is no input, but it keeps its place
//! (as an [`Input`] without a URL), so `titles` can give it its empty line and every later
//! index stays the line's number. On a URL line, `#` after white space starts a comment, and a
//! URL without a scheme (`127.0.0.1:8080/x`, `example.com/x`) gets `--proto-default`'s, as
//! curl guesses it. When every source is a file, a second thread counts the inputs ahead, for
//! the progress display's total.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use greenfetch::Queue;
use greenfetch::error::{Error, ErrorKind};
use greenfetch::fetch::{MAX_URL_LEN, host_of, parse_line, stable_hash};

use super::INTERRUPTED;
use super::args::Shard;
use super::journal::Done;
use super::progress::report;

/// One input line: its line number in the whole input, and its URL or why it is not one.
#[derive(Debug)]
pub(crate) struct Input {
    pub(crate) index: u64,
    /// The line as given (lossy UTF-8, trimmed, cut to a readable length) for reports.
    pub(crate) text: String,
    /// The URL, or why the line is not one; `None` for a blank or `#` line, which is no input
    /// but keeps its place.
    pub(crate) url: Option<Result<String, Error>>,
}

/// Which inputs this run takes: its shard, minus what a journal says is done; and how a URL
/// without a scheme is completed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Select {
    pub(crate) shard: Option<Shard>,
    pub(crate) done: Option<Done>,
    /// `http` or `https`, for a URL given without a scheme.
    pub(crate) scheme: &'static str,
}

impl Select {
    /// Whether the blank or comment line `index` keeps its place in this run's output: not
    /// in a shard (it belongs to none), nor when a journal says it is out already.
    fn keeps_blank(&self, index: u64) -> bool {
        self.shard.is_none() && !self.done.as_ref().is_some_and(|d| d.contains(index))
    }

    /// Whether input `index` is this run's. `key` gives what it shards by: the URL's host, or
    /// for a line that is not a URL, the line itself (so it lands on exactly one shard too).
    fn keeps(&self, index: u64, key: impl FnOnce() -> String) -> bool {
        if self.done.as_ref().is_some_and(|d| d.contains(index)) {
            return false;
        }
        match self.shard {
            Some(s) => stable_hash(&key()) % s.n == s.k,
            None => true,
        }
    }
}

/// Inputs handed over at once: one wake-up of the pipeline per batch, not per line.
const BATCH: usize = 256;
/// Batches read ahead of the pipeline at most.
const READ_AHEAD: usize = 16;

/// Where the reader puts the inputs it makes.
trait Sink {
    fn push(&mut self, input: Input);
    /// Called before a read that may block, and at the end.
    fn flush(&mut self) {}
}

/// Collects inputs into batches for the pipeline.
struct Batcher {
    queue: Queue<Option<Vec<Input>>>,
    batch: Vec<Input>,
}

impl Sink for Batcher {
    fn push(&mut self, input: Input) {
        self.batch.push(input);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    /// Hands over what is collected.
    fn flush(&mut self) {
        if !self.batch.is_empty() {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            self.queue.put(Some(full));
        }
    }
}

/// Counts the inputs (lines with a URL or an error, not blank or comment lines).
struct Counter(u64);

impl Sink for Counter {
    fn push(&mut self, input: Input) {
        if input.url.is_some() {
            self.0 += 1;
        }
    }
}

/// A source of lines.
#[derive(Clone)]
enum Source {
    Arg(String),
    Stdin,
    File(PathBuf),
}

/// The number of inputs, once a counting thread has read every file (`None` meanwhile, and
/// for good when stdin is among the sources).
pub(crate) type Total = Arc<OnceLock<u64>>;

/// Starts the reader thread; the iterator yields inputs in order and ends at EOF. When every
/// source is a file (or a `-u` URL), a second thread counts the inputs ahead into the
/// returned [`Total`].
pub(crate) fn read_inputs(
    urls: Vec<String>,
    files: Vec<PathBuf>,
    shard: Select,
) -> io::Result<(InputIter, Total)> {
    let mut sources: Vec<Source> = urls.into_iter().map(Source::Arg).collect();
    if files.is_empty() && sources.is_empty() {
        sources.push(Source::Stdin);
    }
    for f in files {
        if f.as_os_str() == "-" {
            sources.push(Source::Stdin);
        } else {
            // Open errors are usage errors: say so before any work starts.
            File::open(&f)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.display())))?;
            sources.push(Source::File(f));
        }
    }
    let total: Total = Arc::default();
    if !sources.iter().any(|s| matches!(s, Source::Stdin)) {
        let (sources, select, total) = (sources.clone(), shard.clone(), total.clone());
        std::thread::Builder::new()
            .name("greenfetch-count".into())
            .spawn(move || {
                let mut counter = Counter(0);
                if read_all(sources, &select, &mut counter) {
                    let _ = total.set(counter.0);
                }
            })?;
    }
    let queue: Queue<Option<Vec<Input>>> = Queue::bounded(READ_AHEAD);
    let mut q = Batcher {
        queue: queue.clone(),
        batch: Vec::with_capacity(BATCH),
    };
    std::thread::Builder::new()
        .name("greenfetch-input".into())
        .spawn(move || {
            read_all(sources, &shard, &mut q);
            q.flush();
            q.queue.put(None);
        })?;
    Ok((
        InputIter {
            queue,
            current: Vec::new().into_iter(),
            done: false,
        },
        total,
    ))
}

/// Reads every source in turn into `sink`; false if the run was interrupted first.
fn read_all(sources: Vec<Source>, select: &Select, sink: &mut impl Sink) -> bool {
    let mut index = 0u64;
    for source in sources {
        let ok = match source {
            Source::Arg(u) => feed(&mut index, u.as_bytes(), select, sink),
            Source::Stdin => read_lines(
                BufReader::with_capacity(64 * 1024, io::stdin()),
                &mut index,
                select,
                sink,
            ),
            Source::File(p) => match File::open(&p) {
                Ok(f) => read_lines(
                    BufReader::with_capacity(64 * 1024, f),
                    &mut index,
                    select,
                    sink,
                ),
                Err(e) => {
                    report(format!("greenfetch: {}: {e}", p.display()));
                    true
                }
            },
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Handles one line; false once the run is interrupted.
fn feed(index: &mut u64, line: &[u8], select: &Select, q: &mut impl Sink) -> bool {
    if INTERRUPTED.load(Ordering::Relaxed) {
        return false;
    }
    let i = *index;
    *index += 1;
    let trimmed = trim(strip_comment(line));
    if trimmed.is_empty() {
        if select.keeps_blank(i) {
            q.push(Input {
                index: i,
                text: String::new(),
                url: None,
            });
        }
        return true;
    }
    let url = parse_line(trimmed).or_else(|e| match with_scheme(trimmed, select.scheme) {
        Some(guessed) => parse_line(guessed.as_bytes()),
        None => Err(e),
    });
    if !select.keeps(i, || match &url {
        Ok(u) => host_of(u).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(trimmed).into_owned(),
    }) {
        return true;
    }
    let mut text: String = String::from_utf8_lossy(&trimmed[..trimmed.len().min(300)]).into_owned();
    if trimmed.len() > 300 {
        text.push('…');
    }
    q.push(Input {
        index: i,
        text,
        url: Some(url),
    });
    true
}

/// The line without its comment: from a `#` at its start or after white space (a `#` inside
/// a URL is its fragment).
fn strip_comment(line: &[u8]) -> &[u8] {
    let mut prev_space = true;
    for (i, &b) in line.iter().enumerate() {
        if b == b'#' && prev_space {
            return &line[..i];
        }
        prev_space = b.is_ascii_whitespace();
    }
    line
}

/// `SCHEME://` + `line` when the line is a URL without a scheme, as curl guesses one: it has
/// no `://`, and what comes before its first `/`, `?` or `#` is a host (a name or an IP
/// address, or an IPv6 address in brackets) with an optional numeric port. Anything else
/// (`mailto:x@y`, `file:x`, words with spaces) is left to be refused as it is.
fn with_scheme(line: &[u8], scheme: &str) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    if text.contains("://") {
        return None;
    }
    let authority = text.split(['/', '?', '#']).next().unwrap_or("");
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        (None, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(authority), None),
        }
    };
    if let Some(h) = host {
        let name_ok = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
            && !h.starts_with(['.', '-']);
        if !name_ok {
            return None;
        }
    }
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    Some(format!("{scheme}://{text}"))
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &line[start..end.max(start)]
}

/// Reads lines, keeping at most a little more than a URL's worth of each (a huge line is still
/// one input, reported as too long, without holding it in memory).
fn read_lines<R: io::Read>(
    mut r: BufReader<R>,
    index: &mut u64,
    select: &Select,
    q: &mut impl Sink,
) -> bool {
    let cap = MAX_URL_LEN + 1;
    let mut line = Vec::with_capacity(256);
    let mut overflow = 0usize;
    loop {
        if r.buffer().is_empty() {
            // The next read may wait for more input (a pipe, a terminal): hand over what we
            // have first, so a trickle of lines is not held back.
            q.flush();
        }
        let (consumed, end_of_line) = {
            let buf = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    report(format!("greenfetch: reading input: {e}"));
                    return true;
                }
            };
            if buf.is_empty() {
                break;
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(p) => {
                    take_part(&mut line, &mut overflow, &buf[..p], cap);
                    (p + 1, true)
                }
                None => {
                    take_part(&mut line, &mut overflow, buf, cap);
                    (buf.len(), false)
                }
            }
        };
        r.consume(consumed);
        if end_of_line && !emit(index, &mut line, &mut overflow, select, q) {
            return false;
        }
    }
    if !line.is_empty() || overflow > 0 {
        return emit(index, &mut line, &mut overflow, select, q);
    }
    true
}

fn take_part(line: &mut Vec<u8>, overflow: &mut usize, part: &[u8], cap: usize) {
    let room = cap.saturating_sub(line.len());
    let keep = part.len().min(room);
    line.extend_from_slice(&part[..keep]);
    *overflow += part.len() - keep;
}

fn emit(
    index: &mut u64,
    line: &mut Vec<u8>,
    overflow: &mut usize,
    select: &Select,
    q: &mut impl Sink,
) -> bool {
    let ok = if *overflow > 0 {
        // Too long to be a URL: one input, one error, the bytes dropped.
        let total = line.len() + *overflow;
        let i = *index;
        *index += 1;
        if !select.keeps(i, || String::from_utf8_lossy(line).into_owned()) {
            line.clear();
            *overflow = 0;
            return !INTERRUPTED.load(Ordering::Relaxed);
        }
        let text = format!("{}…", String::from_utf8_lossy(&line[..line.len().min(80)]));
        let err = Error::new(
            ErrorKind::LineTooLong,
            format!("line of {total} bytes; a URL may have {MAX_URL_LEN}"),
        );
        q.push(Input {
            index: i,
            text,
            url: Some(Err(err)),
        });
        !INTERRUPTED.load(Ordering::Relaxed)
    } else {
        feed(index, line, select, q)
    };
    line.clear();
    *overflow = 0;
    ok
}

/// The inputs, in order, as the pipeline consumes them (inside a green thread).
pub(crate) struct InputIter {
    queue: Queue<Option<Vec<Input>>>,
    current: std::vec::IntoIter<Input>,
    done: bool,
}

impl Iterator for InputIter {
    type Item = Input;
    fn next(&mut self) -> Option<Input> {
        loop {
            if let Some(i) = self.current.next() {
                return Some(i);
            }
            if self.done {
                return None;
            }
            match self.queue.get() {
                Some(batch) => self.current = batch.into_iter(),
                None => self.done = true,
            }
        }
    }
}

/// Whether stdin is a terminal with nobody typing URLs into it on purpose.
pub(crate) fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    io::stdin().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_after_white_space_starts_a_comment() {
        assert_eq!(strip_comment(b"http://a.test/x #note"), b"http://a.test/x ");
        assert_eq!(strip_comment(b"# all of it"), b"");
        assert_eq!(
            strip_comment(b"http://a.test/x\t# tab"),
            b"http://a.test/x\t"
        );
        // A fragment is part of the URL.
        assert_eq!(
            strip_comment(b"http://a.test/x#frag"),
            b"http://a.test/x#frag"
        );
    }

    #[test]
    fn a_url_without_a_scheme_gets_the_default_one() {
        let http = |s: &str| with_scheme(s.as_bytes(), "http");
        assert_eq!(
            http("127.0.0.1:8080/x").as_deref(),
            Some("http://127.0.0.1:8080/x")
        );
        assert_eq!(http("a.test/x?y").as_deref(), Some("http://a.test/x?y"));
        assert_eq!(http("a.test:8080").as_deref(), Some("http://a.test:8080"));
        assert_eq!(http("[::1]:8080/").as_deref(), Some("http://[::1]:8080/"));
        assert_eq!(
            with_scheme(b"a.test/", "https").as_deref(),
            Some("https://a.test/")
        );
        for left in [
            "http://a.test/",
            "mailto:x@a.test",
            "file:passwd",
            "not a url",
            "a.test:port/",
            "",
            "[nope]/",
        ] {
            assert_eq!(http(left), None, "{left:?}");
        }
    }
}
