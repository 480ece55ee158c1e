//! A long-running job inspected and steered through the backdoor (eventlet's backdoor recipe:
//! `eventlet.spawn(backdoor.backdoor_server, eventlet.listen(('localhost', 3000)), locals())`).
//!
//! ```text
//! cargo run --example backdoor -- [--port P] [--workers N] [--seconds S] [--iterations N]
//! ```
//!
//! A pool of green threads increments a shared counter, one step every 10 ms each, until
//! `--seconds` (default 30) have passed or the counter reaches `--iterations` (default: no
//! limit), or until someone types `stop`. The backdoor's address is printed on stdout first;
//! connect with `nc 127.0.0.1 PORT` and try `help`, `stats`, `count`, `pause`, `resume`, `stop`.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use greenfetch::{Commands, Event, GreenPool, backdoor_server, listen};

const USAGE: &str = "usage: backdoor [--port P] [--workers N] [--seconds S] [--iterations N]";

/// How long each worker waits between two increments.
const STEP: Duration = Duration::from_millis(10);

struct Args {
    port: u16,
    workers: usize,
    seconds: u64,
    iterations: Option<u64>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        port: 0,
        workers: 4,
        seconds: 30,
        iterations: None,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value {value:?} for {flag}");
        match flag.as_str() {
            "--port" => parsed.port = value.parse().map_err(bad)?,
            "--workers" => parsed.workers = value.parse().map_err(bad)?,
            "--seconds" => parsed.seconds = value.parse().map_err(bad)?,
            "--iterations" => parsed.iterations = Some(value.parse().map_err(bad)?),
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    if parsed.workers == 0 {
        return Err("--workers must be at least 1".into());
    }
    Ok(parsed)
}

/// The job's state, shared by the workers and the backdoor's commands.
struct Job {
    count: AtomicU64,
    /// Sent while the job runs; reset while it is paused (workers park on it).
    running: Event<()>,
    stop: AtomicBool,
    limit: Option<u64>,
    started: Instant,
    pool: GreenPool,
}

impl Job {
    fn worker(&self) {
        loop {
            self.running.wait(); // parks here while paused
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
            if self.limit.is_some_and(|limit| n >= limit) {
                self.stop();
                return;
            }
            greenfetch::sleep(STEP);
        }
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.running.send(()); // wake paused workers so they see `stop`
    }

    fn stats(&self) -> String {
        let count = self.count.load(Ordering::SeqCst);
        let secs = self.started.elapsed().as_secs_f64();
        format!(
            "count {count}, workers running {} of {}, {}, {secs:.2} s elapsed, {:.0} steps/s",
            self.pool.running(),
            self.pool.size(),
            if self.running.ready() {
                "running"
            } else {
                "paused"
            },
            count as f64 / secs.max(1e-9),
        )
    }
}

fn commands(job: &Arc<Job>) -> Commands {
    let (j1, j2, j3, j4, j5) = (
        job.clone(),
        job.clone(),
        job.clone(),
        job.clone(),
        job.clone(),
    );
    Commands::new()
        .command(
            "stats",
            "counter, workers, state, elapsed time, rate",
            move |_| j1.stats(),
        )
        .command("count", "the counter", move |_| {
            j2.count.load(Ordering::SeqCst).to_string()
        })
        .command(
            "pause",
            "park the workers after their current step",
            move |_| match j3.running.reset() {
                Ok(()) => "paused".into(),
                Err(_) => "already paused".into(),
            },
        )
        .command("resume", "let paused workers go on", move |_| {
            match j4.running.send(()) {
                Ok(()) => "resumed".into(),
                Err(_) => "not paused".into(),
            }
        })
        .command("stop", "end the job now (the program exits)", move |_| {
            j5.stop();
            "stopping".into()
        })
}

fn run(args: Args) -> io::Result<()> {
    let job = Arc::new(Job {
        count: AtomicU64::new(0),
        running: Event::new(),
        stop: AtomicBool::new(false),
        limit: args.iterations,
        started: Instant::now(),
        pool: GreenPool::new(args.workers),
    });
    let _ = job.running.send(());

    let listener = listen(("127.0.0.1", args.port))?;
    println!("backdoor listening on {}", listener.local_addr()?);
    io::stdout().flush()?;
    let console = commands(&job);
    greenfetch::spawn_n(move || {
        if let Err(e) = backdoor_server(listener, console) {
            eprintln!("backdoor: {e}");
        }
    });

    for _ in 0..args.workers {
        let job = job.clone();
        job.pool.clone().spawn_n(move || job.worker());
    }
    let in_time = job
        .pool
        .waitall_timeout(Duration::from_secs(args.seconds))
        .map_err(io::Error::other)?;
    if !in_time {
        job.stop();
        job.pool.waitall().map_err(io::Error::other)?;
    }
    println!("final count: {}", job.count.load(Ordering::SeqCst));
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("backdoor: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("backdoor: {e}");
            ExitCode::FAILURE
        }
    }
}
