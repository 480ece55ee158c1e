//! The job runner of `fetch` and `titles`: input lines through a pool of green threads, each
//! to one outcome, written in input order (or completion order with `--unordered`), then
//! journaled; progress on stderr, the backdoor beside it, and the exit code at the end.

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
    TitlesArgs,
};
use super::backdoor::{RunStats, start_backdoor};
use super::config::{configure_hub, cookie_engine, fetch_config, save_jar};
use super::output::{self, Outcome, TitleOutcome, TitlesWriter, Writer};
use super::{
    EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT, EXIT_SOME_FAILED, INTERRUPTED, input,
    install_interrupt_handler, journal, progress, usage_error,
};

/// `greenfetch fetch`.
pub(crate) fn fetch(a: FetchArgs) -> u8 {
    let mut writer = match Writer::new(a.format, a.output_dir, a.run.fsync) {
        Ok(w) => w,
        Err(e) => return usage_error(format!("output directory: {e}")),
    };
    let on_terminal = writer.stdout_is_terminal;
    run_job(
        a.input,
        &a.pool,
        FetchOptions {
            net: &a.net,
            proxy: &a.proxy,
            request: Some((&a.request, a.json.as_slice())),
            cookies: &a.cookies,
        },
        &a.run,
        |_cfg| {
            move |fetcher: &Fetcher, inp: &input::Input| Outcome {
                index: inp.index,
                text: inp.text.clone(),
                fetched: match &inp.url {
                    Ok(url) => fetcher.fetch(url),
                    Err(e) => Fetched::failed(String::new(), e.clone()),
                },
            }
        },
        on_terminal,
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
        a.input,
        &a.pool,
        FetchOptions {
            net: &a.net,
            proxy: &a.proxy,
            request: None,
            cookies: &a.cookies,
        },
        &a.run,
        |cfg| {
            // A title needs the body; the cap keeps a stray video from filling memory.
            cfg.keep_body = true;
            move |fetcher: &Fetcher, inp: &input::Input| TitleOutcome {
                index: inp.index,
                text: inp.text.clone(),
                titled: match &inp.url {
                    Ok(url) => title_with(fetcher, url, options),
                    Err(e) => Titled::failed(String::new(), e.clone()),
                },
            }
        },
        on_terminal,
        move |o: &TitleOutcome| writer.write(o),
    )
}

/// What the job runner needs to know of one input's outcome.
trait JobOutcome: Send + 'static {
    /// The input's index.
    fn index(&self) -> u64;
    /// Why it failed, if it did.
    fn error(&self) -> Option<&Error>;
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
    fn died(input: &input::Input, error: Error) -> Self {
        Outcome {
            index: input.index,
            text: input.text.clone(),
            fetched: Fetched::failed(String::new(), error),
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
    fn died(input: &input::Input, error: Error) -> Self {
        TitleOutcome {
            index: input.index,
            text: input.text.clone(),
            titled: Titled::failed(String::new(), error),
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

/// Runs one input list through a pool of green threads, each input through `task`, and hands
/// the outcomes to `write` in input order (or completion order with `--unordered`), then to
/// the journal if there is one.
///
/// `make_task` may adjust the fetch settings before the fetcher is built, and returns the task.
fn run_job<O, T, M>(
    input_args: InputArgs,
    pool_args: &PoolArgs,
    FetchOptions {
        net,
        proxy,
        request,
        cookies: cookie_args,
    }: FetchOptions<'_>,
    run: &RunArgs,
    make_task: M,
    stdout_is_terminal: bool,
    mut write: impl FnMut(&O) -> io::Result<()>,
) -> u8
where
    O: JobOutcome,
    T: Fn(&Fetcher, &input::Input) -> O + Send + Sync + 'static,
    M: FnOnce(&mut FetchConfig) -> T,
{
    configure_hub(net.workers);
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
        shard: input_args.shard,
        done: None,
    };
    let mut journal = match &run.journal {
        Some(path) => match journal::Journal::open(path, run.resume, run.fsync) {
            Ok((j, done)) => {
                if run.resume && done.len() > 0 {
                    eprintln!(
                        "greenfetch: resuming: {} inputs already done by {}",
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
    let inputs = match input::read_inputs(input_args.urls, input_args.files, select) {
        Ok(i) => i,
        Err(e) => return usage_error(e),
    };
    install_interrupt_handler();

    let fetcher = Arc::new(Fetcher::new(cfg));
    let pool = GreenPool::new(pool_args.concurrency.max(1));
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
    let pb = progress::spinner(run.quiet);
    let mut failed = 0u64;
    let mut done = 0u64;
    let mut emit = |o: io::Result<O>| -> io::Result<()> {
        let o = o?;
        done += 1;
        if o.error().is_some() {
            failed += 1;
        }
        stats.done.store(done, Ordering::Relaxed);
        stats.failed.store(failed, Ordering::Relaxed);
        if stats.quiet.load(Ordering::Relaxed) != pb.is_hidden() {
            pb.set_draw_target(if stats.quiet.load(Ordering::Relaxed) {
                indicatif::ProgressDrawTarget::hidden()
            } else {
                indicatif::ProgressDrawTarget::stderr()
            });
        }
        pb.set_position(done);
        progress::set_errors(&pb, failed);
        if stdout_is_terminal && !pb.is_hidden() {
            pb.suspend(|| write(&o))?;
        } else {
            write(&o)?;
        }
        if let Some(j) = &mut journal {
            j.record(o.index(), o.error().map_or("ok", |e| e.kind.as_str()))?;
        }
        Ok(())
    };
    let slice = Duration::from_millis(100);
    let result: io::Result<bool> = if run.unordered {
        let mut it = pool.imap_unordered(task, inputs);
        loop {
            if INTERRUPTED.load(Ordering::Relaxed) {
                break Ok(true);
            }
            match it.next() {
                Some(r) => {
                    if let Err(e) = emit(lost(r)) {
                        break Err(e);
                    }
                }
                None => break Ok(false),
            }
        }
    } else {
        let mut it = pool.imap(task, inputs);
        loop {
            if INTERRUPTED.load(Ordering::Relaxed) {
                // Flush the finished in-order prefix, then stop.
                let mut r = Ok(true);
                while let Ok(Some(item)) = it.next_timeout(Duration::ZERO) {
                    if let Err(e) = emit(lost(item)) {
                        r = Err(e);
                        break;
                    }
                }
                break r;
            }
            match it.next_timeout(slice) {
                Ok(Some(item)) => {
                    if let Err(e) = emit(lost(item)) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(false),
                Err(_) => continue,
            }
        }
    };
    pb.finish_and_clear();
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
