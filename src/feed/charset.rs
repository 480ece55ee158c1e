//! Character encodings for feed titles: every encoding Python's `codecs` decodes (so every one
//! feedparser reads), under every name Python and the IANA registry give it, plus the WHATWG
//! labels encoding_rs knows.
//!
//! A label is looked up as Python looks it up (`codecs.lookup`): ASCII case ignored, every run of
//! characters other than letters, digits and `.` read as one `_`, the ends trimmed (so
//! `ISO 8859-2`, `iso-8859-2` and `ISO_8859-2:1987` are one name; `iso88592` is not, to Python).
//! The names come from the generated [`tables`] module (scripts/gen_charsets.py): Python's
//! aliases, its codec module names, and the IANA registry's names and aliases for the same
//! encodings. Where none matches, a leading `x-` or `cs` is dropped and the name tried again, then
//! WHATWG's labels (encoding_rs: `iso88592`, `x-sjis`, ...), then a code page number in any
//! spelling (`ibm-1252`, `dos-437`, `windows-10000`).
//!
//! Decoding is strict, as Python's is: bytes the encoding does not define make
//! [`Charset::decode`] answer `None`, and the caller moves on as feedparser does. The 70
//! single-byte codecs decode through Python's own tables; the rest through encoding_rs, the
//! charset crate (UTF-7), the idna crate (punycode) or the decoders here (UTF-32, Python's
//! escape codecs).
//!
//! Layer: domain; pure, no I/O.

use std::borrow::Cow;

use encoding_rs::Encoding;

mod tables;

/// One of Python's text codecs.
#[derive(Debug)]
pub(crate) struct Codec {
    /// Python's name for it (`codecs.lookup(label).name`).
    python: &'static str,
    /// The name greenfetch reports: WHATWG's where WHATWG has the encoding, else the IANA
    /// registry's preferred one, else Python's.
    name: &'static str,
    decoder: Decoder,
}

/// How a [`Codec`] decodes.
#[derive(Debug)]
enum Decoder {
    /// A single-byte code page: `table[byte]` is the character, 0xFFFE an undefined byte.
    Table(&'static [u16; 256]),
    /// Anything else.
    Special(Special),
}

/// The codecs that are not single-byte tables (see `SPECIAL` in scripts/gen_charsets.py).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    Ascii,
    Latin1,
    Utf8,
    Utf16,
    Utf16Le,
    Utf16Be,
    Utf32,
    Utf32Le,
    Utf32Be,
    Utf7,
    Punycode,
    UnicodeEscape,
    RawUnicodeEscape,
    Idna,
    Big5,
    Cp950,
    Big5Hkscs,
    ShiftJis,
    Cp932,
    ShiftJis2004,
    ShiftJisx0213,
    EucJp,
    EucJis2004,
    EucJisx0213,
    EucKr,
    Cp949,
    Johab,
    Gb2312,
    Gbk,
    Gb18030,
    Hz,
    Iso2022Jp,
    Iso2022Jp1,
    Iso2022Jp2,
    Iso2022Jp2004,
    Iso2022Jp3,
    Iso2022JpExt,
    Iso2022Kr,
}

/// A character encoding a label names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Charset {
    /// One of Python's codecs.
    Python(&'static Codec),
    /// A WHATWG encoding Python has no name for (encoding_rs).
    Whatwg(&'static Encoding),
}

impl PartialEq for Codec {
    fn eq(&self, other: &Codec) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Codec {}

/// UTF-8.
pub(crate) const UTF_8: Charset = Charset::Python(&tables::UTF_8);
/// UTF-16, little-endian.
pub(crate) const UTF_16LE: Charset = Charset::Python(&tables::UTF_16_LE);
/// UTF-16, big-endian.
pub(crate) const UTF_16BE: Charset = Charset::Python(&tables::UTF_16_BE);
/// UTF-32, little-endian.
pub(crate) const UTF_32LE: Charset = Charset::Python(&tables::UTF_32_LE);
/// UTF-32, big-endian.
pub(crate) const UTF_32BE: Charset = Charset::Python(&tables::UTF_32_BE);
/// EBCDIC US/Canada, which feedparser assumes for a document starting `<?xm` in EBCDIC.
pub(crate) const CP037: Charset = Charset::Python(&tables::CP037);
/// Python's strict windows-1252 (five bytes undefined), feedparser's second fallback.
pub(crate) const CP1252: Charset = Charset::Python(&tables::CP1252);
/// ISO-8859-2, feedparser's last fallback (every byte defined).
pub(crate) const ISO_8859_2: Charset = Charset::Python(&tables::ISO8859_2);

impl Charset {
    /// The label's encoding, or `None` when no one knows it.
    pub(crate) fn for_label(label: &str) -> Option<Charset> {
        let label = label.trim().trim_matches(['"', '\'']);
        let norm = normalize(label);
        let lookup = |key: &str| {
            tables::LABELS
                .binary_search_by(|(l, _)| (*l).cmp(key))
                .ok()
                .map(|i| Charset::Python(tables::LABELS[i].1))
        };
        let found = lookup(&norm)
            .or_else(|| {
                norm.contains('.')
                    .then(|| lookup(&norm.replace('.', "_")))?
            })
            .or_else(|| {
                ["x_", "cs"]
                    .iter()
                    .find_map(|p| norm.strip_prefix(p).and_then(lookup))
            });
        if found.is_some() {
            return found;
        }
        let lower = label.to_ascii_lowercase();
        if let Some(e) = Encoding::for_label_no_replacement(lower.as_bytes()) {
            return Some(Charset::Whatwg(e));
        }
        // A code page number in any spelling: Python's codec of that number, else Windows'.
        let bare: String = lower.chars().filter(char::is_ascii_alphanumeric).collect();
        let digits = ["xibm", "csibm", "windows", "cp", "ibm", "dos", "oem", "ms"]
            .iter()
            .find_map(|p| bare.strip_prefix(p))
            .unwrap_or(&bare);
        let number: u16 = digits.parse().ok()?;
        lookup(&format!("cp{number}"))
            .or_else(|| codepage::to_encoding_no_replacement(number).map(Charset::Whatwg))
    }

    /// The encoding's name as greenfetch reports it (`UTF-8`, `windows-1252`, `IBM037`, ...).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Charset::Python(c) => c.name,
            Charset::Whatwg(e) => e.name(),
        }
    }

    /// Python's name for the encoding, or WHATWG's for one Python lacks.
    pub(crate) fn python_name(self) -> &'static str {
        match self {
            Charset::Python(c) => c.python,
            Charset::Whatwg(e) => e.name(),
        }
    }

    /// Whether this is UTF-8.
    pub(crate) fn is_utf8(self) -> bool {
        self == UTF_8 || self == Charset::Whatwg(encoding_rs::UTF_8)
    }

    /// Whether this is UTF-16 or UTF-32 of either byte order (or with a BOM to tell).
    pub(crate) fn is_utf16_or_32(self) -> bool {
        match self {
            Charset::Python(c) => matches!(
                c.decoder,
                Decoder::Special(
                    Special::Utf16
                        | Special::Utf16Le
                        | Special::Utf16Be
                        | Special::Utf32
                        | Special::Utf32Le
                        | Special::Utf32Be
                )
            ),
            Charset::Whatwg(e) => e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE,
        }
    }

    /// `bytes` in this encoding, strictly: `Ok(None)` when they are not valid in it (as
    /// Python's decoder would raise), `Err(())` when greenfetch has no decoder for it.
    pub(crate) fn decode(self, bytes: &[u8]) -> Result<Option<Cow<'_, str>>, Unsupported> {
        let special = match self {
            Charset::Whatwg(e) => return Ok(whatwg(e, bytes)),
            Charset::Python(c) => match c.decoder {
                Decoder::Table(table) => return Ok(single_byte(table, bytes)),
                Decoder::Special(s) => s,
            },
        };
        let e = match special {
            Special::Ascii => return Ok(bytes.is_ascii().then(|| ascii(bytes))),
            // Latin-1 through windows-1252: feedparser maps the C1 controls latin-1 gives for
            // 0x80-0x9F to windows-1252's characters anyway (mixin's `_cp1252`).
            Special::Latin1 => encoding_rs::WINDOWS_1252,
            Special::Utf8 => encoding_rs::UTF_8,
            Special::Utf16 => return Ok(utf16_with_bom(bytes)),
            Special::Utf16Le => encoding_rs::UTF_16LE,
            Special::Utf16Be => encoding_rs::UTF_16BE,
            Special::Utf32 => return Ok(utf32(bytes, None)),
            Special::Utf32Le => return Ok(utf32(bytes, Some(false))),
            Special::Utf32Be => return Ok(utf32(bytes, Some(true))),
            Special::Utf7 => {
                let (text, errors) = charset::UTF_7.decode_without_bom_handling(bytes);
                return Ok((!errors).then_some(text));
            }
            Special::Punycode => return Ok(punycode(bytes).map(Cow::Owned)),
            Special::UnicodeEscape => return Ok(unicode_escape(bytes, false).map(Cow::Owned)),
            Special::RawUnicodeEscape => return Ok(unicode_escape(bytes, true).map(Cow::Owned)),
            // Python's idna codec reads a document without an `xn--` label as ASCII.
            Special::Idna if !contains(bytes, b"xn--") => {
                return Ok(bytes.is_ascii().then(|| ascii(bytes)))
            }
            Special::Big5 | Special::Cp950 | Special::Big5Hkscs => encoding_rs::BIG5,
            Special::ShiftJis | Special::Cp932 => encoding_rs::SHIFT_JIS,
            Special::EucJp => encoding_rs::EUC_JP,
            Special::EucKr | Special::Cp949 => encoding_rs::EUC_KR,
            Special::Gb2312 | Special::Gbk => encoding_rs::GBK,
            Special::Gb18030 => encoding_rs::GB18030,
            Special::Iso2022Jp => encoding_rs::ISO_2022_JP,
            Special::Idna
            | Special::ShiftJis2004
            | Special::ShiftJisx0213
            | Special::EucJis2004
            | Special::EucJisx0213
            | Special::Johab
            | Special::Hz
            | Special::Iso2022Jp1
            | Special::Iso2022Jp2
            | Special::Iso2022Jp2004
            | Special::Iso2022Jp3
            | Special::Iso2022JpExt
            | Special::Iso2022Kr => return Err(Unsupported),
        };
        Ok(whatwg(e, bytes))
    }
}

/// The encoding is known but greenfetch has no decoder for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported;

/// Python's `encodings.normalize_encoding`, lower-cased as `codecs.lookup` does: runs of
/// characters other than ASCII letters, digits and `.` become one `_`, trimmed at both ends.
fn normalize(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut gap = false;
    for c in label.chars() {
        if c.is_alphanumeric() || c == '.' {
            if gap && !out.is_empty() {
                out.push('_');
            }
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            }
            gap = false;
        } else {
            gap = true;
        }
    }
    out
}

fn whatwg<'a>(e: &'static Encoding, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
    e.decode_without_bom_handling_and_without_replacement(bytes)
}

fn ascii(bytes: &[u8]) -> Cow<'_, str> {
    // Checked ASCII by the caller, so valid UTF-8.
    Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

fn single_byte<'a>(table: &[u16; 256], bytes: &'a [u8]) -> Option<Cow<'a, str>> {
    if bytes.is_ascii() && (0..128).all(|b| table[b] == b as u16) {
        return Some(ascii(bytes));
    }
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    for &b in bytes {
        let unit = table[usize::from(b)];
        out.push(char::from_u32(u32::from(unit)).filter(|_| unit != 0xFFFE)?);
    }
    Some(Cow::Owned(out))
}

/// Python's `utf-16`: a byte-order mark picks the order and is dropped; without one,
/// little-endian.
fn utf16_with_bom(bytes: &[u8]) -> Option<Cow<'_, str>> {
    match bytes {
        [0xfe, 0xff, rest @ ..] => whatwg(encoding_rs::UTF_16BE, rest),
        [0xff, 0xfe, rest @ ..] => whatwg(encoding_rs::UTF_16LE, rest),
        _ => whatwg(encoding_rs::UTF_16LE, bytes),
    }
}

/// UTF-32 of the given order (`Some(true)`: big-endian); `None`: Python's `utf-32`, whose
/// byte-order mark picks the order and is dropped, little-endian without one.
fn utf32(bytes: &[u8], big_endian: Option<bool>) -> Option<Cow<'_, str>> {
    let (big, bytes) = match (big_endian, bytes) {
        (Some(big), _) => (big, bytes),
        (None, [0, 0, 0xfe, 0xff, rest @ ..]) => (true, rest),
        (None, [0xff, 0xfe, 0, 0, rest @ ..]) => (false, rest),
        (None, _) => (false, bytes),
    };
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = String::with_capacity(bytes.len() / 4);
    for unit in bytes.chunks_exact(4) {
        let quad = [unit[0], unit[1], unit[2], unit[3]];
        let n = if big {
            u32::from_be_bytes(quad)
        } else {
            u32::from_le_bytes(quad)
        };
        out.push(char::from_u32(n)?);
    }
    Some(Cow::Owned(out))
}

/// Python's `punycode` codec over a whole document: the ASCII before the last `-` is kept, what
/// follows it is RFC 3492's encoded insertions (the idna crate decodes them). Documents whose
/// insertions would take quadratic time (over 64 KiB of them) are refused.
fn punycode(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok().filter(|t| t.is_ascii())?;
    let (base, extended) = match text.rfind('-') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => ("", text),
    };
    if extended.len() > 64 * 1024 {
        return None;
    }
    if extended.is_empty() {
        return Some(base.to_owned());
    }
    // The crate reads `base-extended` itself; an empty base must not leave a leading `-`.
    if base.is_empty() {
        idna::punycode::decode_to_string(extended)
    } else {
        idna::punycode::decode_to_string(text)
    }
}

/// Python's `unicode_escape` (`raw` false) or `raw_unicode_escape` (`raw` true): bytes are
/// Latin-1, with backslash escapes. Raw reads only `\uXXXX` and `\UXXXXXXXX` (after an
/// unescaped backslash); the full codec also `\\ \' \" \a \b \f \n \r \t \v`, octal `\ooo`,
/// `\xhh` and a backslash-newline (dropped). An escape the full codec does not know keeps its
/// backslash; `\N{name}` (which needs Unicode's name table) counts as undecodable.
fn unicode_escape(bytes: &[u8], raw: bool) -> Option<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |digits: &[u8]| -> Option<char> {
        let s = std::str::from_utf8(digits).ok()?;
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        char::from_u32(u32::from_str_radix(s, 16).ok()?)
    };
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        if raw {
            // A run of backslashes: all kept, and the last one starts an escape when a `u`
            // or `U` follows it and the run is odd.
            let run = bytes[i..].iter().take_while(|&&c| c == b'\\').count();
            let next = bytes.get(i + run).copied();
            let width = match next {
                Some(b'u') if run % 2 == 1 => 4,
                Some(b'U') if run % 2 == 1 => 8,
                _ => {
                    out.extend(std::iter::repeat_n('\\', run));
                    i += run;
                    continue;
                }
            };
            out.extend(std::iter::repeat_n('\\', run - 1));
            let start = i + run + 1;
            out.push(hex(bytes.get(start..start + width)?)?);
            i = start + width;
            continue;
        }
        let Some(&e) = bytes.get(i + 1) else {
            return None; // `\` at the end
        };
        i += 2;
        let c = match e {
            b'\n' => continue,
            b'\\' => '\\',
            b'\'' => '\'',
            b'"' => '"',
            b'a' => '\u{7}',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'v' => '\u{b}',
            b'0'..=b'7' => {
                let mut n = u32::from(e - b'0');
                for _ in 0..2 {
                    match bytes.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            n = n * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                char::from_u32(n)?
            }
            b'x' | b'u' | b'U' => {
                let width = match e {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let c = hex(bytes.get(i..i + width)?)?;
                i += width;
                c
            }
            b'N' => return None,
            other => {
                out.push('\\');
                char::from(other)
            }
        };
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(label: &str) -> Option<&'static str> {
        Charset::for_label(label).map(Charset::python_name)
    }

    #[test]
    fn labels_are_looked_up_as_python_does() {
        assert_eq!(name("ISO 8859-2"), Some("iso8859-2"));
        assert_eq!(name("ISO_8859-2:1987"), Some("iso8859-2"));
        assert_eq!(name("latin2"), Some("iso8859-2"));
        assert_eq!(name("  UTF--8 "), Some("utf-8"));
        assert_eq!(name("ebcdic-cp-us"), Some("cp037"));
        assert_eq!(name("EBCDIC_CP_BE"), Some("cp500"));
        assert_eq!(name("csibm037"), Some("cp037"));
        assert_eq!(name("ibm039"), Some("cp037"));
        assert_eq!(name("cspc8codepage437"), Some("cp437"));
        assert_eq!(name("cp_is"), Some("cp861"));
        assert_eq!(name("maccentraleurope"), Some("mac-latin2"));
        assert_eq!(name("koi8-t"), Some("koi8-t"));
        assert_eq!(name("UTF32"), Some("utf-32"));
        // IANA's names Python lacks, and a dropped x- prefix.
        assert_eq!(name("IBM00858"), Some("cp858"));
        assert_eq!(name("csHPRoman8"), Some("hp-roman8"));
        assert_eq!(name("x-mac-greek"), Some("mac-greek"));
        // WHATWG labels, then code page numbers.
        assert_eq!(name("iso88592"), Some("ISO-8859-2"));
        assert_eq!(name("x-user-defined"), Some("x-user-defined"));
        assert_eq!(name("windows-10000"), Some("macintosh"));
        assert_eq!(name("x-klingon"), None);
        assert_eq!(name("cp99999"), None);
    }

    #[test]
    fn single_byte_tables_are_strict() {
        let cp037 = Charset::for_label("cp037").unwrap();
        assert_eq!(
            cp037.decode(b"\xc8\x85\x93\x93\x96").unwrap().unwrap(),
            "Hello"
        );
        let cp1253 = Charset::for_label("cp1253").unwrap();
        assert_eq!(
            cp1253.decode(b"\xe1\x81").unwrap(),
            None,
            "0x81 is undefined"
        );
    }

    #[test]
    fn utf32_both_orders_and_bom() {
        let le: Vec<u8> = "é☃"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        assert_eq!(UTF_32LE.decode(&le).unwrap().unwrap(), "é☃");
        let mut bom = vec![0, 0, 0xfe, 0xff];
        bom.extend("é".chars().flat_map(|c| (c as u32).to_be_bytes()));
        let utf32 = Charset::for_label("utf-32").unwrap();
        assert_eq!(utf32.decode(&bom).unwrap().unwrap(), "é");
        assert_eq!(UTF_32BE.decode(&[0, 0x11, 0, 0]).unwrap(), None);
        assert_eq!(UTF_32BE.decode(&[0, 0, 0]).unwrap(), None);
    }

    #[test]
    fn escape_codecs_read_as_python() {
        let esc = |s: &[u8], raw| unicode_escape(s, raw);
        assert_eq!(
            esc(br"caf\xe9 \u2603 \n\\ \101 \q", false).unwrap(),
            "café ☃ \n\\ A \\q"
        );
        assert_eq!(esc(br"\N{BULLET}", false), None);
        assert_eq!(esc(b"\\", false), None);
        assert_eq!(
            esc(br"\u00e9 \\u00e9 \x41", true).unwrap(),
            "é \\\\u00e9 \\x41"
        );
        assert_eq!(esc(b"\xe9", true).unwrap(), "é");
        assert_eq!(esc(br"\u12", true), None);
    }

    #[test]
    fn punycode_reads_a_document() {
        assert_eq!(punycode(b"caf-dma").as_deref(), Some("café"));
        assert_eq!(punycode(b"plain-").as_deref(), Some("plain"));
        assert_eq!(punycode(b"a-!").as_deref(), None);
    }
}
