//! `--journal FILE` and `--resume`: a run that can be killed at any moment and picked up again.
//!
//! The journal is a text file, appended to as the run goes: a header line, then one line per
//! input, `INDEX<TAB>OUTCOME` (`ok` or the error kind), written only after that input's output
//! has been flushed to stdout. So a journal line always means "its output is out": a run killed
//! at any moment (SIGKILL included) has written the output of everything its journal names,
//! and at most the outputs of the records it was flushing when it died without their lines.
//! `--resume` reads the journal and skips every index it names; the resumed run's output
//! together with the first part's holds every input exactly once, apart from that window
//! (duplicates, never losses, removable by index: `greenfetch merge` drops them).
//!
//! A line cut short by the kill is ignored. Lines are written with one `write` each (no user
//! space buffer), so they reach the kernel before the next record is started: the process
//! dying does not lose them (the machine crashing might; that is what `fsync` would be for,
//! and its cost per record is not worth it here).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The first line of every journal.
const HEADER: &str = "# greenfetch journal 1: INDEX<TAB>OUTCOME per input whose output was flushed";

/// The set of input indices a journal says are done: a bit per index.
#[derive(Debug, Default, Clone)]
pub(crate) struct Done {
    bits: Vec<u64>,
    count: u64,
}

impl Done {
    pub(crate) fn insert(&mut self, i: u64) {
        let (word, bit) = ((i / 64) as usize, i % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) == 0 {
            self.bits[word] |= 1 << bit;
            self.count += 1;
        }
    }

    pub(crate) fn contains(&self, i: u64) -> bool {
        self.bits
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// How many indices are in the set.
    pub(crate) fn len(&self) -> u64 {
        self.count
    }
}

/// An open journal, appended to as outputs are flushed.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    line: Vec<u8>,
    /// Sync each line to the disk (`--fsync`).
    fsync: bool,
}

impl Journal {
    /// Opens `path`: with `resume`, reads what it says is done (a missing file is an empty
    /// journal); without, refuses a journal that already has entries, so that one is never
    /// overwritten by mistake.
    pub(crate) fn open(path: &Path, resume: bool, fsync: bool) -> Result<(Journal, Done), String> {
        let shown = path.display();
        let mut done = Done::default();
        let existing = match File::open(path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("journal {shown}: {e}")),
        };
        let mut needs_header = true;
        let mut ends_cleanly = true;
        if let Some(f) = existing {
            let mut r = BufReader::new(f);
            let mut line = Vec::new();
            let mut first = true;
            loop {
                line.clear();
                let n = r
                    .read_until(b'\n', &mut line)
                    .map_err(|e| format!("journal {shown}: {e}"))?;
                if n == 0 {
                    break;
                }
                ends_cleanly = line.ends_with(b"\n");
                if first {
                    first = false;
                    needs_header = false;
                    if !line.starts_with(b"# greenfetch journal") {
                        return Err(format!(
                            "journal {shown}: not a greenfetch journal (its first line is not \
                             the journal header)"
                        ));
                    }
                    continue;
                }
                if !ends_cleanly {
                    break; // cut short by a kill: its output may not be out
                }
                if let Some(i) = parse_index(&line) {
                    done.insert(i);
                }
            }
            if !resume && done.len() > 0 {
                return Err(format!(
                    "journal {shown} already records {} inputs: add --resume to skip them, or \
                     remove the file to start over",
                    done.len()
                ));
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("journal {shown}: {e}"))?;
        let mut start = Vec::new();
        if !ends_cleanly {
            start.push(b'\n'); // end the torn line, so the next one stands alone
        }
        if needs_header {
            start.extend_from_slice(HEADER.as_bytes());
            start.push(b'\n');
        }
        if !start.is_empty() {
            file.write_all(&start)
                .map_err(|e| format!("journal {shown}: {e}"))?;
        }
        Ok((
            Journal {
                file,
                path: path.to_owned(),
                line: Vec::with_capacity(64),
                fsync,
            },
            done,
        ))
    }

    /// Records that input `index`'s output is flushed, with its outcome (`ok` or an error kind).
    pub(crate) fn record(&mut self, index: u64, outcome: &str) -> io::Result<()> {
        self.line.clear();
        let _ = writeln!(self.line, "{index}\t{outcome}");
        let written = self.file.write_all(&self.line).and_then(|()| {
            if self.fsync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        written.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("#{index}: journal {}: {e}", self.path.display()),
            )
        })
    }
}

fn parse_index(line: &[u8]) -> Option<u64> {
    let end = line.iter().position(|&b| b == b'\t')?;
    std::str::from_utf8(&line[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_set() {
        let mut d = Done::default();
        for i in [0, 5, 63, 64, 1_000_000, 5] {
            d.insert(i);
        }
        assert_eq!(d.len(), 5);
        assert!(d.contains(63) && d.contains(64) && d.contains(1_000_000));
        assert!(!d.contains(1) && !d.contains(65) && !d.contains(u64::MAX / 2));
    }

    #[test]
    fn reopen_skips_torn_lines_and_refuses_without_resume() {
        let dir = std::env::temp_dir().join(format!("gf-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("j");
        let _ = std::fs::remove_file(&p);
        {
            let (mut j, done) = Journal::open(&p, false, false).unwrap();
            assert_eq!(done.len(), 0);
            j.record(0, "ok").unwrap();
            j.record(2, "http_status").unwrap();
        }
        // A kill in the middle of a line.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"1\to").unwrap();
        drop(f);
        assert!(
            Journal::open(&p, false, false)
                .unwrap_err()
                .contains("--resume")
        );
        let (mut j, done) = Journal::open(&p, true, false).unwrap();
        assert_eq!(done.len(), 2);
        assert!(done.contains(0) && done.contains(2) && !done.contains(1));
        j.record(1, "ok").unwrap();
        drop(j);
        let (_, done) = Journal::open(&p, true, false).unwrap();
        assert_eq!(done.len(), 3);
        std::fs::write(&p, "hello\n").unwrap();
        assert!(
            Journal::open(&p, true, false)
                .unwrap_err()
                .contains("not a greenfetch journal")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
