//! Fuzz target: one input line, as `fetch`, `titles` and `serve` check it
//! (see `check_parse_line` in `fuzz/checks.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|line: &[u8]| checks::check_parse_line(line));
