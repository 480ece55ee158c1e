//! The backdoor console (`--backdoor 127.0.0.1:PORT`) of `fetch`, `titles` and `serve`:
//! `stats`, `pool`, `resize N`, `pause`, `resume`, `quiet`, `verbose`, `help`, served in a
//! green thread on a loopback address for the whole run.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use greenfetch::GreenPool;

/// Counters the backdoor reads while a run goes on.
#[derive(Debug, Default)]
pub(crate) struct RunStats {
    pub(crate) done: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Size to restore on `resume` (0: not paused).
    paused_size: AtomicU64,
    pub(crate) quiet: AtomicBool,
}

/// Serves the backdoor console on a loopback address, in a green thread, for the whole run.
/// `describe` answers `stats`; the other commands steer `pool`.
pub(crate) fn start_backdoor(
    addr: std::net::SocketAddr,
    pool: &GreenPool,
    stats: &Arc<RunStats>,
    describe: impl Fn() -> String + Send + Sync + 'static,
) -> io::Result<()> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the backdoor listens on loopback addresses only",
        ));
    }
    let listener = greenfetch::listen(addr)?;
    eprintln!("greenfetch: backdoor on {}", listener.local_addr()?);
    let (p2, p3, p4, p5) = (pool.clone(), pool.clone(), pool.clone(), pool.clone());
    let (s2, s3, s4, s5) = (stats.clone(), stats.clone(), stats.clone(), stats.clone());
    let commands = greenfetch::backdoor::Commands::new()
        .command("stats", "results so far", move |_| describe())
        .command(
            "pool",
            "the fetch pool: size, running, free, waiting",
            move |_| {
                format!(
                    "size {} running {} free {} waiting {}",
                    p2.size(),
                    p2.running(),
                    p2.free(),
                    p2.waiting()
                )
            },
        )
        .command(
            "resize",
            "resize N: change the concurrency",
            move |arg| match arg.trim().parse::<usize>() {
                Ok(n) => {
                    p3.resize(n);
                    s2.paused_size.store(0, Ordering::Relaxed);
                    format!("size {n}")
                }
                Err(_) => "usage: resize N".to_owned(),
            },
        )
        .command(
            "pause",
            "start no new fetch (running ones finish)",
            move |_| {
                let size = p4.size();
                if size > 0 {
                    s3.paused_size.store(size as u64, Ordering::Relaxed);
                    p4.resize(0);
                }
                "paused".to_owned()
            },
        )
        .command("resume", "undo pause", move |_| {
            let size = s4.paused_size.swap(0, Ordering::Relaxed);
            if size > 0 {
                p5.resize(size as usize);
            }
            format!("resumed at size {}", p5.size())
        })
        .command("quiet", "hide the progress display", move |_| {
            s5.quiet.store(true, Ordering::Relaxed);
            "quiet".to_owned()
        });
    let s6 = stats.clone();
    let commands = commands.command(
        "verbose",
        "show the progress display (on a terminal)",
        move |_| {
            s6.quiet.store(false, Ordering::Relaxed);
            "verbose".to_owned()
        },
    );
    greenfetch::spawn_n(move || {
        if let Err(e) = greenfetch::backdoor::backdoor_server(listener, commands) {
            eprintln!("greenfetch: backdoor stopped: {e}");
        }
    });
    Ok(())
}
