//! The headers that frame a request (`Content-Length`, `Transfer-Encoding`, `Connection`,
//! `Expect`), read one way for both servers: the fixture server and [`http`](super::http)
//! each parse the request line with httparse and hand the headers here, then answer what they
//! find in their own words (the fixture leniently, `http` with a status and a kind).
//!
//! Layer: apps (pure; part of [`server`](super)).

/// What a request's transfer coding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum TransferCoding {
    /// No `Transfer-Encoding` header.
    #[default]
    None,
    /// One `Transfer-Encoding: chunked`, alone.
    Chunked,
    /// Another coding, a list of codings, or the header more than once.
    Other,
}

/// What a request's `Expect` header asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Expect {
    /// No `Expect` header.
    #[default]
    None,
    /// `Expect: 100-continue`.
    Continue,
    /// Any other expectation.
    Other,
}

/// A `Content-Length` that cannot frame the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LengthError {
    /// Not a plain decimal number of at most 19 digits.
    Bad,
    /// Two `Content-Length` headers that disagree.
    Conflicting,
}

/// The framing headers of one request head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HeadFields {
    /// The body's length, when a `Content-Length` gives it (equal copies count as one).
    pub(crate) content_length: Option<u64>,
    /// The `Transfer-Encoding`.
    pub(crate) transfer: TransferCoding,
    /// `Connection: close` was among the tokens.
    pub(crate) close: bool,
    /// `Connection: keep-alive` was among the tokens.
    pub(crate) keep_alive: bool,
    /// The `Expect` header.
    pub(crate) expect: Expect,
}

impl HeadFields {
    /// Reads the framing headers from `headers` (name, value); a `Content-Length` that cannot
    /// be used is an error, whatever else the head says.
    pub(crate) fn read<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<HeadFields, LengthError> {
        let mut f = HeadFields::default();
        for (name, value) in headers {
            let value = value.trim_ascii();
            if name.eq_ignore_ascii_case("content-length") {
                let n = (!value.is_empty()
                    && value.len() <= 19
                    && value.iter().all(u8::is_ascii_digit))
                .then(|| std::str::from_utf8(value).ok()?.parse::<u64>().ok())
                .flatten()
                .ok_or(LengthError::Bad)?;
                if f.content_length.is_some_and(|m| m != n) {
                    return Err(LengthError::Conflicting);
                }
                f.content_length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                // Only `chunked`, once and alone (RFC 9112 6.1).
                let mut codings = value
                    .split(|&b| b == b',')
                    .map(<[u8]>::trim_ascii)
                    .filter(|t| !t.is_empty());
                let only_chunked = codings
                    .next()
                    .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
                    && codings.next().is_none();
                f.transfer = match (f.transfer, only_chunked) {
                    (TransferCoding::None, true) => TransferCoding::Chunked,
                    _ => TransferCoding::Other,
                };
            } else if name.eq_ignore_ascii_case("connection") {
                for token in value.split(|&b| b == b',') {
                    let token = token.trim_ascii();
                    f.close |= token.eq_ignore_ascii_case(b"close");
                    f.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            } else if name.eq_ignore_ascii_case("expect") {
                f.expect = if value.eq_ignore_ascii_case(b"100-continue") {
                    Expect::Continue
                } else {
                    Expect::Other
                };
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(headers: &[(&'static str, &'static str)]) -> Result<HeadFields, LengthError> {
        HeadFields::read(headers.iter().map(|(n, v)| (*n, v.as_bytes())))
    }

    #[test]
    fn framing_headers() {
        let f = read(&[
            ("Content-Length", " 12 "),
            ("content-length", "12"),
            ("Connection", "Keep-Alive, Upgrade"),
            ("Expect", "100-Continue"),
        ])
        .unwrap();
        assert_eq!(f.content_length, Some(12));
        assert!(f.keep_alive && !f.close);
        assert_eq!(f.expect, Expect::Continue);
        assert_eq!(f.transfer, TransferCoding::None);

        assert_eq!(read(&[("Content-Length", "1, 1")]), Err(LengthError::Bad));
        assert_eq!(read(&[("Content-Length", "+1")]), Err(LengthError::Bad));
        assert_eq!(read(&[("Content-Length", "")]), Err(LengthError::Bad));
        // 20 digits: refused even under u64::MAX.
        let long = "10000000000000000000";
        assert_eq!(read(&[("Content-Length", long)]), Err(LengthError::Bad));
        assert_eq!(
            read(&[("Content-Length", "1"), ("Content-Length", "2")]),
            Err(LengthError::Conflicting)
        );

        let chunked = |v| read(&[("Transfer-Encoding", v)]).unwrap().transfer;
        assert_eq!(chunked("Chunked"), TransferCoding::Chunked);
        assert_eq!(chunked("gzip, chunked"), TransferCoding::Other);
        assert_eq!(chunked(""), TransferCoding::Other);
        let twice = read(&[
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "chunked"),
        ]);
        assert_eq!(twice.unwrap().transfer, TransferCoding::Other);
        assert_eq!(read(&[("Expect", "x")]).unwrap().expect, Expect::Other);
        assert!(read(&[("Connection", "close")]).unwrap().close);
    }
}
