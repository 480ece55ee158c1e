//! Tests that rely on eventlet's single-thread guarantees, run with one may worker.
