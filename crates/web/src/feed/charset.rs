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

// Generated (scripts/gen_charsets.py), and kept as written: four table entries a line.
#[rustfmt::skip]
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

/// Where a Python multi-byte codec differs from the encoding_rs decoder it is read through
/// (generated: `DELTAS` in scripts/gen_charsets.py). A unit is a byte sequence as [`Structure`]
/// groups them, as a big-endian number (`0xA145` for the pair A1 45).
#[derive(Debug)]
struct Delta {
    /// Another codec's differences, consulted for the units these do not list.
    parent: Option<&'static Delta>,
    /// Units Python reads otherwise, sorted: the character, or `0x8000_0000 | i` for the two
    /// characters `pairs[i]`.
    overrides: &'static [(u32, u32)],
    /// Ranges (inclusive) of units Python refuses, sorted and disjoint.
    invalid: &'static [(u32, u32)],
    /// Units Python reads as two characters.
    pairs: &'static [[u32; 2]],
}

/// What a [`Delta`] says of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// As encoding_rs reads it.
    Same,
    /// Undecodable.
    Refused,
    /// These characters (the second is `None` for one).
    Chars(char, Option<char>),
}

impl Delta {
    fn lookup(&self, unit: u32) -> Unit {
        if let Ok(i) = self.overrides.binary_search_by_key(&unit, |&(u, _)| u) {
            let value = self.overrides[i].1;
            let chars = if value & 0x8000_0000 != 0 {
                let [a, b] = self.pairs[(value & 0xffff) as usize];
                (char::from_u32(a), char::from_u32(b))
            } else {
                (char::from_u32(value), None)
            };
            return match chars {
                (Some(a), b) => Unit::Chars(a, b),
                (None, _) => Unit::Refused,
            };
        }
        let i = self.invalid.partition_point(|&(lo, _)| lo <= unit);
        if i > 0 && unit <= self.invalid[i - 1].1 {
            return Unit::Refused;
        }
        self.parent.map_or(Unit::Same, |p| p.lookup(unit))
    }
}

/// How a multi-byte encoding groups bytes into units (`units` in scripts/gen_charsets.py). A
/// byte from 0x80 up that starts no longer unit is a unit of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Structure {
    /// Big5, EUC-KR, GBK: a byte 0x81-0xFE and a trail 0x40-0xFE.
    Dbcs,
    /// Shift_JIS: a lead 0x81-0x9F or 0xE0-0xFC and a trail 0x40-0xFC.
    Sjis,
    /// EUC-JP: 0x8E or 0xA1-0xFE and a trail 0xA1-0xFE; 0x8F and two such.
    EucJp,
    /// gb18030: as `Dbcs`, or four bytes 0x81-0xFE, 0x30-0x39, 0x81-0xFE, 0x30-0x39.
    Gb18030,
}

impl Structure {
    /// The length of the unit that starts at `bytes[0]` (a byte from 0x80 up).
    fn unit_len(self, bytes: &[u8]) -> usize {
        let at = |i: usize, lo: u8, hi: u8| bytes.get(i).is_some_and(|b| (lo..=hi).contains(b));
        let lead = bytes[0];
        match self {
            Structure::Gb18030
                if at(0, 0x81, 0xfe)
                    && at(1, 0x30, 0x39)
                    && at(2, 0x81, 0xfe)
                    && at(3, 0x30, 0x39) =>
            {
                4
            }
            Structure::Dbcs | Structure::Gb18030 if at(0, 0x81, 0xfe) && at(1, 0x40, 0xfe) => 2,
            Structure::Sjis if (matches!(lead, 0x81..=0x9f | 0xe0..=0xfc)) && at(1, 0x40, 0xfc) => {
                2
            }
            Structure::EucJp if lead == 0x8f && at(1, 0xa1, 0xfe) && at(2, 0xa1, 0xfe) => 3,
            Structure::EucJp
                if (lead == 0x8e || (0xa1..=0xfe).contains(&lead)) && at(1, 0xa1, 0xfe) =>
            {
                2
            }
            _ => 1,
        }
    }
}

/// `bytes` in a Python codec that is encoding_rs's `base` but for `delta`: encoding_rs decodes
/// the runs of units that `delta` does not list, in bulk; listed units are Python's characters
/// or make the whole undecodable.
fn decode_delta<'a>(
    base: &'static Encoding,
    structure: Structure,
    delta: &Delta,
    bytes: &'a [u8],
) -> Option<Cow<'a, str>> {
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        i += Encoding::ascii_valid_up_to(&bytes[i..]);
        if i == bytes.len() {
            break;
        }
        let len = structure.unit_len(&bytes[i..]);
        let unit = bytes[i..i + len]
            .iter()
            .fold(0u32, |n, &b| (n << 8) | u32::from(b));
        match delta.lookup(unit) {
            Unit::Same => {}
            Unit::Refused => return None,
            Unit::Chars(a, b) => {
                out.push_str(&whatwg(base, &bytes[copied..i])?);
                out.push(a);
                out.extend(b);
                copied = i + len;
            }
        }
        i += len;
    }
    if copied == 0 {
        return whatwg(base, bytes);
    }
    out.push_str(&whatwg(base, &bytes[copied..])?);
    Some(Cow::Owned(out))
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

impl Special {
    /// The encoding_rs decoder, unit structure and differences of a multi-byte codec read as
    /// encoding_rs's decoder but where Python differs.
    fn delta(self) -> Option<(&'static Encoding, Structure, &'static Delta)> {
        use Structure::{Dbcs, EucJp, Gb18030, Sjis};
        let (e, s, d) = match self {
            Special::Big5 => (encoding_rs::BIG5, Dbcs, &tables::DELTA_BIG5),
            Special::Cp950 => (encoding_rs::BIG5, Dbcs, &tables::DELTA_CP950),
            Special::Big5Hkscs => (encoding_rs::BIG5, Dbcs, &tables::DELTA_BIG5HKSCS),
            Special::ShiftJis => (encoding_rs::SHIFT_JIS, Sjis, &tables::DELTA_SHIFT_JIS),
            Special::Cp932 => (encoding_rs::SHIFT_JIS, Sjis, &tables::DELTA_CP932),
            Special::ShiftJis2004 => (encoding_rs::SHIFT_JIS, Sjis, &tables::DELTA_SHIFT_JIS_2004),
            Special::ShiftJisx0213 => (encoding_rs::SHIFT_JIS, Sjis, &tables::DELTA_SHIFT_JISX0213),
            Special::EucJp => (encoding_rs::EUC_JP, EucJp, &tables::DELTA_EUC_JP),
            Special::EucJis2004 => (encoding_rs::EUC_JP, EucJp, &tables::DELTA_EUC_JIS_2004),
            Special::EucJisx0213 => (encoding_rs::EUC_JP, EucJp, &tables::DELTA_EUC_JISX0213),
            Special::EucKr => (encoding_rs::EUC_KR, Dbcs, &tables::DELTA_EUC_KR),
            Special::Cp949 => (encoding_rs::EUC_KR, Dbcs, &tables::DELTA_CP949),
            Special::Gb2312 => (encoding_rs::GBK, Dbcs, &tables::DELTA_GB2312),
            Special::Gbk => (encoding_rs::GBK, Dbcs, &tables::DELTA_GBK),
            Special::Gb18030 => (encoding_rs::GB18030, Gb18030, &tables::DELTA_GB18030),
            _ => return None,
        };
        Some((e, s, d))
    }
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
        if let Some((base, structure, delta)) = special.delta() {
            return Ok(decode_delta(base, structure, delta, bytes));
        }
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
                return Ok(bytes.is_ascii().then(|| ascii(bytes)));
            }
            Special::Hz => return Ok(hz(bytes).map(Cow::Owned)),
            Special::Johab => return Ok(johab(bytes).map(Cow::Owned)),
            Special::Iso2022Jp => return Ok(iso2022(bytes, &ISO2022_JP).map(Cow::Owned)),
            Special::Iso2022Jp1 => return Ok(iso2022(bytes, &ISO2022_JP_1).map(Cow::Owned)),
            Special::Iso2022Jp2 => return Ok(iso2022(bytes, &ISO2022_JP_2).map(Cow::Owned)),
            Special::Iso2022Jp2004 => return Ok(iso2022(bytes, &ISO2022_JP_2004).map(Cow::Owned)),
            Special::Iso2022Jp3 => return Ok(iso2022(bytes, &ISO2022_JP_3).map(Cow::Owned)),
            Special::Iso2022JpExt => return Ok(iso2022(bytes, &ISO2022_JP_EXT).map(Cow::Owned)),
            Special::Iso2022Kr => return Ok(iso2022(bytes, &ISO2022_KR).map(Cow::Owned)),
            // Read through their deltas above.
            Special::Big5
            | Special::Cp950
            | Special::Big5Hkscs
            | Special::ShiftJis
            | Special::Cp932
            | Special::ShiftJis2004
            | Special::ShiftJisx0213
            | Special::EucJp
            | Special::EucJis2004
            | Special::EucJisx0213
            | Special::EucKr
            | Special::Cp949
            | Special::Gb2312
            | Special::Gbk
            | Special::Gb18030
            | Special::Idna => return Err(Unsupported),
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
    let ascii_low_half = (0..128).all(|b| table[b] == b as u16);
    if ascii_low_half && bytes.is_ascii() {
        return Some(ascii(bytes));
    }
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    let mut i = 0;
    while i < bytes.len() {
        if ascii_low_half {
            // Runs of ASCII are copied whole (encoding_rs's SIMD scan finds their end).
            let run = Encoding::ascii_valid_up_to(&bytes[i..]);
            out.push_str(&ascii(&bytes[i..i + run]));
            i += run;
            if i == bytes.len() {
                break;
            }
        }
        let unit = table[usize::from(bytes[i])];
        out.push(char::from_u32(u32::from(unit)).filter(|_| unit != 0xFFFE)?);
        i += 1;
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
/// follows it is RFC 3492's encoded insertions (the idna crate decodes them). Placing each
/// insertion moves the ones before it, so the time grows with their square: a document with
/// more than 8 KiB of them is refused rather than read for seconds.
fn punycode(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok().filter(|t| t.is_ascii())?;
    let (base, extended) = match text.rfind('-') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => ("", text),
    };
    if extended.len() > 8 * 1024 {
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

/// A Python multi-byte codec by name, read through its delta (for the ISO-2022 and HZ
/// decoders, which hand their two-byte runs to one).
fn decode_special(special: Special, bytes: &[u8]) -> Option<Cow<'_, str>> {
    let (base, structure, delta) = special.delta()?;
    decode_delta(base, structure, delta, bytes)
}

/// Python's `hz` (RFC 1843): ASCII, with `~{` ... `~}` around GB2312 in 7 bits; `~~` is `~`
/// and `~` before a newline joins the lines.
fn hz(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut gb = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'~' {
            match (bytes.get(i + 1)?, gb) {
                (b'~', _) => out.push('~'),
                (b'{', false) => gb = true,
                (b'}', true) => gb = false,
                (b'\n', _) => {}
                _ => return None,
            }
            i += 2;
        } else if c >= 0x80 {
            return None;
        } else if !gb {
            out.push(char::from(c));
            i += 1;
        } else {
            let c2 = *bytes.get(i + 1)?;
            if !(0x21..=0x7e).contains(&c) || !(0x21..=0x7e).contains(&c2) {
                return None;
            }
            out.push_str(&decode_special(Special::Gb2312, &[c | 0x80, c2 | 0x80])?);
            i += 2;
        }
    }
    Some(out)
}

/// Python's `johab` (KS C 5601-1992 annex 3): Hangul syllables and jamo composed from three
/// 5-bit fields of a pair led by 0x84-0xD3; the other KS X 1001 characters in pairs led by
/// 0xD9-0xF9, moved onto KS X 1001's rows and read as EUC-KR.
fn johab(bytes: &[u8]) -> Option<String> {
    // Each 5-bit field's value to its index; FILL for "none", NONE for an invalid value.
    const FILL: u8 = 0xfd;
    const NONE: u8 = 0xff;
    const CHO: [u8; 32] = {
        let mut t = [NONE; 32];
        t[1] = FILL;
        let mut v = 2;
        while v <= 20 {
            t[v] = (v - 2) as u8;
            v += 1;
        }
        t
    };
    const JUNG: [u8; 32] = {
        let mut t = [NONE; 32];
        t[2] = FILL;
        let codes = [
            3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 18, 19, 20, 21, 22, 23, 26, 27, 28, 29,
        ];
        let mut i = 0;
        while i < codes.len() {
            t[codes[i]] = i as u8;
            i += 1;
        }
        t
    };
    const JONG: [u8; 32] = {
        let mut t = [NONE; 32];
        t[1] = FILL;
        let mut v = 2;
        while v <= 29 {
            if v != 18 {
                t[v] = (if v < 18 { v - 1 } else { v - 2 }) as u8;
            }
            v += 1;
        }
        t
    };
    // Hangul compatibility jamo (U+31xx, low byte) for each initial and final consonant index.
    const CHO_JAMO: [u8; 19] = [
        0x31, 0x32, 0x34, 0x37, 0x38, 0x39, 0x41, 0x42, 0x43, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a,
        0x4b, 0x4c, 0x4d, 0x4e,
    ];
    const JONG_JAMO: [u8; 28] = [
        0, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
        0x40, 0x41, 0x42, 0x44, 0x45, 0x46, 0x47, 0x48, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e,
    ];
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c < 0x80 {
            out.push(char::from(c));
            i += 1;
            continue;
        }
        let c2 = *bytes.get(i + 1)?;
        i += 2;
        if c < 0xd8 {
            let cho = CHO[usize::from((c >> 2) & 0x1f)];
            let jung = JUNG[usize::from(((c << 3) | (c2 >> 5)) & 0x1f)];
            let jong = JONG[usize::from(c2 & 0x1f)];
            if cho == NONE || jung == NONE || jong == NONE {
                return None;
            }
            let jamo = |low: u8| char::from_u32(0x3100 | u32::from(low));
            let ch = match (cho == FILL, jung == FILL, jong == FILL) {
                (true, true, true) => Some('\u{3000}'),
                (true, true, false) => jamo(JONG_JAMO[usize::from(jong)]),
                (true, false, true) => jamo(0x4f + jung),
                (false, true, true) => jamo(CHO_JAMO[usize::from(cho)]),
                (false, false, _) => {
                    let jong = if jong == FILL { 0 } else { u32::from(jong) };
                    char::from_u32(0xac00 + u32::from(cho) * 588 + u32::from(jung) * 28 + jong)
                }
                _ => None,
            };
            out.push(ch?);
            continue;
        }
        if c == 0xdf
            || c > 0xf9
            || c2 < 0x31
            || (0x80..0x91).contains(&c2)
            || c2 & 0x7f == 0x7f
            || (c == 0xda && (0xa1..=0xd3).contains(&c2))
        {
            return None;
        }
        // Python's arithmetic, in bytes that wrap (a lead 0xD8 lands below KS X 1001's rows).
        let t1 = if c < 0xe0 {
            c.wrapping_sub(0xd9).wrapping_mul(2)
        } else {
            c.wrapping_mul(2).wrapping_sub(0x97)
        };
        let t2 = if c2 < 0x91 { c2 - 0x31 } else { c2 - 0x43 };
        let t1 = t1.wrapping_add(u8::from(t2 >= 0x5e)).wrapping_add(0x21);
        let t2 = (if t2 < 0x5e { t2 } else { t2 - 0x5e }) + 0x21;
        out.push(ksx1001(t1, t2)?);
    }
    Some(out)
}

/// A character set an ISO-2022 escape sequence designates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum G {
    Ascii,
    /// JIS X 0201 Roman: ASCII but for ¥ and ‾.
    JisRoman,
    /// JIS X 0201 katakana.
    JisKana,
    /// KS X 1001, read as EUC-KR.
    Ksx1001,
    /// Two bytes, read as this codec after setting their high bits (with 0x8F first when the
    /// flag is set: EUC-JP's third plane, JIS X 0212 or JIS X 0213 plane 2).
    Double(Special, bool),
    /// ISO-8859-1 and ISO-8859-7 (high halves), for single shift 2 only.
    Latin1,
    Greek,
}

/// An ISO-2022 codec: the character sets its escape sequences may designate, each as the final
/// byte of the sequence, whether the sequence has a `$` (a two-byte set), and the set.
struct Iso2022 {
    sets: &'static [(u8, bool, G)],
    /// SO and SI shift to G1 and back (ISO-2022-KR); elsewhere they are plain control bytes.
    shifts: bool,
    /// `ESC & @ ESC $ B` designates JIS X 0208 (the ISO-2022-JP family).
    jis_1990: bool,
    /// `ESC . F` and `ESC N` (ISO-2022-JP-2).
    g2: bool,
}

const JIS0208: (u8, bool, G) = (b'B', true, G::Double(Special::EucJp, false));
const JIS0208_1978: (u8, bool, G) = (b'@', true, G::Double(Special::EucJp, false));
const JIS0212: (u8, bool, G) = (b'D', true, G::Double(Special::EucJp, true));
const ROMAN: (u8, bool, G) = (b'J', false, G::JisRoman);

static ISO2022_JP: Iso2022 = Iso2022 {
    sets: &[JIS0208, ROMAN, JIS0208_1978],
    shifts: false,
    jis_1990: true,
    g2: false,
};
static ISO2022_JP_1: Iso2022 = Iso2022 {
    sets: &[JIS0208, JIS0212, ROMAN, JIS0208_1978],
    shifts: false,
    jis_1990: true,
    g2: false,
};
static ISO2022_JP_2: Iso2022 = Iso2022 {
    sets: &[
        JIS0208,
        JIS0212,
        (b'C', true, G::Ksx1001),
        (b'A', true, G::Double(Special::Gb2312, false)),
        ROMAN,
        JIS0208_1978,
        (b'A', false, G::Latin1),
        (b'F', false, G::Greek),
    ],
    shifts: false,
    jis_1990: true,
    g2: true,
};
static ISO2022_JP_EXT: Iso2022 = Iso2022 {
    sets: &[
        JIS0208,
        JIS0212,
        ROMAN,
        (b'I', false, G::JisKana),
        JIS0208_1978,
    ],
    shifts: false,
    jis_1990: true,
    g2: false,
};
static ISO2022_JP_2004: Iso2022 = Iso2022 {
    sets: &[
        (b'Q', true, G::Double(Special::EucJis2004, false)),
        JIS0208,
        (b'P', true, G::Double(Special::EucJis2004, true)),
    ],
    shifts: false,
    jis_1990: true,
    g2: false,
};
static ISO2022_JP_3: Iso2022 = Iso2022 {
    sets: &[
        (b'O', true, G::Double(Special::EucJisx0213, false)),
        JIS0208,
        (b'P', true, G::Double(Special::EucJisx0213, true)),
    ],
    shifts: false,
    jis_1990: true,
    g2: false,
};
static ISO2022_KR: Iso2022 = Iso2022 {
    sets: &[(b'C', true, G::Ksx1001)],
    shifts: true,
    jis_1990: false,
    g2: false,
};

/// The escape sequence at the start of `esc` (which starts with ESC): its length, the G set it
/// designates into (0, 1 or 2) and the set, as CPython's `iso2022processesc` reads it; `None`
/// for one the codec does not accept.
fn iso2022_escape(esc: &[u8], codec: &Iso2022) -> Option<(usize, usize, G)> {
    // The sequence ends at its first capital letter or `@` (skipping `&@`, JIS X 0208-1990's
    // announcer), within 16 bytes.
    let mut end = None;
    let mut i = 1;
    while i < 16 {
        let b = *esc.get(i)?;
        if b.is_ascii_uppercase() || b == b'@' {
            end = Some(i + 1);
            break;
        }
        if codec.jis_1990 && b == b'&' && esc.get(i + 1) == Some(&b'@') {
            i += 2;
        }
        i += 1;
    }
    let (plane, mark, double) = match (end?, &esc[1..]) {
        (3, [b'$', m, ..]) => (0, *m, true),
        (3, [b'(', m, ..]) => (0, *m, false),
        (3, [b')', m, ..]) => (1, *m, false),
        (3, [b'.', m, ..]) if codec.g2 => (2, *m, false),
        (4, [b'$', b'(', m, ..]) => (0, *m, true),
        (4, [b'$', b')', m, ..]) => (1, *m, true),
        (6, [_, _, 0x1b, b'$', b'B', ..]) if codec.jis_1990 => (0, b'B', true),
        _ => return None,
    };
    let set = if (mark, double) == (b'B', false) {
        G::Ascii
    } else {
        codec
            .sets
            .iter()
            .find(|&&(m, d, _)| (m, d) == (mark, double))
            .map(|&(_, _, set)| set)?
    };
    Some((end?, plane, set))
}

/// Python's ISO-2022 decoders (`iso2022_jp`, `_1`, `_2`, `_2004`, `_3`, `_ext`, `iso2022_kr`):
/// escape sequences designate character sets into G0, G1 (shifted to by SO) and G2 (single
/// shift `ESC N`); a newline ends a shift; control bytes pass in any set; a byte from 0x80 up, a
/// sequence the codec does not accept or a pair its set lacks is undecodable. An escape that
/// designates nothing passes through, as Python passes it, up to its final letter.
fn iso2022(bytes: &[u8], codec: &Iso2022) -> Option<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut g = [G::Ascii; 3];
    let mut shifted = false;
    let mut passing_escape = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if passing_escape {
            out.push(char::from(c));
            passing_escape = !(c.is_ascii_uppercase() || c == b'@');
            i += 1;
            continue;
        }
        match c {
            0x1b => {
                let next = *bytes.get(i + 1)?;
                if matches!(next, b'(' | b')' | b'$' | b'.' | b'&') {
                    let (len, plane, set) = iso2022_escape(&bytes[i..], codec)?;
                    g[plane] = set;
                    i += len;
                } else if next == b'N' && codec.g2 {
                    let b = *bytes.get(i + 2)?;
                    let ch = match g[2] {
                        G::Latin1 if b < 0x80 => char::from(b + 0x80),
                        G::Greek => iso8859_7_g2(b ^ 0x80)?,
                        G::Ascii if b < 0x80 => char::from(b),
                        _ => return None,
                    };
                    out.push(ch);
                    i += 3;
                } else {
                    out.push('\u{1b}');
                    passing_escape = true;
                    i += 1;
                }
            }
            0x0e | 0x0f if codec.shifts => {
                shifted = c == 0x0e;
                i += 1;
            }
            b'\n' => {
                shifted = false;
                out.push('\n');
                i += 1;
            }
            0x80.. => return None,
            _ if c < 0x20 => {
                out.push(char::from(c));
                i += 1;
            }
            _ => {
                let set = if shifted { g[1] } else { g[0] };
                let width = match set {
                    G::Ascii => {
                        out.push(char::from(c));
                        1
                    }
                    G::JisRoman => {
                        out.push(match c {
                            0x5c => '\u{a5}',
                            0x7e => '\u{203e}',
                            _ => char::from(c),
                        });
                        1
                    }
                    G::JisKana if (0x21..=0x5f).contains(&c) => {
                        out.push(char::from_u32(0xff40 + u32::from(c))?);
                        1
                    }
                    G::JisKana | G::Latin1 | G::Greek => return None,
                    G::Ksx1001 => {
                        out.push(ksx1001(c, *bytes.get(i + 1)?)?);
                        2
                    }
                    G::Double(special, third_plane) => {
                        let c2 = *bytes.get(i + 1)?;
                        if !(0x20..0x80).contains(&c2) {
                            return None;
                        }
                        // JIS X 0213:2000 plane 2 has one cell its 2004 edition and
                        // euc_jisx0213 read otherwise (CPython's EMULATE_JISX0213_2000).
                        if (special, third_plane, c, c2) == (Special::EucJisx0213, true, 0x7d, 0x3b)
                        {
                            out.push('\u{9b1c}');
                        } else {
                            let triple = [0x8f, c | 0x80, c2 | 0x80];
                            let unit = if third_plane {
                                &triple[..]
                            } else {
                                &triple[1..]
                            };
                            out.push_str(&decode_special(special, unit)?);
                        }
                        2
                    }
                };
                i += width;
            }
        }
    }
    Some(out)
}

/// One KS X 1001 character from its row and cell bytes (0x21-0x7E each), as Python's `ksx1001`
/// map reads it: EUC-KR's, and the Hangul filler (which Python's `euc_kr` only takes at the
/// start of a KS X 1001:1998 composed syllable).
fn ksx1001(c1: u8, c2: u8) -> Option<char> {
    if !(0x21..=0x7e).contains(&c1) || !(0x21..=0x7e).contains(&c2) {
        return None;
    }
    if (c1, c2) == (0x24, 0x54) {
        return Some('\u{3164}');
    }
    decode_special(Special::EucKr, &[c1 | 0x80, c2 | 0x80])?
        .chars()
        .next()
}

/// The ISO-8859-7 of Python's ISO-2022-JP-2 single shift (CPython's `ISO8859_7_DECODE`, the
/// 1987 edition: no euro, drachma or ypogegrammeni).
fn iso8859_7_g2(c: u8) -> Option<char> {
    let c32 = u32::from(c);
    let latin = c < 0xa0 || (c < 0xc0 && 0x288f_3bc9_u32 & (1 << (c - 0xa0)) != 0);
    if latin {
        return char::from_u32(c32);
    }
    if (0xb4..=0xfe).contains(&c) && (c >= 0xd4 || 0xbfff_fd77_u32 & (1 << (c - 0xb4)) != 0) {
        return char::from_u32(0x02d0 + c32);
    }
    match c {
        0xa1 => Some('\u{2018}'),
        0xa2 => Some('\u{2019}'),
        0xaf => Some('\u{2015}'),
        _ => None,
    }
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

    /// Every expectation here is what Python 3.11's codec gives for the same bytes.
    #[test]
    fn multi_byte_codecs_are_pythons() {
        let dec = |label: &str, bytes: &[u8]| {
            Charset::for_label(label)
                .unwrap()
                .decode(bytes)
                .unwrap()
                .map(Cow::into_owned)
        };
        // Where WHATWG's table (encoding_rs) reads otherwise.
        assert_eq!(dec("big5", b"\xa1\x45").as_deref(), Some("\u{2022}"));
        assert_eq!(dec("cp950", b"\xa1\x45").as_deref(), Some("\u{2027}"));
        assert_eq!(dec("big5", b"\xc6\xa1").as_deref(), Some("\u{30fe}"));
        assert_eq!(dec("shift_jis", b"\x81\x60").as_deref(), Some("\u{301c}"));
        assert_eq!(dec("cp932", b"\x81\x60").as_deref(), Some("\u{ff5e}"));
        assert_eq!(dec("gb2312", b"\xa1\xa4").as_deref(), Some("\u{30fb}"));
        assert_eq!(
            dec("big5hkscs", b"\x88\x62").as_deref(),
            Some("\u{ca}\u{304}")
        );
        assert_eq!(
            dec("gb18030", b"\x81\x30\x81\x30").as_deref(),
            Some("\u{80}")
        );
        // Units Python refuses and WHATWG reads.
        assert_eq!(dec("shift_jis", b"\x87\x40"), None);
        assert_eq!(dec("euc_kr", b"\x81\x41"), None);
        assert_eq!(dec("gbk", b"\x80"), None);
        // JIS X 0213, which encoding_rs lacks.
        assert_eq!(
            dec("euc_jis_2004", b"\xa9\xa1").as_deref(),
            Some("\u{20ac}")
        );
        assert_eq!(
            dec("shift_jis_2004", b"\x85\x9f").as_deref(),
            Some("\u{104}")
        );
        // Stateful and composed ones.
        assert_eq!(dec("johab", b"\x88\x61").as_deref(), Some("\u{ac00}"));
        assert_eq!(dec("johab", b"\xda\xd4").as_deref(), Some("\u{3164}"));
        assert_eq!(dec("hz", b"~{VP~}~~").as_deref(), Some("\u{4e2d}~"));
        assert_eq!(dec("hz", b"~{VP\nND~}"), None);
        assert_eq!(
            dec("iso-2022-kr", b"\x1b$)C\x0e0!\x0f").as_deref(),
            Some("\u{ac00}")
        );
        assert_eq!(
            dec("iso2022_jp_2", b"\x1b.A\x1bNi").as_deref(),
            Some("\u{e9}")
        );
        assert_eq!(
            dec("iso2022_jp", b"\x1b(J\\~").as_deref(),
            Some("\u{a5}\u{203e}")
        );
        assert_eq!(
            dec("iso2022_jp", b"\x1b(I1"),
            None,
            "katakana is iso2022_jp_ext's"
        );
        assert_eq!(
            dec("iso2022_jp_ext", b"\x1b(I1").as_deref(),
            Some("\u{ff71}")
        );
    }

    #[test]
    fn punycode_reads_a_document() {
        assert_eq!(punycode(b"caf-dma").as_deref(), Some("café"));
        assert_eq!(punycode(b"plain-").as_deref(), Some("plain"));
        assert_eq!(punycode(b"a-!").as_deref(), None);
    }
}
