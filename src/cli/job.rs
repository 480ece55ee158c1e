//! The job runner of `fetch` and `titles`: input lines through a pool of green threads, each
//! to one outcome, written in input order (or completion order with `--unordered`), then
//! journaled; progress on stderr, the backdoor beside it, and the exit code at the end.
//!
//! A blank or `#` line of the input goes through as an outcome that fetched nothing (so
//! `titles` can write its empty line in its place); it is not counted as done or failed, and
//! it is journaled, so a resumed run does not write its empty line twice.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use greenfetch::error::{Error, ErrorKind};
use greenfetch::fetch::{FetchConfig, Fetched, Fetcher};
use greenfetch::titles::{TitleOptions, Titled, title_with};
use greenfetch::{GreenPool, WaitError};

use super::args::{
    self, CookieArgs, FetchArgs, InputArgs, NetArgs, PoolArgs, ProxyArgs, RequestArgs, RunArgs,
    Scheme, TitlesArgs,
};
use super::backdoor::{RunStats, start_backdoor};
use super::config::{configure_hub, cookie_engine, fetch_config, save_jar};
use super::output::{self, Outcome, TitleOutcome, TitlesWriter, Writer};
use super::progress::{JobBar, JobCounts};
use super::writeout::WriteOut;
use super::{
    EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT, EXIT_SOME_FAILED, INTERRUPTED, input,
    install_interrupt_handler, journal, usage_error,
};

/// `greenfetch fetch`.
pub(crate) fn fetch(a: FetchArgs) -> u8 {
    let write_out = match a.write_out.as_deref().map(WriteOut::from_arg).transpose() {
        Ok(w) => w,
        Err(e) => return usage_error(e),
    };
    let mut writer = match Writer::new(a.format, a.output_dir, a.run.fsync, write_out, a.verbose) {
        Ok(w) => w,
        Err(e) => return usage_error(format!("output directory: {e}")),
    };
    let on_terminal = writer.stdout_is_terminal;
    let verbose = a.verbose;
    run_job(
        Job {
            input: a.input,
            pool: &a.pool,
            fetch: FetchOptions {
                net: &a.net,
                proxy: &a.proxy,
                request: Some((&a.request, a.json.as_slice())),
                cookies: &a.cookies,
            },
            run: &a.run,
            workers: a.runtime.workers,
            stdout_is_terminal: on_terminal,
        },
        |cfg| {
            cfg.trace = verbose;
            move |fetcher: &Fetcher, inp: &input::Input| Outcome {
                index: inp.index,
                text: inp.text.clone(),
                fetched: match &inp.url {
                    Some(Ok(url)) => fetcher.fetch(url),
                    Some(Err(e)) => Fetched::failed(String::new(), e.clone()),
                    None => Fetched::default(),
                },
                skipped: inp.url.is_none(),
            }
        },
        move |o: &Outcome| writer.write(o),
    )
}

/// `greenfetch titles`.
pub(crate) fn titles(a: TitlesArgs) -> u8 {
    let format = if a.entries {
        args::TitlesFormat::Jsonl
    } else {
        a.format
    };
    let mut writer = TitlesWriter::new(format, a.entries, a.run.fsync);
    let on_terminal = writer.stdout_is_terminal;
    let options = TitleOptions {
        discover: !a.no_discover,
        entries: a.entries,
    };
    run_job(
        Job {
            input: a.input,
            pool: &a.pool,
            fetch: FetchOptions {
                net: &a.net,
                proxy: &a.proxy,
                request: None,
                cookies: &a.cookies,
            },
            run: &a.run,
            workers: a.runtime.workers,
            stdout_is_terminal: on_terminal,
        },
        |cfg| {
            // A title needs the body; the cap keeps a stray video from filling memory.
            cfg.keep_body = true;
            move |fetcher: &Fetcher, inp: &input::Input| TitleOutcome {
                index: inp.index,
                text: inp.text.clone(),
                titled: match &inp.url {
                    Some(Ok(url)) => title_with(fetcher, url, options),
                    Some(Err(e)) => Titled::failed(String::new(), e.clone()),
                    None => Titled::default(),
                },
                skipped: inp.url.is_none(),
            }
        },
        move |o: &TitleOutcome| writer.write(o),
    )
}

/// What the job runner needs to know of one input's outcome.
trait JobOutcome: Send + 'static {
    /// The input's index.
    fn index(&self) -> u64;
    /// Why it failed, if it did.
    fn error(&self) -> Option<&Error>;
    /// Requests made beyond the first.
    fn retries(&self) -> u64;
    /// A blank or `#` line, which fetched nothing.
    fn skipped(&self) -> bool;
    /// The outcome of an input whose task died (a bug): every input still gets one.
    fn died(input: &input::Input, error: Error) -> Self;
}

impl JobOutcome for Outcome {
    fn index(&self) -> u64 {
        self.index
    }
    fn error(&self) -> Option<&Error> {
        self.fetched.error.as_ref()
    }
    fn retries(&self) -> u64 {
        u64::from(self.fetched.attempts.saturating_sub(1))
    }
    fn skipped(&self) -> bool {
        self.skipped
    }
    fn died(input: &input::Input, error: Error) -> Self {
        Outcome {
            index: input.index,
            text: input.text.clone(),
            fetched: Fetched::failed(String::new(), error),
            skipped: false,
        }
    }
}

impl JobOutcome for TitleOutcome {
    fn index(&self) -> u64 {
        self.index
    }
    fn error(&self) -> Option<&Error> {
        self.titled.error.as_ref()
    }
    fn retries(&self) -> u64 {
        // A title may take two fetches (a page, then its feed) without any retry.
        0
    }
    fn skipped(&self) -> bool {
        self.skipped
    }
    fn died(input: &input::Input, error: Error) -> Self {
        TitleOutcome {
            index: input.index,
            text: input.text.clone(),
            titled: Titled::failed(String::new(), error),
            skipped: false,
        }
    }
}

/// The options of a `fetch` or `titles` run that say how each URL is fetched.
struct FetchOptions<'a> {
    net: &'a NetArgs,
    proxy: &'a ProxyArgs,
    /// What each request sends; `None` for `titles`, whose requests are plain GETs.
    request: Option<(&'a RequestArgs, &'a [String])>,
    cookies: &'a CookieArgs,
}

/// One `fetch` or `titles` run, as the runner takes it.
struct Job<'a> {
    input: InputArgs,
    pool: &'a PoolArgs,
    fetch: FetchOptions<'a>,
    run: &'a RunArgs,
    workers: Option<usize>,
    /// stdout shares the terminal with the progress display: take it off while writing.
    stdout_is_terminal: bool,
}

/// Runs one input list through a pool of green threads, each input through `task`, and hands
/// the outcomes to `write` in input order (or completion order with `--unordered`), then to
/// the journal if there is one.
///
/// `make_task` may adjust the fetch settings before the fetcher is built, and returns the task.
fn run_job<O, T, M>(job: Job<'_>, make_task: M, mut write: impl FnMut(&O) -> io::Result<()>) -> u8
where
    O: JobOutcome,
    T: Fn(&Fetcher, &input::Input) -> O + Send + Sync + 'static,
    M: FnOnce(&mut FetchConfig) -> T,
{
    let Job {
        input: input_args,
        pool: pool_args,
        fetch:
            FetchOptions {
                net,
                proxy,
                request,
                cookies: cookie_args,
            },
        run,
        workers,
        stdout_is_terminal,
    } = job;
    configure_hub(workers);
    if input_args.files.is_empty() && input_args.urls.is_empty() && input::stdin_is_terminal() {
        return usage_error(
            "no input: give URLs on stdin, as FILE arguments, or with -u URL (see --help)",
        );
    }
    let mut cfg = match fetch_config(
        net,
        Some(proxy),
        request,
        pool_args.concurrency,
        pool_args.rate.map(|r| r.0),
    ) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    cfg.cookies = match cookie_engine(cookie_args) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let jar = cfg.cookies.clone();
    let task = make_task(&mut cfg);
    let mut select = input::Select {
        shard: run.shard,
        done: None,
        scheme: match input_args.proto_default {
            Scheme::Http => "http",
            Scheme::Https => "https",
        },
    };
    let mut journal = match &run.journal {
        Some(path) => match journal::Journal::open(path, run.resume, run.fsync) {
            Ok((j, done)) => {
                if run.resume && done.len() > 0 {
                    eprintln!(
                        "greenfetch: resuming: {} input lines already done by {}",
                        done.len(),
                        path.display()
                    );
                }
                select.done = Some(done);
                Some(j)
            }
            Err(e) => return usage_error(e),
        },
        None => None,
    };
    let (inputs, total) = match input::read_inputs(input_args.urls, input_args.files, select) {
        Ok(i) => i,
        Err(e) => return usage_error(e),
    };
    install_interrupt_handler();

    let fetcher = Arc::new(Fetcher::new(cfg));
    let pool = GreenPool::new(pool_args.concurrency);
    let stats = Arc::new(RunStats::default());
    if let Some(addr) = run.backdoor {
        let (s, p) = (stats.clone(), pool.clone());
        let describe = move || {
            format!(
                "done {} failed {} running {}",
                s.done.load(Ordering::Relaxed),
                s.failed.load(Ordering::Relaxed),
                p.running()
            )
        };
        if let Err(e) = start_backdoor(addr, &pool, &stats, describe) {
            return usage_error(format!("--backdoor {addr}: {e}"));
        }
    }
    // A task that panics (a bug) still gives its input an outcome, at its index.
    let task = move |inp: input::Input| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(&fetcher, &inp)))
            .unwrap_or_else(|p| {
                let what = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                O::died(
                    &inp,
                    Error::new(ErrorKind::Internal, format!("the task panicked: {what}")),
                )
            })
    };
    // Only a pool failure, not a panic in a task, can lose an outcome now; say so if it does.
    let lost = |r: Result<O, WaitError>| -> io::Result<O> {
        r.map_err(|e| io::Error::other(format!("a task was lost: {e}")))
    };
    let mut bar = JobBar::new(run.quiet);
    let mut counts = JobCounts::default();
    let mut done = 0u64;
    // Brings the display up to date: the total once counted, requests in flight now.
    let refresh = |bar: &mut JobBar, counts: &mut JobCounts| {
        let quiet = stats.quiet.load(Ordering::Relaxed);
        if quiet != bar.is_hidden() && !run.quiet {
            bar.set_hidden(quiet);
        }
        if let Some(t) = total.get() {
            bar.set_total(*t);
        }
        counts.in_flight = pool.running() as u64;
        bar.set_counts(*counts);
    };
    let unordered = run.unordered;
    let mut emit = |o: io::Result<O>, bar: &mut JobBar, counts: &mut JobCounts| -> io::Result<()> {
        let o = o?;
        if !o.skipped() {
            done += 1;
            if o.error().is_some() {
                counts.failed += 1;
            }
            counts.retries += o.retries();
            stats.done.store(done, Ordering::Relaxed);
            stats.failed.store(counts.failed, Ordering::Relaxed);
            bar.set_done(done);
        }
        // A blank line's place matters only in input order.
        if !(unordered && o.skipped()) {
            if stdout_is_terminal && !bar.is_hidden() {
                bar.suspend(|| write(&o))?;
            } else {
                write(&o)?;
            }
        }
        if let Some(j) = &mut journal {
            let outcome = match o.error() {
                _ if o.skipped() => "skipped",
                Some(e) => e.kind.as_str(),
                None => "ok",
            };
            j.record(o.index(), outcome)?;
        }
        Ok(())
    };
    let slice = Duration::from_millis(100);
    let result: io::Result<bool> = if run.unordered {
        let mut it = pool.imap_unordered(task, inputs);
        loop {
            refresh(&mut bar, &mut counts);
            if INTERRUPTED.load(Ordering::Relaxed) {
                break Ok(true);
            }
            match it.next() {
                Some(r) => {
                    if let Err(e) = emit(lost(r), &mut bar, &mut counts) {
                        break Err(e);
                    }
                }
                None => break Ok(false),
            }
        }
    } else {
        let mut it = pool.imap(task, inputs);
        loop {
            refresh(&mut bar, &mut counts);
            if INTERRUPTED.load(Ordering::Relaxed) {
                // Flush the finished in-order prefix, then stop.
                let mut r = Ok(true);
                while let Ok(Some(item)) = it.next_timeout(Duration::ZERO) {
                    if let Err(e) = emit(lost(item), &mut bar, &mut counts) {
                        r = Err(e);
                        break;
                    }
                }
                break r;
            }
            match it.next_timeout(slice) {
                Ok(Some(item)) => {
                    if let Err(e) = emit(lost(item), &mut bar, &mut counts) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(false),
                Err(_) => continue,
            }
        }
    };
    drop(bar);
    let failed = counts.failed;
    // The jar is written however the run ended (curl writes it at exit too).
    let saved = save_jar(cookie_args, jar.as_deref());
    match result {
        Err(e) if output::is_broken_pipe(&e) && saved => EXIT_OK,
        Err(e) if output::is_broken_pipe(&e) => EXIT_SOME_FAILED,
        Err(e) => {
            eprintln!("greenfetch: stopped: {e}");
            if let Some(path) = &run.journal {
                eprintln!(
                    "greenfetch: {} names every input whose output is complete; free the space \
                     and rerun with --resume",
                    path.display()
                );
            }
            EXIT_OUTPUT
        }
        Ok(true) => EXIT_INTERRUPTED,
        Ok(false) if failed > 0 || !saved => EXIT_SOME_FAILED,
        Ok(false) => EXIT_OK,
    }
}
