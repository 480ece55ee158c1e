//! The `greenfetch` command line: parse arguments, run the command, map the outcome to an exit
//! code (0 all succeeded, 1 some input failed, 2 usage error, 130 interrupted).

mod cli;

/// Green threads hop worker threads, so memory is often freed on another thread than the one
/// that allocated it; mimalloc handles that without the arena-lock contention glibc shows.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
