#!/usr/bin/env python3
"""Writes src/feed/charset/tables.rs: every character encoding Python's codecs decode, with every
name Python and the IANA character-set registry give it, for greenfetch's feed decoder.

Python 3 standard library only. Its inputs are published mappings, never hand-typed tables:

- Python's own `encodings` package (the codecs feedparser decodes with): each single-byte codec's
  `decoding_table` (cp037, mac_greek, koi8_t, ...: 70 of them) becomes a 256-entry table, and
  `encodings.aliases.aliases` plus the codec module names give the labels;
- IANA's character-set registry (https://www.iana.org/assignments/character-sets), as the
  name/alias list in scripts/data/iana-charsets.tsv. Refresh that list from the registry's XML
  with `python3 scripts/gen_charsets.py --iana character-sets.xml`.

    python3 scripts/gen_charsets.py            # rewrites src/feed/charset/tables.rs

The output depends only on the Python version's codecs (recorded in the file's header) and the
TSV: reruns are byte-identical.
"""
import codecs
import encodings
import encodings.aliases
import importlib
import os
import pkgutil
import re
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IANA_TSV = os.path.join(ROOT, "scripts", "data", "iana-charsets.tsv")
OUT = os.path.join(ROOT, "src", "feed", "charset", "tables.rs")

# The Python codecs that are not single-byte tables, and the decoder (a `Special` variant in
# src/feed/charset.rs) that reads each. `None`: no decoder; such a document is `malformed`.
SPECIAL = {
    "ascii": "Ascii",
    "latin_1": "Latin1",
    "charmap": "Latin1",
    "utf_8": "Utf8",
    "utf_8_sig": "Utf8",
    "utf_16": "Utf16",
    "utf_16_le": "Utf16Le",
    "utf_16_be": "Utf16Be",
    "utf_32": "Utf32",
    "utf_32_le": "Utf32Le",
    "utf_32_be": "Utf32Be",
    "utf_7": "Utf7",
    "punycode": "Punycode",
    "unicode_escape": "UnicodeEscape",
    "raw_unicode_escape": "RawUnicodeEscape",
    "idna": "Idna",
    "big5": "Big5",
    "cp950": "Cp950",
    "big5hkscs": "Big5Hkscs",
    "shift_jis": "ShiftJis",
    "cp932": "Cp932",
    "shift_jis_2004": "ShiftJis2004",
    "shift_jisx0213": "ShiftJisx0213",
    "euc_jp": "EucJp",
    "euc_jis_2004": "EucJis2004",
    "euc_jisx0213": "EucJisx0213",
    "euc_kr": "EucKr",
    "cp949": "Cp949",
    "johab": "Johab",
    "gb2312": "Gb2312",
    "gbk": "Gbk",
    "gb18030": "Gb18030",
    "hz": "Hz",
    "iso2022_jp": "Iso2022Jp",
    "iso2022_jp_1": "Iso2022Jp1",
    "iso2022_jp_2": "Iso2022Jp2",
    "iso2022_jp_2004": "Iso2022Jp2004",
    "iso2022_jp_3": "Iso2022Jp3",
    "iso2022_jp_ext": "Iso2022JpExt",
    "iso2022_kr": "Iso2022Kr",
}

# The name greenfetch reports (FeedInfo::encoding) where WHATWG's Encoding Standard names the
# same encoding; elsewhere the IANA registry's preferred name, else Python's.
WHATWG_NAMES = {
    "utf_8": "UTF-8", "utf_8_sig": "UTF-8", "utf_16": "UTF-16", "utf_16_le": "UTF-16LE",
    "utf_16_be": "UTF-16BE", "latin_1": "windows-1252", "charmap": "ISO-8859-1",
    "cp866": "IBM866", "koi8_r": "KOI8-R", "koi8_u": "KOI8-U", "mac_roman": "macintosh",
    "mac_cyrillic": "x-mac-cyrillic", "cp874": "windows-874", "big5": "Big5",
    "shift_jis": "Shift_JIS", "euc_jp": "EUC-JP", "euc_kr": "EUC-KR", "gbk": "GBK",
    "gb18030": "gb18030", "iso2022_jp": "ISO-2022-JP",
    **{f"cp125{i}": f"windows-125{i}" for i in range(9)},
    **{f"iso8859_{i}": f"ISO-8859-{i}" for i in range(2, 17) if i not in (12,)},
}


def python_codecs():
    """{module name: (canonical name, single-byte table or None)} for every text codec."""
    out = {}
    for m in sorted(pkgutil.iter_modules(encodings.__path__), key=lambda m: m.name):
        try:
            info = codecs.lookup(m.name)
        except LookupError:
            continue  # mbcs, oem: Windows only
        if not getattr(info, "_is_text_encoding", True) or m.name == "undefined":
            continue  # bytes-to-bytes codecs (base64_codec, ...) and `undefined`
        mod = importlib.import_module("encodings." + m.name)
        table = getattr(mod, "decoding_table", None)
        if table is None and m.name not in SPECIAL:
            sys.exit(f"{m.name}: neither a decoding_table nor a decoder in SPECIAL")
        out[m.name] = (info.name, table)
    return out


def normalize(label):
    """Python's encodings.normalize_encoding, lower-cased as codecs.lookup does."""
    out, punct = [], False
    for c in label:
        if c.isalnum() or c == ".":
            if punct and out:
                out.append("_")
            if c.isascii():
                out.append(c.lower())
            punct = False
        else:
            punct = True
    return "".join(out)


def module_of(label):
    """The codec module Python's codecs.lookup picks for `label`, or None."""
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    return normalize(info.name).replace(".", "_")


def read_iana_xml(path):
    ns = "{http://www.iana.org/assignments}"
    root = ET.parse(path).getroot()
    updated = root.find(ns + "updated").text
    rows = []
    for r in root.iter(ns + "record"):
        # A name is one token; the registry appends notes to a few after a space.
        name = r.find(ns + "name").text.split()[0]
        pref = r.find(ns + "preferred_alias")
        aliases = [a.text.split()[0] for a in r.findall(ns + "alias")]
        rows.append((name, pref.text.split()[0] if pref is not None else "", aliases))
    with open(IANA_TSV, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# IANA character-set registry, updated {updated}: name, preferred MIME name, "
                "aliases (space-separated). Written by scripts/gen_charsets.py --iana.\n")
        for name, pref, aliases in rows:
            f.write(f"{name}\t{pref}\t{' '.join(aliases)}\n")
    print(f"wrote {len(rows)} registry entries to {IANA_TSV}")


def read_iana():
    rows = []
    with open(IANA_TSV, encoding="utf-8") as f:
        header = f.readline().strip("# \n")
        for line in f:
            name, pref, aliases = line.rstrip("\n").split("\t")
            rows.append((name, pref, aliases.split()))
    return header, rows


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--iana":
        read_iana_xml(sys.argv[2])
    pycodecs = python_codecs()
    iana_header, iana = read_iana()

    # Python's own names: module names, canonical names, every alias.
    labels = {}
    for mod, (canonical, _table) in pycodecs.items():
        labels[normalize(mod)] = mod
        labels[normalize(canonical)] = mod
    for alias, mod in encodings.aliases.aliases.items():
        if mod in pycodecs:
            labels[normalize(alias)] = mod
    python_labels = len(labels)

    # IANA's: a registry entry whose name or any alias Python knows (or, for the IBM0nnnn
    # spellings, whose number Python has as cpNNN) lends all its names to that codec, where
    # Python does not already use the name.
    display = {}
    unmatched = []
    for name, pref, aliases in iana:
        names = [name] + aliases
        mod = next((m for m in map(module_of, names) if m in pycodecs), None)
        if mod is None:
            for n in names:
                m = re.fullmatch(r"(?:cs)?(?:ibm|cp|ccsid)0*(\d+)", n.lower())
                if m and f"cp{m.group(1)}" in pycodecs:
                    mod = f"cp{m.group(1)}"
                    break
        if mod is None:
            unmatched.append(name)
            continue
        display.setdefault(mod, pref or name)
        for n in names:
            labels.setdefault(normalize(n), mod)

    codec_names = {}
    for mod, (canonical, _table) in pycodecs.items():
        codec_names[mod] = WHATWG_NAMES.get(mod) or display.get(mod) or canonical

    # A codec no label reaches is left out (`iso8859_1`: every name of it reaches `latin_1`,
    # which decodes the same).
    pycodecs = {m: v for m, v in pycodecs.items() if m in labels.values()}
    write(pycodecs, labels, codec_names, iana_header, python_labels)
    print(f"{len(pycodecs)} codecs, {len(labels)} labels ({python_labels} from Python); "
          f"{len(unmatched)} IANA entries name no Python codec")


def ident(mod):
    return mod.upper()


def write(pycodecs, labels, codec_names, iana_header, python_labels):
    out = [
        "// @generated by scripts/gen_charsets.py: do not edit. Regenerate with",
        "// `python3 scripts/gen_charsets.py`.",
        f"// Source: Python {sys.version.split()[0]}'s `encodings` package (decoding tables, names,",
        f"// aliases) and the {iana_header.split(':')[0]} (scripts/data/iana-charsets.tsv).",
        "",
        "//! Generated tables: every codec Python decodes, and every name it goes by.",
        "",
        "use super::{Codec, Decoder, Special};",
        "",
    ]
    for mod, (canonical, table) in pycodecs.items():
        if table is not None:
            decoder = f"Decoder::Table(&TABLE_{ident(mod)})"
        else:
            decoder = f"Decoder::Special(Special::{SPECIAL[mod]})"
        out.append(f"/// Python's `{mod}`.")
        out.append(f"pub(super) static {ident(mod)}: Codec = Codec {{")
        out.append(f"    python: {canonical!r},".replace("'", '"'))
        out.append(f"    name: {codec_names[mod]!r},".replace("'", '"'))
        out.append(f"    decoder: {decoder},")
        out.append("};")
    out.append("")
    for mod, (_canonical, table) in pycodecs.items():
        if table is None:
            continue
        out.append(f"/// `encodings.{mod}.decoding_table`; 0xFFFE marks a byte Python leaves "
                   "undefined.")
        out.append(f"static TABLE_{ident(mod)}: [u16; 256] = [")
        for row in range(0, 256, 12):
            cells = ", ".join(f"0x{ord(c):04X}" for c in table[row:row + 12])
            out.append(f"    {cells},")
        out.append("];")
    out.append("")
    out.append(f"/// Every label, normalised as Python normalises encoding names, sorted: "
               f"{python_labels} from Python,")
    out.append(f"/// {len(labels) - python_labels} more from the IANA registry.")
    out.append("pub(super) static LABELS: &[(&str, &Codec)] = &[")
    for label in sorted(labels):
        out.append(f'    ("{label}", &{ident(labels[label])}),')
    out.append("];")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
