//! Output: results written in order on stdout (data only), problems on stderr, each record
//! written whole as it is ready, so a pipe sees it live ([`sink`] does the writing, and cuts a
//! record that fails back off a file). A closed stdout (`| head`) ends the run quietly.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use greenfetch::fetch::Fetched;
use greenfetch::record::{FetchRecord, TitleRecord};
use greenfetch::titles::Titled;

use super::args::{Format, TitlesFormat};
use super::sink::{self, Stdout};

/// One input's result, as the pipeline hands it to the writer.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) index: u64,
    /// The line as given, for reports when the URL could not be parsed.
    pub(crate) text: String,
    pub(crate) fetched: Fetched,
}

fn ms(d: std::time::Duration) -> f64 {
    greenfetch::record::millis(d)
}

/// Writes outcomes in the chosen format.
pub(crate) struct Writer {
    format: Format,
    out: Stdout,
    dir: Option<PathBuf>,
    fsync: bool,
    line: Vec<u8>,
    pub(crate) stdout_is_terminal: bool,
}

impl Writer {
    pub(crate) fn new(format: Format, dir: Option<PathBuf>, fsync: bool) -> io::Result<Self> {
        if let Some(d) = &dir {
            fs::create_dir_all(d)?;
        }
        Ok(Writer {
            format,
            out: Stdout::new(fsync),
            dir,
            fsync,
            line: Vec::with_capacity(512),
            stdout_is_terminal: io::stdout().is_terminal(),
        })
    }

    /// Writes one outcome, whole. An `Err` means it could not be written (a full disk, a
    /// closed pipe): the run stops there, and the message names the input and the file.
    pub(crate) fn write(&mut self, o: &Outcome) -> io::Result<()> {
        let f = &o.fetched;
        let url = if f.url.is_empty() {
            o.text.as_str()
        } else {
            f.url.as_str()
        };
        let who = format!("#{} {url}", o.index);
        let mut path = None;
        if let Some(dir) = &self.dir {
            let name = file_name(o.index, url);
            if f.is_ok() {
                let p = sink::write_file(dir, &name, &f.body, self.fsync, &who)?;
                path = Some(p.display().to_string());
            } else {
                // A failed input writes no file; a rerun's failure clears what a killed run
                // left half-written under the temporary name.
                let _ = fs::remove_file(sink::part_path(dir, &name));
            }
        }
        self.line.clear();
        match self.format {
            Format::Raw => {
                if self.dir.is_none() && f.is_ok() {
                    self.out.record(&who, &[&f.body])?;
                }
            }
            Format::Jsonl => {
                let rec = FetchRecord::new(o.index, url, f).with_path(path);
                serde_json::to_writer(&mut self.line, &rec).map_err(io::Error::other)?;
                self.line.push(b'\n');
                self.out.record(&who, &[&self.line])?;
            }
            Format::Summary => {
                let status = match (&f.error, f.status) {
                    (Some(e), _) => format!("ERR {}", e.kind),
                    (None, Some(s)) => s.to_string(),
                    (None, None) => "-".into(),
                };
                let _ = writeln!(
                    self.line,
                    "{}\t{}\t{}\t{:.0}ms\t{}",
                    o.index,
                    status,
                    f.bytes,
                    ms(f.elapsed),
                    url
                );
                self.out.record(&who, &[&self.line])?;
            }
        }
        if self.format != Format::Jsonl {
            if let Some(e) = &f.error {
                eprintln!("greenfetch: {who}: {e}");
            }
        }
        Ok(())
    }
}

/// One input's title, as the pipeline hands it to the writer.
#[derive(Debug)]
pub(crate) struct TitleOutcome {
    pub(crate) index: u64,
    /// The line as given, for reports when the URL could not be parsed.
    pub(crate) text: String,
    pub(crate) titled: Titled,
}

/// Writes titles: a line each (empty for a failure, reported on stderr), or jsonl.
pub(crate) struct TitlesWriter {
    format: TitlesFormat,
    entries: bool,
    out: Stdout,
    line: Vec<u8>,
    pub(crate) stdout_is_terminal: bool,
}

impl TitlesWriter {
    pub(crate) fn new(format: TitlesFormat, entries: bool, fsync: bool) -> Self {
        TitlesWriter {
            format,
            entries,
            out: Stdout::new(fsync),
            line: Vec::with_capacity(256),
            stdout_is_terminal: io::stdout().is_terminal(),
        }
    }

    /// Writes one outcome, whole. An `Err` means it could not be written (a full disk, a
    /// closed pipe): the run stops there.
    pub(crate) fn write(&mut self, o: &TitleOutcome) -> io::Result<()> {
        let t = &o.titled;
        let url = if t.url.is_empty() {
            o.text.as_str()
        } else {
            t.url.as_str()
        };
        let who = format!("#{} {url}", o.index);
        self.line.clear();
        match self.format {
            TitlesFormat::Text => {
                if let Some(title) = &t.title {
                    self.line.extend_from_slice(title.as_bytes());
                }
                self.line.push(b'\n');
                self.out.record(&who, &[&self.line])?;
                if let Some(e) = &t.error {
                    eprintln!("greenfetch: {who}: {e}");
                }
            }
            TitlesFormat::Jsonl => {
                let mut rec = TitleRecord::new(o.index, url, t);
                if self.entries {
                    rec = rec.with_entries(&t.entries);
                }
                serde_json::to_writer(&mut self.line, &rec).map_err(io::Error::other)?;
                self.line.push(b'\n');
                self.out.record(&who, &[&self.line])?;
            }
        }
        Ok(())
    }
}

/// `000042-example.test_feed.xml`: the index keeps files in input order, the URL says which.
fn file_name(index: u64, url: &str) -> String {
    let tail = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect::<String>();
    format!("{index:06}-{tail}")
}

/// Whether an error writing stdout means the reader went away.
pub(crate) fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            super::file_name(3, "http://a.test/x?y=1"),
            "000003-a.test_x_y_1"
        );
    }
}
