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

The multi-byte codecs feedparser reads through encoding_rs's decoders (Big5, Shift_JIS, EUC-JP,
EUC-KR, GBK, gb18030) are Python's, not WHATWG's, where the two disagree: for each such Python
codec the generator decodes every unit (byte, pair, triple, gb18030 quad) both with Python and,
through the `encoding_rs_dump` example (scripts/encoding_rs_dump.rs, run with cargo), with
encoding_rs, and writes the units where they differ: Python's character where it has another or
encoding_rs has none, and the ranges of units Python refuses. The JIS X 0213 codecs
(euc_jis_2004, shift_jis_2004, ...) are written the same way, as EUC-JP's and Shift_JIS's
differences.

The output depends only on the Python version's codecs (recorded in the file's header), the
TSV and encoding_rs's version: reruns are byte-identical.
"""
import codecs
import encodings
import encodings.aliases
import importlib
import os
import pkgutil
import re
import subprocess
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

# Python codecs written as their differences from an encoding_rs decoder: codec -> (WHATWG name,
# unit structure). The structures (also `Structure` in src/feed/charset.rs) say how bytes form
# units: `dbcs` a byte 0x81-0xFE and a trail 0x40-0xFE; `sjis` a lead 0x81-0x9F or 0xE0-0xFC and
# a trail 0x40-0xFC; `eucjp` 0x8E or 0xA1-0xFE and a trail 0xA1-0xFE, or 0x8F and two such;
# `gb18030` as `dbcs`, or four bytes (0x81-0xFE, 0x30-0x39, 0x81-0xFE, 0x30-0x39). Any other
# byte from 0x80 up is a unit of its own. A third item names a codec (listed before it) whose
# differences this one's are written against: JIS X 0213:2000 against its 2004 edition, cp950
# against big5.
DELTAS = {
    "big5": ("Big5", "dbcs"),
    "cp950": ("Big5", "dbcs", "big5"),
    "big5hkscs": ("Big5", "dbcs"),
    "shift_jis": ("Shift_JIS", "sjis"),
    "cp932": ("Shift_JIS", "sjis"),
    "shift_jis_2004": ("Shift_JIS", "sjis"),
    "shift_jisx0213": ("Shift_JIS", "sjis", "shift_jis_2004"),
    "euc_jp": ("EUC-JP", "eucjp"),
    "euc_jis_2004": ("EUC-JP", "eucjp"),
    "euc_jisx0213": ("EUC-JP", "eucjp", "euc_jis_2004"),
    "euc_kr": ("EUC-KR", "dbcs"),
    "cp949": ("EUC-KR", "dbcs"),
    "gb2312": ("GBK", "dbcs"),
    "gbk": ("GBK", "dbcs"),
    "gb18030": ("gb18030", "gb18030"),
}


def units(structure):
    """Every unit of a structure, as bytes, in ascending order of their code (big-endian)."""
    high = range(0x80, 0x100)
    out = [bytes([b]) for b in high]
    if structure in ("dbcs", "gb18030"):
        out += [bytes([a, b]) for a in range(0x81, 0xFF) for b in range(0x40, 0xFF)]
    if structure == "sjis":
        leads = list(range(0x81, 0xA0)) + list(range(0xE0, 0xFD))
        out += [bytes([a, b]) for a in leads for b in range(0x40, 0xFD)]
    if structure == "eucjp":
        out += [bytes([a, b]) for a in [0x8E] + list(range(0xA1, 0xFF)) for b in range(0xA1, 0xFF)]
        out += [bytes([0x8F, a, b]) for a in range(0xA1, 0xFF) for b in range(0xA1, 0xFF)]
    if structure == "gb18030":
        out += [bytes([a, b, c, d]) for a in range(0x81, 0xFF) for b in range(0x30, 0x3A)
                for c in range(0x81, 0xFF) for d in range(0x30, 0x3A)]
    return out


def encoding_rs_decodings(requests):
    """{(whatwg name, unit bytes): code points tuple or None}, through the dump example."""
    wanted = sorted(set(requests))
    cmd = ["cargo", "run", "-q", "--release", "--example", "encoding_rs_dump"]
    stdin = "".join(f"{name}\t{unit.hex()}\n" for name, unit in wanted)
    out = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=ROOT, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == len(wanted), "one answer per unit"
    return {key: (None if line == "-" else tuple(int(x, 16) for x in line.split()))
            for key, line in zip(wanted, lines)}


def python_decoding(codec, unit):
    try:
        return tuple(ord(c) for c in unit.decode(codec))
    except UnicodeDecodeError:
        return None


def deltas():
    """{codec: (overrides [(code, value)], invalid ranges [(lo, hi)], pairs [(cp, cp)])}."""
    per_structure = {st: units(st) for st in {v[1] for v in DELTAS.values()}}
    rs = encoding_rs_decodings((v[0], u) for v in DELTAS.values() for u in per_structure[v[1]])
    out = {}
    for codec, (whatwg, structure, *parent) in DELTAS.items():
        overrides, invalid, pairs = [], [], []
        run = None  # an open range of refused units: [lo, hi]
        for unit in per_structure[structure]:
            code = int.from_bytes(unit, "big")
            ours = python_decoding(codec, unit)
            theirs = python_decoding(parent[0], unit) if parent else rs[(whatwg, unit)]
            if ours is None and theirs is None:
                continue  # refused by both: may sit inside a range
            if ours is None:
                run = run or [code, code]
                run[1] = code
                continue
            if run:
                invalid.append(tuple(run))
                run = None
            if ours == theirs:
                continue
            if len(ours) == 1:
                overrides.append((code, ours[0]))
            else:
                assert len(ours) == 2, (codec, unit, ours)
                overrides.append((code, 0x8000_0000 | len(pairs)))
                pairs.append(ours)
        if run:
            invalid.append(tuple(run))
        out[codec] = (overrides, invalid, pairs)
    return out


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
        "use super::{Codec, Decoder, Delta, Special};",
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
    for codec, (overrides, invalid, pairs) in deltas().items():
        whatwg, _structure, *parent = DELTAS[codec]
        than = f"Python's `{parent[0]}`" if parent else f"encoding_rs's {whatwg}"
        out.append(f"/// Where Python's `{codec}` differs from {than}: "
                   f"{len(overrides)} units read otherwise,")
        out.append(f"/// {len(invalid)} ranges of units refused.")
        out.append(f"pub(super) static DELTA_{ident(codec)}: Delta = Delta {{")
        out.append(f"    parent: {'Some(&DELTA_' + ident(parent[0]) + ')' if parent else 'None'},")
        out.append("    overrides: &[")
        for row in range(0, len(overrides), 4):
            cells = " ".join(f"(0x{c:X}, 0x{v:X})," for c, v in overrides[row:row + 4])
            out.append(f"        {cells}")
        out.append("    ],")
        out.append("    invalid: &[")
        for row in range(0, len(invalid), 4):
            cells = " ".join(f"(0x{lo:X}, 0x{hi:X})," for lo, hi in invalid[row:row + 4])
            out.append(f"        {cells}")
        out.append("    ],")
        pair_cells = " ".join(f"[0x{a:X}, 0x{b:X}]," for a, b in pairs)
        out.append(f"    pairs: &[{pair_cells}],")
        out.append("};")
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
