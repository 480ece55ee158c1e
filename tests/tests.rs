//! greenfetch's integration tests: one binary, one module per area.
mod stack; // a large feed-rs parse fits the hub's default coroutine stack (debug build)
