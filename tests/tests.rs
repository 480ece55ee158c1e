//! greenfetch's integration tests: one binary, one module per area.
mod backdoor; // the backdoor console and server (eventlet tests/backdoor_test.py)
mod convenience; // listen, connect, serve, StopServe (eventlet tests/convenience_test.py)
mod examples; // examples/echo_server and examples/backdoor, run as programs
