//! Output: results written in order on stdout (data only), problems on stderr, each record
//! written whole as it is ready, so a pipe sees it live ([`sink`] does the writing, and cuts a
//! record that fails back off a file). A closed stdout (`| head`) ends the run quietly.
//! Lines for stderr (errors, `-v`'s heads) go through [`progress::report`], above the
//! progress display. A blank or `#` line of the input gives nothing, except the empty line
//! that keeps `titles`' text output one line per input line.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use greenfetch::error::ErrorKind;
use greenfetch::fetch::Fetched;
use greenfetch::record::{FetchRecord, TitleRecord};
use greenfetch::titles::Titled;

use super::args::{Format, TitlesFormat};
use super::progress;
use super::sink::{self, Stdout};
use super::writeout::{Figures, WriteOut};

/// One input's result, as the pipeline hands it to the writer.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) index: u64,
    /// The line as given, for reports when the URL could not be parsed.
    pub(crate) text: String,
    pub(crate) fetched: Fetched,
    /// A blank or `#` line: nothing was fetched and nothing is written.
    pub(crate) skipped: bool,
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
    write_out: Option<WriteOut>,
    verbose: bool,
    pub(crate) stdout_is_terminal: bool,
}

impl Writer {
    pub(crate) fn new(
        format: Format,
        dir: Option<PathBuf>,
        fsync: bool,
        write_out: Option<WriteOut>,
        verbose: bool,
    ) -> io::Result<Self> {
        if let Some(d) = &dir {
            fs::create_dir_all(d)?;
        }
        Ok(Writer {
            format,
            out: Stdout::new(fsync),
            dir,
            fsync,
            line: Vec::with_capacity(512),
            write_out,
            verbose,
            stdout_is_terminal: io::stdout().is_terminal(),
        })
    }

    /// Writes one outcome, whole. An `Err` means it could not be written (a full disk, a
    /// closed pipe): the run stops there, and the message names the input and the file.
    pub(crate) fn write(&mut self, o: &Outcome) -> io::Result<()> {
        if o.skipped {
            return Ok(());
        }
        let f = &o.fetched;
        let url = if f.url.is_empty() {
            o.text.as_str()
        } else {
            f.url.as_str()
        };
        let who = format!("#{} {url}", o.index);
        if self.verbose {
            progress::report(verbose_lines(o.index, f));
        }
        let written = self.write_out.as_ref().map(|w| {
            w.render(&Figures {
                index: o.index,
                url,
                fetched: f,
            })
        });
        let extra: &[u8] = written.as_ref().map_or(&[], |r| &r.stdout);
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
                let body: &[u8] = if self.dir.is_none() && f.is_ok() {
                    &f.body
                } else {
                    &[]
                };
                if !body.is_empty() || !extra.is_empty() {
                    self.out.record(&who, &[body, extra])?;
                }
            }
            Format::Jsonl => {
                let rec = FetchRecord::new(o.index, url, f).with_path(path);
                serde_json::to_writer(&mut self.line, &rec).map_err(io::Error::other)?;
                self.line.push(b'\n');
                self.out.record(&who, &[&self.line, extra])?;
            }
            Format::None => {
                if !extra.is_empty() {
                    self.out.record(&who, &[extra])?;
                }
            }
            Format::Summary => {
                let status = match (&f.error, f.status) {
                    (Some(e), Some(code)) if e.kind == ErrorKind::HttpStatus => {
                        format!("ERR {} {code}", e.kind)
                    }
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
                self.out.record(&who, &[&self.line, extra])?;
            }
        }
        if self.format != Format::Jsonl {
            if let Some(e) = &f.error {
                progress::report(format_args!("greenfetch: {who}: {e}"));
            }
        }
        if let Some(r) = written.filter(|r| !r.stderr.is_empty()) {
            let text = String::from_utf8_lossy(&r.stderr);
            progress::report(text.strip_suffix('\n').unwrap_or(&text));
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
    /// A blank or `#` line: its text output is an empty line, its jsonl output nothing.
    pub(crate) skipped: bool,
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
        if o.skipped {
            return match self.format {
                TitlesFormat::Text => self.out.record(&format!("#{}", o.index), &[b"\n"]),
                TitlesFormat::Jsonl => Ok(()),
            };
        }
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
                    progress::report(format_args!("greenfetch: {who}: {e}"));
                } else if t.title.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    let what = match t.kind {
                        Some(greenfetch::titles::TitleKind::Html) => "the page's <title> is empty",
                        _ => "the feed's title is empty",
                    };
                    let from = t.feed_url.as_deref().filter(|f| *f != url);
                    progress::report(format_args!(
                        "greenfetch: {who}: {what}{}",
                        from.map(|f| format!(" (from {f})")).unwrap_or_default()
                    ));
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

/// `-v`: the heads of every request and answer of one input, curl's way (`> ` sent, `< `
/// received, `* ` what happened when no answer came), each line after the input's index.
fn verbose_lines(index: u64, f: &Fetched) -> String {
    let mut out = String::new();
    let mut line = |mark: &str, text: &str| {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = write!(out, "#{index} {mark} {text}");
    };
    for x in &f.trace {
        let parsed = url::Url::parse(&x.url).ok();
        let target = match &parsed {
            Some(u)
                if x.proxy.as_deref().is_some_and(|p| p.starts_with("http://"))
                    && u.scheme() == "http" =>
            {
                x.url.clone()
            }
            Some(u) => match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            },
            None => x.url.clone(),
        };
        if let Some(p) = &x.proxy {
            line("*", &format!("via proxy {p}"));
        }
        line(">", &format!("{} {target} HTTP/1.1", x.method));
        if let Some(u) = &parsed {
            let host = u.host_str().unwrap_or("");
            match u.port() {
                Some(port) => line(">", &format!("Host: {host}:{port}")),
                None => line(">", &format!("Host: {host}")),
            }
        }
        for (k, v) in &x.headers {
            line(">", &format!("{k}: {v}"));
        }
        if let Some(n) = x.body_len {
            line(">", &format!("Content-Length: {n}"));
        }
        line(">", "");
        match &x.response_head {
            Some(head) => {
                let text = String::from_utf8_lossy(head);
                for l in text.split("\r\n").filter(|l| !l.is_empty()) {
                    line("<", l);
                }
                line("<", "");
            }
            None => line("*", "no answer"),
        }
    }
    if let Some(e) = &f.error {
        line("*", &e.to_string());
    }
    out
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
