//! The `greenfetch` commands. Binary-only: uses nothing but the library's public API, clap and
//! indicatif. `run` resolves the arguments, runs a command and says which exit code to use.

mod args;
mod backdoor;
mod bench;
mod config;
mod input;
mod job;
mod journal;
mod merge;
mod output;
mod plot;
mod progress;
mod serve;
mod sink;
mod writeout;

use std::io;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use clap::Parser;

use args::{Cli, Command};

/// Set by the first Ctrl-C: stop reading input, flush what is done in order, exit 130.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit codes.
pub(crate) const EXIT_OK: u8 = 0;
pub(crate) const EXIT_SOME_FAILED: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;
/// An output could not be written (a full disk, an I/O error): the run stopped there.
pub(crate) const EXIT_OUTPUT: u8 = 3;
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Parses the command line and runs it.
pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    raise_open_file_limit();
    let code = match cli.command {
        Command::Fetch(a) => job::fetch(*a),
        Command::Titles(a) => job::titles(*a),
        Command::Merge(a) => merge::merge(a.files),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "greenfetch", &mut io::stdout());
            EXIT_OK
        }
        Command::Man(a) => man(a),
        Command::Serve(a) => serve::serve(*a),
        Command::Fixture(a) => fixture(&a),
        Command::Bench(a) => bench::bench(*a),
    };
    ExitCode::from(code)
}

/// `greenfetch man`: the overview page, one command's page, or every page into a directory;
/// all of them rendered from the clap definitions `--help` shows.
fn man(a: args::ManArgs) -> u8 {
    let mut cmd = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    cmd.build();
    if let Some(dir) = a.dir {
        let names: Vec<String> = std::iter::once("greenfetch".to_owned())
            .chain(
                cmd.get_subcommands()
                    .map(|s| format!("greenfetch-{}", s.get_name())),
            )
            .collect();
        return match std::fs::create_dir_all(&dir)
            .and_then(|()| clap_mangen::generate_to(cmd, &dir))
        {
            Ok(()) => {
                eprintln!(
                    "greenfetch: wrote {} pages to {}: {}",
                    names.len(),
                    dir.display(),
                    names
                        .iter()
                        .map(|n| format!("{n}.1"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                EXIT_OK
            }
            Err(e) => {
                eprintln!("greenfetch: man --dir {}: {e}", dir.display());
                EXIT_SOME_FAILED
            }
        };
    }
    let page = match &a.command {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
                return usage_error(format!(
                    "man {name}: no such command (one of: {})",
                    names.join(", ")
                ));
            }
        },
    };
    match clap_mangen::Man::new(page).render(&mut io::stdout()) {
        Ok(()) => EXIT_OK,
        Err(e) if output::is_broken_pipe(&e) => EXIT_OK,
        Err(e) => {
            eprintln!("greenfetch: writing the manual: {e}");
            EXIT_SOME_FAILED
        }
    }
}

/// `greenfetch fixture`: the fixture server until the process is stopped; its URL alone on
/// the first line of stdout.
fn fixture(a: &args::FixtureArgs) -> u8 {
    config::configure_hub(a.workers);
    let server = match greenfetch::server::FixtureServer::start(&a.listen) {
        Ok(s) => s,
        Err(e) => return usage_error(format!("fixture server on {}: {e}", a.listen)),
    };
    if serve::print_url(server.addr()).is_err() {
        return EXIT_SOME_FAILED;
    }
    eprintln!(
        "greenfetch: fixture server on http://{} (its endpoints: greenfetch fixture --help)",
        server.addr()
    );
    loop {
        std::thread::park();
    }
}

fn usage_error(msg: impl std::fmt::Display) -> u8 {
    eprintln!("greenfetch: {msg}");
    EXIT_USAGE
}

fn install_interrupt_handler() {
    let presses = Arc::new(AtomicU64::new(0));
    let _ = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            INTERRUPTED.store(true, Ordering::SeqCst);
            progress::report(
                "greenfetch: interrupted; flushing finished results (Ctrl-C again to quit now)",
            );
        } else {
            progress::clear();
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
}

/// Raises the soft open-file limit to the hard one: every command may hold thousands of
/// sockets (`fetch -c 5000`, `serve` at its connection cap with two descriptors a client,
/// `fixture` under 10,000 connections, a `bench` level of c connections to the embedded server
/// holding about 2c), and the usual soft limit of 1024 would fail them with EMFILE. Returns the limit now in force; `None` for unlimited or
/// unknown.
#[cfg(unix)]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let higher = match (lim.current, lim.maximum) {
        (Some(cur), Some(max)) => cur < max,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if higher {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    None
}
