//! greenfetch's integration tests: one binary, one module per area.
mod fixture; // the fixture server: endpoints, keep-alive, faults, port 0, stop
