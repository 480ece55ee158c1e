//! Fuzz target: the content-coding decoders (gzip, deflate, br, zstd, one or two stacked) on
//! arbitrary bytes, and round trips through the crates' encoders (see `check_decode` in
//! `fuzz/checks.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_decode(data));
