//! `greenfetch merge FILE...`: k-way merge of jsonl outputs back into input order, by `index`.
//!
//! Each file must already be in index order (what `fetch -f jsonl` and `titles -f jsonl` write
//! without `--unordered`: a shard's output, a run's first part, its resumed part). The merge
//! streams: it holds one line per file, so its memory does not grow with the inputs. A record
//! whose index was already written (the in-flight window of a killed and resumed run, or the
//! same shard given twice) is dropped. At the end it says on stderr how many records it wrote,
//! how many duplicates it dropped and how many indices between 0 and the largest are missing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use serde::Deserialize;

use super::{EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE};

#[derive(Deserialize)]
struct Indexed {
    index: u64,
}

/// One input file, positioned on its next record.
struct Source {
    name: String,
    reader: Box<dyn BufRead>,
    line: Vec<u8>,
    lineno: u64,
    index: u64,
}

/// Why the merge stopped.
enum Stop {
    /// Reading a file, or writing stdout, failed.
    Io(io::Error),
    /// A file broke the contract (a record without an index, or out of index order).
    Bad(String),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Io(e)
    }
}

impl Source {
    /// Reads the next record; `Ok(false)` at the end of the file.
    fn advance(&mut self) -> Result<bool, Stop> {
        loop {
            self.line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.line)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.name)))?;
            if n == 0 {
                return Ok(false);
            }
            self.lineno += 1;
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if !self.line.ends_with(b"\n") {
                self.line.push(b'\n');
            }
            let rec: Indexed = serde_json::from_slice(&self.line).map_err(|e| {
                Stop::Bad(format!(
                    "{}:{}: not a jsonl record with an index ({e})",
                    self.name, self.lineno
                ))
            })?;
            if self.lineno > 1 && rec.index < self.index {
                return Err(Stop::Bad(format!(
                    "{}:{}: index {} comes after {}: merge needs each file in index order \
                     (was it written with --unordered?)",
                    self.name, self.lineno, rec.index, self.index
                )));
            }
            self.index = rec.index;
            return Ok(true);
        }
    }
}

/// `greenfetch merge`.
pub(crate) fn merge(files: Vec<PathBuf>) -> u8 {
    let mut sources = Vec::with_capacity(files.len());
    for f in files {
        let reader: Box<dyn BufRead> = if f.as_os_str() == "-" {
            Box::new(BufReader::with_capacity(64 * 1024, io::stdin()))
        } else {
            match File::open(&f) {
                Ok(file) => Box::new(BufReader::with_capacity(64 * 1024, file)),
                Err(e) => return super::usage_error(format!("{}: {e}", f.display())),
            }
        };
        sources.push(Source {
            name: f.display().to_string(),
            reader,
            line: Vec::new(),
            lineno: 0,
            index: 0,
        });
    }
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout());
    let result = run(&mut sources, &mut out).and_then(|s| {
        out.flush()?;
        Ok(s)
    });
    match result {
        Ok(stats) => {
            eprintln!(
                "greenfetch: merged {} records from {} files; {} duplicates dropped; {} missing",
                stats.written,
                sources.len(),
                stats.duplicates,
                stats.missing
            );
            EXIT_OK
        }
        Err(Stop::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(Stop::Io(e)) => {
            eprintln!("greenfetch: merge: {e}");
            EXIT_SOME_FAILED
        }
        Err(Stop::Bad(msg)) => {
            let _ = out.flush();
            eprintln!("greenfetch: merge: {msg}");
            EXIT_USAGE
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    written: u64,
    duplicates: u64,
    /// Indices between 0 and the largest written that no file had.
    missing: u64,
}

/// The merge proper: the smallest next index of all files goes out first.
fn run(sources: &mut [Source], out: &mut impl Write) -> Result<Stats, Stop> {
    let mut heap = BinaryHeap::with_capacity(sources.len());
    for (k, s) in sources.iter_mut().enumerate() {
        if s.advance()? {
            heap.push(Reverse((s.index, k)));
        }
    }
    let mut stats = Stats::default();
    let mut last: Option<u64> = None;
    while let Some(Reverse((index, k))) = heap.pop() {
        let s = &mut sources[k];
        if last == Some(index) {
            stats.duplicates += 1;
        } else {
            stats.missing += index - last.map_or(0, |l| l + 1);
            out.write_all(&s.line)?;
            stats.written += 1;
            last = Some(index);
        }
        if s.advance()? {
            heap.push(Reverse((s.index, k)));
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, text: &'static str) -> Source {
        Source {
            name: name.into(),
            reader: Box::new(text.as_bytes()),
            line: Vec::new(),
            lineno: 0,
            index: 0,
        }
    }

    #[test]
    fn merges_in_order_dropping_duplicates_and_counting_gaps() {
        let mut s = vec![
            source("a", "{\"index\":0,\"x\":1}\n{\"index\":3}\n{\"index\":4}\n"),
            source(
                "b",
                "{\"index\":1}\n\n{\"index\":3,\"dup\":true}\n{\"index\":7}",
            ),
            source("c", ""),
        ];
        let mut out = Vec::new();
        let stats = run(&mut s, &mut out).ok().unwrap();
        let text = String::from_utf8(out).unwrap();
        let idx: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(idx, vec![0, 1, 3, 4, 7]);
        assert!(
            text.starts_with("{\"index\":0,\"x\":1}\n"),
            "lines pass through untouched"
        );
        assert!(
            text.ends_with("{\"index\":7}\n"),
            "a last line without LF gets one"
        );
        assert_eq!(
            stats,
            Stats {
                written: 5,
                duplicates: 1,
                missing: 3 // 2, 5 and 6
            }
        );
    }

    #[test]
    fn refuses_unordered_files_and_records_without_index() {
        let mut s = vec![source("u", "{\"index\":2}\n{\"index\":1}\n")];
        match run(&mut s, &mut Vec::new()) {
            Err(Stop::Bad(m)) => assert!(m.contains("u:2") && m.contains("--unordered"), "{m}"),
            _ => panic!("an unordered file must be refused"),
        }
        let mut s = vec![source("n", "{\"url\":\"x\"}\n")];
        match run(&mut s, &mut Vec::new()) {
            Err(Stop::Bad(m)) => assert!(m.contains("n:1") && m.contains("index"), "{m}"),
            _ => panic!("a record without an index must be refused"),
        }
    }
}
