//! `fetch -w/--write-out TEMPLATE`: curl's write-out, one rendering per input, in the order
//! the outputs are written.
//!
//! The variables keep curl's names and meanings where greenfetch knows the figure:
//! `http_code` (`000` when no answer came), `url_effective`, `url`, `size_download` (the
//! body's bytes as they came over the wire, before decoding, as curl counts them),
//! `time_total` and `time_starttransfer` (seconds, six decimals), `num_redirects`,
//! `num_retries`, `speed_download` (bytes a second), `content_type`, `errormsg`, `exitcode`
//! (0 ok, 1 failed: greenfetch's per-input status), and `json` (all of them as one object);
//! and greenfetch's own `index` and `error_kind`. `%{stdout}` and `%{stderr}` switch where the
//! rest of the template goes. `\n`, `\r`, `\t` and `\\` are escapes, `%%` is `%`. A template
//! starting with `@` is read from that file. A variable greenfetch does not know is a usage
//! error, before anything is fetched (curl warns and writes nothing for it).

use std::fmt::Write as _;

use greenfetch::fetch::Fetched;
use serde_json::json;

/// A variable of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    HttpCode,
    UrlEffective,
    Url,
    SizeDownload,
    TimeTotal,
    TimeStarttransfer,
    NumRedirects,
    NumRetries,
    SpeedDownload,
    ContentType,
    Errormsg,
    Exitcode,
    Json,
    Index,
    ErrorKind,
}

/// Every variable, by its name in the template.
const VARS: [(&str, Var); 16] = [
    ("http_code", Var::HttpCode),
    ("response_code", Var::HttpCode),
    ("url_effective", Var::UrlEffective),
    ("url", Var::Url),
    ("size_download", Var::SizeDownload),
    ("time_total", Var::TimeTotal),
    ("time_starttransfer", Var::TimeStarttransfer),
    ("num_redirects", Var::NumRedirects),
    ("num_retries", Var::NumRetries),
    ("speed_download", Var::SpeedDownload),
    ("content_type", Var::ContentType),
    ("errormsg", Var::Errormsg),
    ("exitcode", Var::Exitcode),
    ("json", Var::Json),
    ("index", Var::Index),
    ("error_kind", Var::ErrorKind),
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
    ToStdout,
    ToStderr,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WriteOut {
    parts: Vec<Part>,
}

/// What one input's rendering gives: bytes for stdout and for stderr.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

/// One input's figures, as the template reads them.
#[derive(Debug)]
pub(crate) struct Figures<'a> {
    pub(crate) index: u64,
    /// The URL as given (after a guessed scheme).
    pub(crate) url: &'a str,
    pub(crate) fetched: &'a Fetched,
}

impl WriteOut {
    /// Reads `-w`'s argument: the template, or `@FILE` for a file holding it.
    pub(crate) fn from_arg(arg: &str) -> Result<WriteOut, String> {
        match arg.strip_prefix('@') {
            Some("-") => Err("-w @-: stdin holds the URLs; put the template in a file".into()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("-w @{path}: {e}"))?;
                WriteOut::parse(&text).map_err(|e| format!("-w @{path}: {e}"))
            }
            None => WriteOut::parse(arg).map_err(|e| format!("-w: {e}")),
        }
    }

    /// Parses a template.
    pub(crate) fn parse(template: &str) -> Result<WriteOut, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek().copied()) {
                ('\\', Some(e @ ('n' | 'r' | 't' | '\\'))) => {
                    chars.next();
                    text.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        _ => '\\',
                    });
                }
                ('%', Some('%')) => {
                    chars.next();
                    text.push('%');
                }
                ('%', Some('{')) => {
                    chars.next();
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => name.push(ch),
                            None => return Err(format!("%{{{name} is not closed with }}")),
                        }
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(match name.as_str() {
                        "stdout" => Part::ToStdout,
                        "stderr" => Part::ToStderr,
                        _ => match VARS.iter().find(|(n, _)| *n == name) {
                            Some((_, v)) => Part::Var(*v),
                            None => {
                                let known: Vec<&str> = VARS.iter().map(|(n, _)| *n).collect();
                                return Err(format!(
                                    "unknown variable %{{{name}}} (known: {}, stdout, stderr)",
                                    known.join(", ")
                                ));
                            }
                        },
                    });
                }
                _ => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(WriteOut { parts })
    }

    /// The template filled in for one input.
    pub(crate) fn render(&self, f: &Figures<'_>) -> Rendered {
        let mut out = Rendered::default();
        let mut to_stderr = false;
        for part in &self.parts {
            let s: String = match part {
                Part::ToStdout => {
                    to_stderr = false;
                    continue;
                }
                Part::ToStderr => {
                    to_stderr = true;
                    continue;
                }
                Part::Text(t) => t.clone(),
                Part::Var(v) => value(*v, f),
            };
            let target = if to_stderr {
                &mut out.stderr
            } else {
                &mut out.stdout
            };
            target.extend_from_slice(s.as_bytes());
        }
        out
    }
}

fn secs(d: std::time::Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

/// A variable's text for one input.
fn value(v: Var, f: &Figures<'_>) -> String {
    let x = f.fetched;
    match v {
        Var::HttpCode => format!("{:03}", x.status.unwrap_or(0)),
        Var::UrlEffective => x.final_url.clone().unwrap_or_else(|| f.url.to_owned()),
        Var::Url => f.url.to_owned(),
        Var::SizeDownload => x.wire_bytes.to_string(),
        Var::TimeTotal => secs(x.elapsed),
        Var::TimeStarttransfer => secs(x.ttfb.unwrap_or_default()),
        Var::NumRedirects => x.redirects.to_string(),
        Var::NumRetries => x.attempts.saturating_sub(1).to_string(),
        Var::SpeedDownload => speed(x).to_string(),
        Var::ContentType => x.content_type.clone().unwrap_or_default(),
        Var::Errormsg => x
            .error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        Var::Exitcode => u8::from(x.error.is_some()).to_string(),
        Var::Index => f.index.to_string(),
        Var::ErrorKind => x
            .error
            .as_ref()
            .map(|e| e.kind.as_str().to_owned())
            .unwrap_or_default(),
        Var::Json => {
            let mut s = String::new();
            let _ = write!(
                s,
                "{}",
                json!({
                    "index": f.index,
                    "url": f.url,
                    "url_effective": value(Var::UrlEffective, f),
                    "http_code": x.status.unwrap_or(0),
                    "response_code": x.status.unwrap_or(0),
                    "size_download": x.wire_bytes,
                    "speed_download": speed(x),
                    "time_total": x.elapsed.as_secs_f64(),
                    "time_starttransfer": x.ttfb.unwrap_or_default().as_secs_f64(),
                    "num_redirects": x.redirects,
                    "num_retries": x.attempts.saturating_sub(1),
                    "content_type": x.content_type,
                    "errormsg": x.error.as_ref().map(ToString::to_string),
                    "error_kind": x.error.as_ref().map(|e| e.kind.as_str()),
                    "exitcode": u8::from(x.error.is_some()),
                })
            );
            s
        }
    }
}

/// Bytes a second over the whole fetch, as curl's `speed_download`.
fn speed(x: &Fetched) -> u64 {
    let secs = x.elapsed.as_secs_f64();
    if secs > 0.0 {
        (x.wire_bytes as f64 / secs) as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenfetch::error::{Error, ErrorKind};
    use std::time::Duration;

    fn fetched() -> Fetched {
        Fetched {
            url: "http://127.0.0.1:1/a".into(),
            final_url: Some("http://127.0.0.1:1/b".into()),
            status: Some(200),
            wire_bytes: 50,
            bytes: 120,
            elapsed: Duration::from_millis(500),
            ttfb: Some(Duration::from_millis(100)),
            redirects: 1,
            attempts: 2,
            content_type: Some("text/plain".into()),
            ..Fetched::default()
        }
    }

    #[test]
    fn variables_escapes_and_streams() {
        let w = WriteOut::parse(
            "%{http_code} %{size_download} %{time_total} %{time_starttransfer} %{num_redirects} \
             %{num_retries} %{url_effective} %{url} 100%% %{speed_download}\\n%{stderr}%{index}\\t%{content_type}",
        )
        .unwrap();
        let x = fetched();
        let r = w.render(&Figures {
            index: 7,
            url: "http://127.0.0.1:1/a",
            fetched: &x,
        });
        assert_eq!(
            String::from_utf8(r.stdout).unwrap(),
            "200 50 0.500000 0.100000 1 1 http://127.0.0.1:1/b http://127.0.0.1:1/a 100% 100\n"
        );
        assert_eq!(String::from_utf8(r.stderr).unwrap(), "7\ttext/plain");
    }

    #[test]
    fn a_failure_has_code_000_and_its_message() {
        let w = WriteOut::parse("%{http_code} %{exitcode} %{error_kind}: %{errormsg}").unwrap();
        let x = Fetched::failed(
            "http://127.0.0.1:9/",
            Error::new(ErrorKind::Connect, "connection refused by 127.0.0.1:9"),
        );
        let r = w.render(&Figures {
            index: 0,
            url: "http://127.0.0.1:9/",
            fetched: &x,
        });
        assert_eq!(
            String::from_utf8(r.stdout).unwrap(),
            "000 1 connect: connect: connection refused by 127.0.0.1:9"
        );
    }

    #[test]
    fn json_holds_every_figure() {
        let w = WriteOut::parse("%{json}").unwrap();
        let x = fetched();
        let r = w.render(&Figures {
            index: 3,
            url: "http://127.0.0.1:1/a",
            fetched: &x,
        });
        let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        assert_eq!(v["http_code"], 200);
        assert_eq!(v["size_download"], 50);
        assert_eq!(v["index"], 3);
        assert_eq!(v["errormsg"], serde_json::Value::Null);
    }

    #[test]
    fn unknown_variables_and_open_braces_are_refused() {
        assert!(
            WriteOut::parse("%{nope}")
                .unwrap_err()
                .contains("unknown variable %{nope}")
        );
        assert!(WriteOut::parse("%{http_code").is_err());
        assert_eq!(
            WriteOut::parse("50%").unwrap().parts,
            vec![Part::Text("50%".into())]
        );
    }
}
