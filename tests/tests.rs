//! greenfetch's integration tests: one binary, one module per area.
mod cli; // `greenfetch fetch` end to end: order, formats, bad lines, limits, faults, exit codes
mod fixture; // the fixture server: endpoints, keep-alive, faults, port 0, stop
mod green_ureq; // the green ureq agent: reuse, overlap, TLS via wrap_ssl, injected resolver
mod stack; // a large feed-rs parse fits the hub's default coroutine stack (debug build)
