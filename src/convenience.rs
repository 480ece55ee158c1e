//! `listen`, `connect`, `serve` and `StopServe`: eventlet's server and client helpers on may
//! sockets. (Being built.)
