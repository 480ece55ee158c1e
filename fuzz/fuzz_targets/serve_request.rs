//! Fuzz target: raw bytes on a connection to the dispatch service (`greenfetch serve`'s request
//! path: HTTP parsing, limits, routing, URL lines, answers); see `check_serve_request` in
//! `fuzz/checks.rs`. The service's agent can reach nothing, so no input makes a connection
//! leave the machine.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_serve_request(data));
