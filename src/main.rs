//! The `greenfetch` command line: parse arguments, run the command, map the outcome to an exit
//! code (0 all succeeded, 1 some input failed, 2 usage error, 130 interrupted).

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
