//! The k-way merge behind `greenfetch merge`: jsonl outputs back into input order, by `index`.
//!
//! Each input must already be in index order (what `fetch -f jsonl` and `titles -f jsonl` write
//! without `--unordered`: a shard's output, a run's first part, its resumed part). The merge
//! streams: it holds one line per input, so its memory does not grow with the records. A record
//! whose index was already written (the in-flight window of a killed and resumed run, or the
//! same shard given twice) is dropped; lines pass through byte for byte.
//!
//! ```
//! use greenfetch::merge::{merge, Input};
//!
//! let a = Input::new("a.jsonl", &b"{\"index\":0}\n{\"index\":2}\n"[..]);
//! let b = Input::new("b.jsonl", &b"{\"index\":1}\n{\"index\":2}\n"[..]);
//! let mut out = Vec::new();
//! let stats = merge(vec![a, b], &mut out).unwrap();
//! assert_eq!(out, b"{\"index\":0}\n{\"index\":1}\n{\"index\":2}\n");
//! assert_eq!((stats.written, stats.duplicates, stats.missing), (3, 1, 0));
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::{self, BufRead, Write};

use serde::Deserialize;

#[derive(Deserialize)]
struct Indexed {
    index: u64,
}

/// One input of a merge: a name for messages, and its lines.
pub struct Input {
    name: String,
    reader: Box<dyn BufRead>,
    line: Vec<u8>,
    lineno: u64,
    index: u64,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("lineno", &self.lineno)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Input {
    /// An input named `name` (a file name, `-`) reading from `reader`.
    pub fn new(name: impl Into<String>, reader: impl BufRead + 'static) -> Input {
        Input {
            name: name.into(),
            reader: Box::new(reader),
            line: Vec::new(),
            lineno: 0,
            index: 0,
        }
    }

    /// Reads the next record; `Ok(false)` at the end of the input.
    fn advance(&mut self) -> Result<bool, MergeError> {
        loop {
            self.line.clear();
            let n = self.reader.read_until(b'\n', &mut self.line).map_err(|e| {
                MergeError::Io(io::Error::new(e.kind(), format!("{}: {e}", self.name)))
            })?;
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
                MergeError::Bad(format!(
                    "{}:{}: not a jsonl record with an index ({e})",
                    self.name, self.lineno
                ))
            })?;
            if self.lineno > 1 && rec.index < self.index {
                return Err(MergeError::Bad(format!(
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

/// Why a merge stopped.
#[derive(Debug)]
pub enum MergeError {
    /// Reading an input, or writing the output, failed.
    Io(io::Error),
    /// An input broke the contract (a record without an index, or out of index order); the
    /// message names the input and line.
    Bad(String),
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Io(e) => e.fmt(f),
            MergeError::Bad(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for MergeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MergeError::Io(e) => Some(e),
            MergeError::Bad(_) => None,
        }
    }
}

impl From<io::Error> for MergeError {
    fn from(e: io::Error) -> Self {
        MergeError::Io(e)
    }
}

/// What a merge wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Records written.
    pub written: u64,
    /// Records dropped because their index was already written.
    pub duplicates: u64,
    /// Indices between 0 and the largest written that no input had.
    pub missing: u64,
}

/// Merges `inputs` into `out`: the smallest next index of all inputs goes out first. Does not
/// flush `out`.
pub fn merge(mut inputs: Vec<Input>, out: &mut impl Write) -> Result<Stats, MergeError> {
    let mut heap = BinaryHeap::with_capacity(inputs.len());
    for (k, s) in inputs.iter_mut().enumerate() {
        if s.advance()? {
            heap.push(Reverse((s.index, k)));
        }
    }
    let mut stats = Stats::default();
    let mut last: Option<u64> = None;
    while let Some(Reverse((index, k))) = heap.pop() {
        let s = &mut inputs[k];
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

    fn input(name: &str, text: &'static str) -> Input {
        Input::new(name, text.as_bytes())
    }

    #[test]
    fn merges_in_order_dropping_duplicates_and_counting_gaps() {
        let inputs = vec![
            input("a", "{\"index\":0,\"x\":1}\n{\"index\":3}\n{\"index\":4}\n"),
            input(
                "b",
                "{\"index\":1}\n\n{\"index\":3,\"dup\":true}\n{\"index\":7}",
            ),
            input("c", ""),
        ];
        let mut out = Vec::new();
        let stats = merge(inputs, &mut out).unwrap();
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
    fn refuses_unordered_inputs_and_records_without_index() {
        match merge(
            vec![input("u", "{\"index\":2}\n{\"index\":1}\n")],
            &mut Vec::new(),
        ) {
            Err(MergeError::Bad(m)) => {
                assert!(m.contains("u:2") && m.contains("--unordered"), "{m}")
            }
            _ => panic!("an unordered input must be refused"),
        }
        match merge(vec![input("n", "{\"url\":\"x\"}\n")], &mut Vec::new()) {
            Err(MergeError::Bad(m)) => assert!(m.contains("n:1") && m.contains("index"), "{m}"),
            _ => panic!("a record without an index must be refused"),
        }
    }
}
