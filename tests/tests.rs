//! greenfetch's integration tests: one binary, one module per area.
mod convenience; // listen, connect, serve, StopServe (eventlet tests/convenience_test.py)
