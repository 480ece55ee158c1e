//! Criterion benchmarks of the green primitives (being built).
fn main() {}
