//! A helper of scripts/gen_charsets.py (built as the `encoding_rs_dump` example): what
//! encoding_rs makes of byte sequences, so the generator can list where Python's codecs differ.
//!
//! Reads lines `ENCODING<TAB>HEX` (a WHATWG encoding name, the bytes in hex) on stdin and
//! prints, for each, the code points encoding_rs decodes them to (hex, space-separated), or `-`
//! when they are not valid in that encoding.
//!
//! ```text
//! printf 'Big5\ta140\n' | cargo run -q --release --example encoding_rs_dump
//! ```

use std::io::{BufRead, Write};

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line.expect("stdin is text");
        let (name, hex) = line.split_once('\t').expect("ENCODING<TAB>HEX");
        let encoding = encoding_rs::Encoding::for_label(name.as_bytes()).expect("a WHATWG name");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        let decoded = match encoding.decode_without_bom_handling_and_without_replacement(&bytes) {
            Some(text) => text
                .chars()
                .map(|c| format!("{:X}", u32::from(c)))
                .collect::<Vec<_>>()
                .join(" "),
            None => "-".to_owned(),
        };
        writeln!(out, "{decoded}").expect("stdout");
    }
}
