//! Input: URL lines from `-u`, files and stdin, read on a plain OS thread (a blocking read must
//! not stall a worker) and handed to the pipeline through a bounded green `Queue`, so work
//! starts before EOF and memory does not grow with the input.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use greenfetch::Queue;
use greenfetch::error::{Error, ErrorKind};
use greenfetch::fetch::{MAX_URL_LEN, host_of, parse_line, stable_hash};

use super::INTERRUPTED;
use super::args::Shard;
use super::journal::Done;

/// One input record: its position among all inputs, and its URL or why it is not one.
#[derive(Debug)]
pub(crate) struct Input {
    pub(crate) index: u64,
    /// The line as given (lossy UTF-8, trimmed, cut to a readable length) for reports.
    pub(crate) text: String,
    pub(crate) url: Result<String, Error>,
}

/// Which inputs this run takes: its shard, minus what a journal says is done.
#[derive(Debug, Default)]
pub(crate) struct Select {
    pub(crate) shard: Option<Shard>,
    pub(crate) done: Option<Done>,
}

impl Select {
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

/// Collects inputs into batches for the pipeline.
struct Batcher {
    queue: Queue<Option<Vec<Input>>>,
    batch: Vec<Input>,
}

impl Batcher {
    fn push(&mut self, input: Input) {
        self.batch.push(input);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    /// Hands over what is collected (before a read that may block, and at the end).
    fn flush(&mut self) {
        if !self.batch.is_empty() {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            self.queue.put(Some(full));
        }
    }
}

/// A source of lines.
enum Source {
    Arg(String),
    Stdin,
    File(PathBuf),
}

/// Starts the reader thread; the iterator yields inputs in order and ends at EOF.
pub(crate) fn read_inputs(
    urls: Vec<String>,
    files: Vec<PathBuf>,
    shard: Select,
) -> io::Result<InputIter> {
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
    let queue: Queue<Option<Vec<Input>>> = Queue::bounded(READ_AHEAD);
    let mut q = Batcher {
        queue: queue.clone(),
        batch: Vec::with_capacity(BATCH),
    };
    std::thread::Builder::new()
        .name("greenfetch-input".into())
        .spawn(move || {
            let mut index = 0u64;
            for source in sources {
                let ok = match source {
                    Source::Arg(u) => feed(&mut index, u.as_bytes(), &shard, &mut q),
                    Source::Stdin => read_lines(
                        BufReader::with_capacity(64 * 1024, io::stdin()),
                        &mut index,
                        &shard,
                        &mut q,
                    ),
                    Source::File(p) => match File::open(&p) {
                        Ok(f) => read_lines(
                            BufReader::with_capacity(64 * 1024, f),
                            &mut index,
                            &shard,
                            &mut q,
                        ),
                        Err(e) => {
                            eprintln!("greenfetch: {}: {e}", p.display());
                            true
                        }
                    },
                };
                if !ok {
                    break;
                }
            }
            q.flush();
            q.queue.put(None);
        })?;
    Ok(InputIter {
        queue,
        current: Vec::new().into_iter(),
        done: false,
    })
}

/// Handles one line; false once the run is interrupted.
fn feed(index: &mut u64, line: &[u8], select: &Select, q: &mut Batcher) -> bool {
    if INTERRUPTED.load(Ordering::Relaxed) {
        return false;
    }
    let trimmed = trim(line);
    if trimmed.is_empty() || trimmed.starts_with(b"#") {
        return true;
    }
    let url = parse_line(trimmed);
    let i = *index;
    *index += 1;
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
        url,
    });
    true
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
    q: &mut Batcher,
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
                    eprintln!("greenfetch: reading input: {e}");
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
    q: &mut Batcher,
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
            url: Err(err),
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
