//! Content codings (RFC 9110 8.4): a response body's `Content-Encoding` undone as the body is
//! read, one layer per coding.
//!
//! greenfetch decodes `gzip` (and its old name `x-gzip`), `deflate`, `br` (RFC 7932) and `zstd`
//! (RFC 8878), and nothing else, so [`ACCEPT_ENCODING`] names exactly these four. `deflate` is
//! zlib-wrapped deflate (RFC 1950), as RFC 9110 defines it, or raw deflate (RFC 1951), as some
//! servers send it: the first two bytes decide (a valid zlib header means zlib).
//!
//! [`codings`] reads the `Content-Encoding` field values (one or several lines, comma lists)
//! into the codings in the order the server applied them: `identity` is skipped, a coding
//! greenfetch does not know is an error, and at most [`MAX_CODINGS`] may be stacked (curl's
//! limit). [`decoder`] undoes them in reverse order. Every failure says what went wrong in a
//! [`DecodeError`]: an unknown coding, a body that does not decode, one that ends inside its
//! compressed stream (cut short), one with bytes after its compressed stream, a zstd frame that
//! asks for a window over [`ZSTD_WINDOW_MAX`]. An empty body decodes to nothing, whatever its
//! codings (a HEAD answer, a 204, or `Content-Length: 0` with `Content-Encoding: gzip`: curl
//! accepts those too).
//!
//! Memory is bounded per body: gzip and deflate keep a 32 KiB window, br at most RFC 7932's
//! 16 MiB (the non-standard large-window brotli is refused), zstd at most [`ZSTD_WINDOW_MAX`].
//! The decoded size is the reader's business: [`Response::read_body`](super::Response::read_body)
//! stops reading at its limit, so a bomb in any coding stops there.
//!
//! Layer: networking.
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use greenfetch_web::client::decode::{codings, decoder, Coding};
//!
//! let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//! gz.write_all(b"hello, world")?;
//! let body = gz.finish()?;
//!
//! let layers = codings(["identity, x-gzip"])?;
//! assert_eq!(layers, [Coding::Gzip]);
//! let mut text = String::new();
//! decoder(&layers, &body[..]).read_to_string(&mut text)?;
//! assert_eq!(text, "hello, world");
//!
//! let err = codings(["compress"]).unwrap_err();
//! assert_eq!(err.to_string(), "unknown content coding \"compress\"");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// The `Accept-Encoding` request header: every coding [`decoder`] undoes, and no other, in the
/// order curl (`--compressed`) names them, so that a server answers both alike, and a body
/// that echoes the request's headers is the same for both.
///
/// ```
/// assert_eq!(greenfetch_web::client::decode::ACCEPT_ENCODING, "deflate, gzip, br, zstd");
/// ```
pub const ACCEPT_ENCODING: &str = "deflate, gzip, br, zstd";

/// The most content codings stacked on one body (curl's limit); more is a [`DecodeError`].
///
/// ```
/// use greenfetch_web::client::decode::{codings, MAX_CODINGS};
/// assert!(codings(["gzip, gzip, gzip, gzip, gzip"]).is_ok());
/// assert!(codings(["gzip"; MAX_CODINGS + 1]).is_err());
/// ```
pub const MAX_CODINGS: usize = 5;

/// The largest window a zstd frame may ask for: 8 MiB, the limit RFC 9659 sets for the `zstd`
/// content coding (browsers keep to it; libcurl allows 128 MiB). A frame that asks for more is a
/// [`DecodeError`], so a body can make greenfetch hold at most this much of its history.
///
/// ```
/// assert_eq!(greenfetch_web::client::decode::ZSTD_WINDOW_MAX, 8 << 20);
/// ```
pub const ZSTD_WINDOW_MAX: u64 = 1 << ZSTD_WINDOW_LOG_MAX;

/// log2 of [`ZSTD_WINDOW_MAX`], as libzstd takes it.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// Bytes read from the body at a time, below each decoder.
const READ_BUF: usize = 32 * 1024;

/// A content coding greenfetch decodes.
///
/// ```
/// use greenfetch_web::client::decode::Coding;
/// assert_eq!(Coding::parse("X-GZIP"), Some(Coding::Gzip));
/// assert_eq!(Coding::parse("compress"), None);
/// assert_eq!(Coding::Br.name(), "br");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` or `x-gzip` (RFC 1952); several members in a row are one body.
    Gzip,
    /// `deflate`: zlib-wrapped (RFC 1950) or raw (RFC 1951).
    Deflate,
    /// `br`: Brotli (RFC 7932).
    Br,
    /// `zstd`: Zstandard (RFC 8878), frames of at most [`ZSTD_WINDOW_MAX`].
    Zstd,
}

impl Coding {
    /// The coding a `Content-Encoding` token names (any case), if greenfetch decodes it.
    ///
    /// See the [type's example](Coding).
    pub fn parse(token: &str) -> Option<Coding> {
        let t = token.trim();
        [
            ("gzip", Coding::Gzip),
            ("x-gzip", Coding::Gzip),
            ("deflate", Coding::Deflate),
            ("br", Coding::Br),
            ("zstd", Coding::Zstd),
        ]
        .into_iter()
        .find(|(name, _)| t.eq_ignore_ascii_case(name))
        .map(|(_, c)| c)
    }

    /// The coding's name, as [`ACCEPT_ENCODING`] spells it.
    ///
    /// See the [type's example](Coding).
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Br => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// Why a body could not be decoded. Its message is a sentence for the user (the error kind,
/// `decoding`, is said by whoever reports it).
///
/// ```
/// let err = greenfetch_web::client::decode::codings(["br, compress"]).unwrap_err();
/// assert_eq!(err.to_string(), "unknown content coding \"compress\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    fn io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// The codings named by `Content-Encoding` field values, in the order the server applied them
/// (several header lines count as one comma list, in order). Empty items and `identity` are
/// skipped; an unknown coding, or more than [`MAX_CODINGS`], is an error.
///
/// ```
/// use greenfetch_web::client::decode::{codings, Coding};
/// assert_eq!(codings(["gzip", "br"]).unwrap(), [Coding::Gzip, Coding::Br]);
/// assert_eq!(codings(["Identity"]).unwrap(), []);
/// ```
pub fn codings<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<Coding>, DecodeError> {
    let mut out = Vec::new();
    for token in values.into_iter().flat_map(|v| v.split(',')) {
        let token = token.trim();
        if token.is_empty() || token.eq_ignore_ascii_case("identity") {
            continue;
        }
        match Coding::parse(token) {
            Some(c) => out.push(c),
            None => {
                let shown: String = token.chars().take(40).collect();
                return Err(DecodeError(format!(
                    "unknown content coding {:?}",
                    shown.to_ascii_lowercase()
                )));
            }
        }
    }
    if out.len() > MAX_CODINGS {
        return Err(DecodeError(format!(
            "{} content codings stacked; greenfetch, like curl, undoes at most {MAX_CODINGS}",
            out.len()
        )));
    }
    Ok(out)
}

/// A reader of `body` with `codings` (as [`codings`] gives them) undone, the last applied first.
/// Errors that the body itself gives (a connection cut, a timeout) come through unchanged; the
/// decoders' own are [`DecodeError`]s inside the `io::Error` ([`decode_error`] finds them).
///
/// See the [module example](self).
pub fn decoder<'a>(codings: &[Coding], body: impl Read + Send + 'a) -> Box<dyn Read + Send + 'a> {
    let mut reader: Box<dyn Read + Send + 'a> = Box::new(body);
    for &coding in codings.iter().rev() {
        reader = Box::new(Layer {
            coding,
            state: State::Start(reader),
        });
    }
    reader
}

/// The [`DecodeError`] inside an error from a [`decoder`]'s reader, if a decoder failed (rather
/// than the body underneath).
///
/// ```
/// use std::io::Read;
/// use greenfetch_web::client::decode::{decoder, decode_error, Coding};
/// let err = decoder(&[Coding::Br], &b"not brotli at all"[..])
///     .read_to_end(&mut Vec::new())
///     .unwrap_err();
/// assert!(decode_error(&err).unwrap().to_string().starts_with("the br body"));
/// ```
pub fn decode_error(e: &io::Error) -> Option<&DecodeError> {
    e.get_ref().and_then(|i| i.downcast_ref())
}

/// An error of the body underneath, carried through a decoder so that the layer above can tell
/// it from the decoder's own and hand it on unchanged.
#[derive(Debug)]
struct Passed(io::Error);

impl fmt::Display for Passed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Passed {}

/// The body below one decoder: marks its errors as [`Passed`] and notes when it has ended.
struct Tap<'a> {
    inner: Box<dyn Read + Send + 'a>,
    ended: bool,
}

impl Read for Tap<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.ended = true;
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) => Err(io::Error::new(e.kind(), Passed(e))),
        }
    }
}

/// What a decoder reads: the bytes peeked to sniff the format, then the rest of the body.
type Source<'a> = BufReader<io::Chain<io::Cursor<Vec<u8>>, Tap<'a>>>;

/// One coding undone.
struct Layer<'a> {
    coding: Coding,
    state: State<'a>,
}

enum State<'a> {
    /// Nothing read yet: the body may be empty, which decodes to nothing.
    Start(Box<dyn Read + Send + 'a>),
    Decoding(Box<Decoder<'a>>),
    Done,
    Failed,
}

enum Decoder<'a> {
    Gzip(flate2::bufread::MultiGzDecoder<Source<'a>>),
    Deflate(Inflate<Source<'a>>),
    /// Boxed: the brotli decoder's state is nearly 4 KiB.
    Br(Box<brotli_decompressor::Decompressor<Source<'a>>>),
    Zstd(zstd::stream::read::Decoder<'static, Source<'a>>),
}

impl<'a> Decoder<'a> {
    fn new(coding: Coding, peeked: Vec<u8>, tap: Tap<'a>) -> io::Result<Self> {
        let zlib = peeked.len() == 2 && is_zlib_header(peeked[0], peeked[1]);
        if coding == Coding::Gzip && peeked != [0x1f, 0x8b][..peeked.len()] {
            // Not gzip at all: said so, rather than whatever flate2 makes of a short header.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not gzip data (no gzip magic number at the start)",
            ));
        }
        let source = BufReader::with_capacity(READ_BUF, io::Cursor::new(peeked).chain(tap));
        Ok(match coding {
            Coding::Gzip => Decoder::Gzip(flate2::bufread::MultiGzDecoder::new(source)),
            Coding::Deflate => Decoder::Deflate(Inflate {
                src: source,
                z: flate2::Decompress::new(zlib),
                done: false,
            }),
            Coding::Br => {
                let mut d = brotli_decompressor::Decompressor::new(source, READ_BUF);
                // RFC 7932 brotli only: its largest window is 16 MiB, where large-window brotli
                // (which this decoder accepts unless told not to) may ask for 1 GiB.
                d.set_parameter(
                    brotli_decompressor::BrotliDecoderParameter::BROTLI_DECODER_PARAM_LARGE_WINDOW,
                    0,
                );
                Decoder::Br(Box::new(d))
            }
            Coding::Zstd => {
                let mut d = zstd::stream::read::Decoder::with_buffer(source)?;
                d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
                Decoder::Zstd(d)
            }
        })
    }

    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(out),
            Decoder::Deflate(d) => d.read(out),
            Decoder::Br(d) => d.read(out),
            Decoder::Zstd(d) => d.read(out),
        }
    }

    fn source(&mut self) -> &mut Source<'a> {
        match self {
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Deflate(d) => &mut d.src,
            Decoder::Br(d) => d.get_mut(),
            Decoder::Zstd(d) => d.get_mut(),
        }
    }

    /// True when the body underneath has ended.
    fn body_ended(&mut self) -> bool {
        self.source().get_ref().get_ref().1.ended
    }

    /// After the decoder's end: true when nothing follows its compressed stream.
    fn nothing_after(&mut self) -> io::Result<bool> {
        if let Decoder::Br(d) = self {
            // The brotli decoder keeps read-ahead input of its own, and reports bytes left in
            // it only when asked again after its end.
            let mut one = [0u8; 1];
            match d.read(&mut one) {
                Ok(0) => {}
                Ok(_) => return Ok(false),
                Err(e) if e.get_ref().is_some_and(|i| i.is::<Passed>()) => return Err(e),
                Err(_) => return Ok(false),
            }
        }
        Ok(self.source().fill_buf()?.is_empty())
    }
}

/// Whether libzstd refused a frame for the window it asks for (`window_log_max`). The zstd
/// crate hands over an error code only as libzstd's name for it, so the name of that code is
/// what identifies it (compared whole, as libzstd spells it).
fn zstd_window_too_large(e: &io::Error) -> bool {
    use zstd::zstd_safe::{self, zstd_sys::ZSTD_ErrorCode};
    // libzstd returns error `n` as the size_t `-n`.
    let code = (ZSTD_ErrorCode::ZSTD_error_frameParameter_windowTooLarge as usize).wrapping_neg();
    e.get_ref()
        .is_some_and(|i| i.to_string() == zstd_safe::get_error_name(code))
}

impl Layer<'_> {
    /// Whether `e` is flate2 saying the data is not gzip or zlib at all (a bad header, bytes
    /// after the last member): flate2 reports a stream cut short as `UnexpectedEof` or an
    /// early end, and corruption as `InvalidInput`/`InvalidData`, so a corrupt body that
    /// happens to end there is not called cut short. (brotli says `InvalidData` for both.)
    fn flate2_corrupt(&self, e: &io::Error) -> bool {
        matches!(self.coding, Coding::Gzip | Coding::Deflate)
            && matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
            )
    }

    /// A decoder's error as the layer's: the body's own errors unchanged, the rest a
    /// [`DecodeError`] that says what happened to which coding.
    fn error(&self, e: io::Error, body_ended: bool) -> io::Error {
        if e.get_ref().is_some_and(|i| i.is::<Passed>()) {
            let kind = e.kind();
            return match e.into_inner().map(|i| i.downcast::<Passed>()) {
                Some(Ok(p)) => p.0,
                _ => io::Error::from(kind),
            };
        }
        let name = self.coding.name();
        let detail = e.to_string();
        let msg = if self.coding == Coding::Zstd && zstd_window_too_large(&e) {
            format!(
                "the zstd body asks for a window over {} MiB, more than greenfetch decodes \
                 (RFC 9659's limit)",
                ZSTD_WINDOW_MAX >> 20
            )
        } else if e.kind() == io::ErrorKind::UnexpectedEof
            || (body_ended && !self.flate2_corrupt(&e))
        {
            format!("the {name} body ends inside its compressed stream (cut short)")
        } else {
            let detail = if detail.is_empty() {
                "invalid data".to_owned()
            } else {
                detail.to_ascii_lowercase()
            };
            format!("the {name} body does not decode: {detail}")
        };
        DecodeError(msg).io()
    }
}

impl Read for Layer<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.state {
                State::Start(_) => {
                    let State::Start(inner) = std::mem::replace(&mut self.state, State::Failed)
                    else {
                        unreachable!("matched just above")
                    };
                    let mut tap = Tap {
                        inner,
                        ended: false,
                    };
                    // Two bytes: enough to tell an empty body, and zlib from raw deflate.
                    let mut peeked = Vec::with_capacity(2);
                    while peeked.len() < 2 && !tap.ended {
                        let mut b = [0u8; 2];
                        match tap.read(&mut b[..2 - peeked.len()]) {
                            Ok(n) => peeked.extend_from_slice(&b[..n]),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(self.error(e, false)),
                        }
                    }
                    if peeked.is_empty() {
                        self.state = State::Done;
                        return Ok(0);
                    }
                    match Decoder::new(self.coding, peeked, tap) {
                        Ok(d) => self.state = State::Decoding(Box::new(d)),
                        Err(e) => return Err(self.error(e, false)),
                    }
                }
                State::Decoding(d) => {
                    let read = d.read(out);
                    let ended = d.body_ended();
                    let result = match read {
                        Ok(0) => d.nothing_after().map(|empty| (0, empty)),
                        Ok(n) => return Ok(n),
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok((_, true)) => {
                            self.state = State::Done;
                            return Ok(0);
                        }
                        Ok((_, false)) => {
                            self.state = State::Failed;
                            return Err(DecodeError(format!(
                                "the {} body has bytes after its compressed stream",
                                self.coding.name()
                            ))
                            .io());
                        }
                        Err(e) => {
                            let e = self.error(e, ended);
                            self.state = State::Failed;
                            return Err(e);
                        }
                    }
                }
                State::Done => return Ok(0),
                State::Failed => {
                    return Err(DecodeError(format!(
                        "the {} body was not decoded: an earlier read failed",
                        self.coding.name()
                    ))
                    .io());
                }
            }
        }
    }
}

/// The zlib header of RFC 1950: method 8 (deflate), a window of at most 32 KiB, no preset
/// dictionary, and the check bits right.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8
        && cmf >> 4 <= 7
        && flg & 0x20 == 0
        && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// Deflate, zlib-wrapped or raw, that knows whether its stream reached its end: a stream that
/// stops short is an `UnexpectedEof`, not a quiet end (flate2's readers end quietly there).
struct Inflate<R> {
    src: R,
    z: flate2::Decompress,
    done: bool,
}

impl<R: BufRead> Read for Inflate<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        loop {
            let input = self.src.fill_buf()?;
            let at_end = input.is_empty();
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(input, out, flate2::FlushDecompress::None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let used = (self.z.total_in() - in_before) as usize;
            let made = (self.z.total_out() - out_before) as usize;
            self.src.consume(used);
            if status == flate2::Status::StreamEnd {
                self.done = true;
                return Ok(made);
            }
            if made > 0 {
                return Ok(made);
            }
            if at_end {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ends before its end marker",
                ));
            }
            if used == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the inflater makes no progress",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| b"the quick brown fox jumps over the lazy dog\n"[i % 44])
            .collect()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn br(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).unwrap();
        }
        out
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        zstd::stream::encode_all(data, 3).unwrap()
    }

    fn encode(c: Coding, data: &[u8]) -> Vec<u8> {
        match c {
            Coding::Gzip => gzip(data),
            Coding::Deflate => zlib(data),
            Coding::Br => br(data),
            Coding::Zstd => zstd(data),
        }
    }

    const ALL: [Coding; 4] = [Coding::Gzip, Coding::Deflate, Coding::Br, Coding::Zstd];

    /// Decodes `body` with `codings`, reading in small pieces so every decoder is resumed often.
    fn decode(codings: &[Coding], body: &[u8]) -> Result<Vec<u8>, String> {
        let mut r = decoder(codings, body);
        let mut out = Vec::new();
        let mut buf = [0u8; 777];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    return Err(match decode_error(&e) {
                        Some(d) => d.to_string(),
                        None => format!("not a decode error: {e}"),
                    });
                }
            }
        }
    }

    /// A body that arrives a byte at a time, as a slow chunked body may.
    struct Drip<'a>(&'a [u8]);

    impl Read for Drip<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn every_coding_round_trips_whole_and_dripped() {
        let data = text(200_000);
        for c in ALL {
            let body = encode(c, &data);
            assert!(body.len() < data.len() / 10, "{c:?} compresses");
            assert_eq!(decode(&[c], &body).unwrap(), data, "{c:?}");
            let mut out = Vec::new();
            decoder(&[c], Drip(&body)).read_to_end(&mut out).unwrap();
            assert_eq!(out, data, "{c:?} a byte at a time");
        }
    }

    #[test]
    fn deflate_is_zlib_or_raw_as_the_header_says() {
        let data = text(5_000);
        let wrapped = zlib(&data);
        assert!(is_zlib_header(wrapped[0], wrapped[1]));
        let raw = raw_deflate(&data);
        assert!(!is_zlib_header(raw[0], raw[1]));
        assert_eq!(decode(&[Coding::Deflate], &raw).unwrap(), data);
        assert_eq!(decode(&[Coding::Deflate], &wrapped).unwrap(), data);
        // Raw deflate of one byte and of nothing (3 and 2 bytes of stream).
        for tiny in [&b"x"[..], b""] {
            assert_eq!(
                decode(&[Coding::Deflate], &raw_deflate(tiny)).unwrap(),
                tiny
            );
            assert_eq!(decode(&[Coding::Deflate], &zlib(tiny)).unwrap(), tiny);
        }
        // A zlib stream whose Adler-32 check is wrong does not decode.
        let mut bad = wrapped.clone();
        *bad.last_mut().unwrap() ^= 1;
        let err = decode_err(&[Coding::Deflate], &bad);
        assert!(err.starts_with("the deflate body does not decode"), "{err}");
    }

    #[test]
    fn stacked_codings_are_undone_last_first() {
        let data = text(50_000);
        let order = [
            Coding::Deflate,
            Coding::Gzip,
            Coding::Zstd,
            Coding::Br,
            Coding::Gzip,
        ];
        let mut body = data.clone();
        for c in order {
            body = encode(c, &body);
        }
        assert_eq!(decode(&order, &body).unwrap(), data);
        let names: Vec<&str> = order.iter().map(|c| c.name()).collect();
        assert_eq!(
            codings([names[..2].join(", ").as_str(), &names[2..].join(",")]).unwrap(),
            order
        );
        // Undone in the wrong order, it does not decode.
        let reversed: Vec<Coding> = order.iter().rev().copied().collect();
        decode_err(&reversed, &body);
    }

    #[test]
    fn coding_lists_are_read_as_curl_reads_them() {
        assert_eq!(
            codings(["identity", " GZIP ,, identity", "x-gzip"]).unwrap(),
            [Coding::Gzip, Coding::Gzip]
        );
        assert_eq!(codings(["", " "]).unwrap(), []);
        assert_eq!(codings(["gzip"; 5]).unwrap().len(), 5);
        let err = codings(["gzip, br, zstd", "deflate, gzip, br"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "6 content codings stacked; greenfetch, like curl, undoes at most 5"
        );
        for unknown in [
            "compress",
            "x-compress",
            "gzip;q=1",
            "Snappy",
            "identity, lz4",
        ] {
            let err = codings([unknown]).unwrap_err().to_string();
            assert!(
                err.starts_with("unknown content coding \""),
                "{unknown}: {err}"
            );
        }
        assert_eq!(
            codings(["gzip, COMPRESS"]).unwrap_err().to_string(),
            "unknown content coding \"compress\""
        );
    }

    /// The error `decode` gives, or a panic that does not print a large output.
    fn decode_err(codings: &[Coding], body: &[u8]) -> String {
        match decode(codings, body) {
            Ok(out) => panic!("{codings:?}: decoded to {} bytes, no error", out.len()),
            Err(e) => e,
        }
    }

    #[test]
    fn corrupt_bodies_are_decode_errors_that_name_the_coding() {
        let data = text(20_000);
        // Bytes flipped in the middle: gzip (CRC-32), zlib (Adler-32) and zstd with its content
        // checksum catch them. Brotli, raw deflate and zstd without a checksum have none, and
        // may decode such a body to other bytes, as every decoder does.
        let mut checked = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        checked.include_checksum(true).unwrap();
        checked.write_all(&data).unwrap();
        let zstd_checked = checked.finish().unwrap();
        for (c, mut body) in [
            (Coding::Gzip, gzip(&data)),
            (Coding::Deflate, zlib(&data)),
            (Coding::Zstd, zstd_checked),
        ] {
            let mid = body.len() / 2;
            for b in &mut body[mid..mid + 8] {
                *b ^= 0x5a;
            }
            let err = decode_err(&[c], &body);
            assert!(
                err.starts_with(&format!("the {} body ", c.name())),
                "{c:?}: {err}"
            );
        }
        // Not the format at all.
        for c in ALL {
            let err = decode_err(&[c], b"<html>plain text sent as compressed</html>");
            assert!(
                err.starts_with(&format!("the {} body ", c.name())),
                "{c:?}: {err}"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_gzip_says_so_even_when_short() {
        // Five bytes: shorter than a gzip header, so flate2 alone would call it cut short.
        assert_eq!(
            decode_err(&[Coding::Gzip], b"hello"),
            "the gzip body does not decode: not gzip data (no gzip magic number at the start)"
        );
        assert_eq!(
            decode_err(&[Coding::Gzip], b"h"),
            "the gzip body does not decode: not gzip data (no gzip magic number at the start)"
        );
        // One byte of the magic number, then the end: that one is cut short.
        assert_eq!(
            decode_err(&[Coding::Gzip], b"\x1f"),
            "the gzip body ends inside its compressed stream (cut short)"
        );
    }

    #[test]
    fn truncated_bodies_are_cut_short_never_a_quiet_end() {
        let data = text(100_000);
        for c in ALL {
            let body = encode(c, &data);
            for keep in [1, 2, 10, body.len() / 2, body.len() - 1] {
                let err = decode_err(&[c], &body[..keep]);
                assert!(
                    err.starts_with(&format!("the {} body ", c.name())),
                    "{c:?}: {err}"
                );
            }
            let err = decode_err(&[c], &body[..body.len() - 1]);
            assert_eq!(
                err,
                format!(
                    "the {} body ends inside its compressed stream (cut short)",
                    c.name()
                ),
            );
        }
    }

    #[test]
    fn bytes_after_the_compressed_stream_are_an_error() {
        for c in ALL {
            let mut body = encode(c, b"payload");
            body.extend_from_slice(b"junk after the end");
            let err = decode_err(&[c], &body);
            assert!(
                err.starts_with(&format!("the {} body ", c.name())),
                "{c:?}: {err}"
            );
        }
        // But gzip members and zstd frames in a row are one body.
        let mut two = gzip(b"one ");
        two.extend(gzip(b"two"));
        assert_eq!(decode(&[Coding::Gzip], &two).unwrap(), b"one two");
        let mut two = zstd(b"one ");
        two.extend(zstd(b"two"));
        assert_eq!(decode(&[Coding::Zstd], &two).unwrap(), b"one two");
    }

    #[test]
    fn an_empty_body_decodes_to_nothing_whatever_its_codings() {
        for c in ALL {
            assert_eq!(decode(&[c], b"").unwrap(), b"", "{c:?}");
        }
        assert_eq!(decode(&ALL, b"").unwrap(), b"");
        // A coded empty payload is not an empty body: it decodes to nothing too.
        for c in ALL {
            assert_eq!(decode(&[c], &encode(c, b"")).unwrap(), b"", "{c:?}");
        }
    }

    #[derive(Debug)]
    struct Marker;

    impl fmt::Display for Marker {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the connection went away")
        }
    }

    impl std::error::Error for Marker {}

    /// A body whose connection fails after what came before it.
    struct FailNow;

    impl Read for FailNow {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::TimedOut, Marker))
        }
    }

    #[test]
    fn the_bodys_own_errors_come_through_unchanged() {
        let gz = gzip(&text(100_000));
        for (c, body) in [
            (vec![Coding::Gzip], gz.clone()),
            (vec![Coding::Gzip, Coding::Br], br(&gz)),
        ] {
            let failing = io::Cursor::new(body[..body.len() / 2].to_vec()).chain(FailNow);
            let err = decoder(&c, failing)
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{c:?}");
            assert!(decode_error(&err).is_none(), "{c:?}");
            assert!(err.get_ref().unwrap().is::<Marker>(), "{c:?}: {err:?}");
        }
    }

    #[test]
    fn a_zstd_window_over_the_limit_is_refused() {
        // A frame written by hand: magic, a descriptor with no content size, a window
        // descriptor (exponent e: 2^(10+e) bytes), one last RLE block of 4 bytes of 'a'.
        let frame = |exponent: u8| {
            let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, exponent << 3];
            let header: u32 = 1 | (1 << 1) | (4 << 3); // last, RLE, size 4
            f.extend_from_slice(&header.to_le_bytes()[..3]);
            f.push(b'a');
            f
        };
        assert_eq!(decode(&[Coding::Zstd], &frame(13)).unwrap(), b"aaaa"); // 8 MiB
        let err = decode_err(&[Coding::Zstd], &frame(14)); // 16 MiB
        assert_eq!(
            err,
            "the zstd body asks for a window over 8 MiB, more than greenfetch decodes \
             (RFC 9659's limit)"
        );
    }

    #[test]
    fn large_window_brotli_is_refused() {
        let mut out = Vec::new();
        {
            let params = brotli::enc::BrotliEncoderParams {
                large_window: true,
                lgwin: 26,
                ..Default::default()
            };
            let mut w = brotli::CompressorWriter::with_params(&mut out, 4096, &params);
            w.write_all(&text(1000)).unwrap();
        }
        let err = decode_err(&[Coding::Br], &out);
        assert!(err.starts_with("the br body does not decode"), "{err}");
    }

    #[test]
    fn a_bomb_stops_at_the_readers_limit_in_every_coding() {
        // 8 MiB of zeros; read through take(1 MiB + 1) as read_body does.
        let zeros = vec![0u8; 8 << 20];
        for c in ALL {
            let body = encode(c, &zeros);
            assert!(body.len() < 64 << 10, "{c:?}: {} bytes", body.len());
            let mut out = Vec::new();
            decoder(&[c], &body[..])
                .take((1 << 20) + 1)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out.len(), (1 << 20) + 1, "{c:?}");
        }
    }
}
