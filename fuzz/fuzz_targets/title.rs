//! Fuzz target: title extraction and autodiscovery from arbitrary bytes, with and without a
//! Content-Type (see `check_title` in `fuzz/checks.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_title(data));
