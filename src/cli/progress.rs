//! The progress display, and every line written to stderr while it is up.
//!
//! Every indicatif template and style lives here. The display draws on stderr only when
//! stderr is a terminal and `-q` is off; otherwise it is hidden and costs nothing. While a bar
//! is up, lines for stderr go through [`report`], which prints them above the bar (the bar is
//! redrawn under them), so a run's error lines never leave stale frames of the bar behind
//! them; [`Active`] registers a bar for that and clears it when dropped, and [`clear`] clears
//! it from any thread (the second Ctrl-C, before the process exits).

use std::fmt;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike};

/// Where the display draws: stderr, 8 frames a second at most, as a terminal [`MARGIN`]
/// columns narrower than it is.
fn stderr_target() -> ProgressDrawTarget {
    ProgressDrawTarget::term_like_with_hz(Box::new(Narrow(console::Term::stderr())), 8)
}

/// Columns left free at the right of the display's line. indicatif pads each frame to the
/// terminal's width, which leaves the cursor waiting to wrap: the `^C` a terminal echoes for
/// Ctrl-C then lands on a new line, and the bar's last frame stays on screen above it, out of
/// indicatif's reach. With the margin, the echo stays on the bar's line and is erased with it.
const MARGIN: u16 = 3;

/// stderr as a terminal [`MARGIN`] columns narrower.
#[derive(Debug)]
struct Narrow(console::Term);

impl TermLike for Narrow {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(MARGIN).max(20)
    }
    fn height(&self) -> u16 {
        self.0.size().0
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The bar on screen now, if any: where [`report`] prints above.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn active() -> std::sync::MutexGuard<'static, Option<ProgressBar>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes `line` on stderr: above the progress bar when one is up, so no frame of it is left
/// behind. Several lines may be given at once (joined with `\n`).
///
/// Inside [`Active::suspend`] (the bar is off the screen then, and its lock is held) the line
/// is written straight to stderr: asking the bar to print would wait for that lock forever.
pub(crate) fn report(line: impl fmt::Display) {
    let text = line.to_string();
    if SUSPENDED.get() {
        eprintln!("{text}");
        return;
    }
    // The bar is taken out of the slot first: no lock is held while it prints.
    let pb = active().clone();
    match pb {
        Some(pb) if !pb.is_hidden() => pb.println(text),
        _ => eprintln!("{text}"),
    }
}

thread_local! {
    /// Whether this thread is inside [`Active::suspend`].
    static SUSPENDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Clears the bar on screen now, if any (its last frame is erased) and forgets it.
pub(crate) fn clear() {
    let pb = active().take();
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
}

/// A bar registered as the one [`report`] prints above; cleared and forgotten on drop.
#[derive(Debug)]
pub(crate) struct Active(pub(crate) ProgressBar);

impl Active {
    fn register(pb: ProgressBar) -> Active {
        *active() = Some(pb.clone());
        Active(pb)
    }

    /// Runs `f` (a write to a stdout that shares the terminal) with the bar off the screen.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.0.suspend(|| {
            SUSPENDED.set(true);
            let r = f();
            SUSPENDED.set(false);
            r
        })
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.finish_and_clear();
        let mut slot = active();
        if slot
            .as_ref()
            .is_some_and(|pb| pb.is_hidden() || pb.is_finished())
        {
            *slot = None;
        }
    }
}

/// Whether a display is wanted at all.
fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A rate with about three significant digits: `0.52/s`, `79.5/s`, `1234/s`.
pub(crate) fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "0/s".to_owned()
    } else if per_sec < 10.0 {
        format!("{per_sec:.2}/s")
    } else if per_sec < 100.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.0}/s")
    }
}

/// `1 error`, `2 errors`: a count with its noun, singular or plural.
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration as a person reads it: `42s`, `3m05s`, `1h02m`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s / 60) % 60)
    }
}

fn rate_key(s: &ProgressState, w: &mut dyn fmt::Write) {
    let _ = w.write_str(&rate(s.pos() as f64 / s.elapsed().as_secs_f64().max(1e-3)));
}

fn eta_key(s: &ProgressState, w: &mut dyn fmt::Write) {
    let done = s.pos();
    let Some(total) = s.len() else { return };
    let per_sec = done as f64 / s.elapsed().as_secs_f64().max(1e-3);
    if done == 0 || per_sec <= 0.0 {
        let _ = w.write_str("ETA -");
    } else {
        let left = total.saturating_sub(done) as f64 / per_sec;
        let _ = write!(w, "ETA {}", human(Duration::from_secs_f64(left.min(1e7))));
    }
}

/// What a `fetch` or `titles` run shows besides its position: failures, retries, requests in
/// flight.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobCounts {
    pub(crate) failed: u64,
    pub(crate) retries: u64,
    pub(crate) in_flight: u64,
}

/// The display of a `fetch` or `titles` run: `done/total`, rate and ETA once the total is
/// known (a file input is counted ahead), else a spinner with the count and rate; then
/// errors, retries and requests in flight.
#[derive(Debug)]
pub(crate) struct JobBar {
    bar: Active,
    counts: JobCounts,
    has_total: bool,
    /// Whether the display was wanted at the start (stderr a terminal, no `-q`): only then
    /// may the backdoor's `verbose` show it.
    shown: bool,
}

impl JobBar {
    pub(crate) fn new(quiet: bool) -> JobBar {
        let pb = if wanted(quiet) {
            let pb = ProgressBar::with_draw_target(None, stderr_target());
            pb.set_style(Self::style(false));
            pb.enable_steady_tick(Duration::from_millis(125));
            pb
        } else {
            ProgressBar::hidden()
        };
        JobBar {
            bar: Active::register(pb),
            counts: JobCounts::default(),
            has_total: false,
            shown: wanted(quiet),
        }
    }

    fn style(total: bool) -> ProgressStyle {
        let template = if total {
            "{bar:24.cyan/blue} {pos}/{len} done  {rate}  {eta}  {msg}  [{elapsed}]"
        } else {
            "{spinner} {pos} done  {rate}  {msg}  [{elapsed}]"
        };
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("rate", rate_key)
            .with_key("eta", eta_key)
            .progress_chars("█▉▊▋▌▍▎▏ ")
    }

    /// Whether the display is off (no terminal, `-q`, or the backdoor's `quiet`).
    pub(crate) fn is_hidden(&self) -> bool {
        self.bar.0.is_hidden()
    }

    /// The backdoor's `quiet` and `verbose`: hide or show the display.
    pub(crate) fn set_hidden(&self, hidden: bool) {
        if !self.shown {
            return;
        }
        self.bar.0.set_draw_target(if hidden {
            ProgressDrawTarget::hidden()
        } else {
            stderr_target()
        });
    }

    /// The number of inputs in all, once counted.
    pub(crate) fn set_total(&mut self, total: u64) {
        if !self.has_total {
            self.has_total = true;
            self.bar.0.set_length(total);
            self.bar.0.set_style(Self::style(true));
        }
    }

    pub(crate) fn set_done(&self, done: u64) {
        self.bar.0.set_position(done);
    }

    pub(crate) fn set_counts(&mut self, counts: JobCounts) {
        if counts != self.counts {
            self.counts = counts;
            let mut parts = Vec::new();
            if counts.failed > 0 {
                parts.push(count(counts.failed, "error", "errors"));
            }
            if counts.retries > 0 {
                parts.push(count(counts.retries, "retry", "retries"));
            }
            parts.push(format!("{} in flight", counts.in_flight));
            self.bar.0.set_message(parts.join("  "));
        }
    }

    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }
}

/// The live view of one `greenfetch bench` level: a bar over its requests (or its duration
/// with `-z`), and a message the bench fills with requests/s, p50 and p99 so far, and errors.
pub(crate) fn level_bar(quiet: bool, len: u64, label: &str, timed: bool) -> Active {
    if !wanted(quiet) {
        return Active::register(ProgressBar::hidden());
    }
    let pb = ProgressBar::with_draw_target(Some(len), stderr_target());
    let template = if timed {
        "{prefix:>7} {bar:20.cyan/blue} {elapsed}/{len_secs}  {msg}"
    } else {
        "{prefix:>7} {bar:20.cyan/blue} {pos}/{len}  {msg}"
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("len_secs", |s: &ProgressState, w: &mut dyn fmt::Write| {
            let _ = write!(w, "{}", human(Duration::from_millis(s.len().unwrap_or(0))));
        })
        .progress_chars("█▉▊▋▌▍▎▏ ");
    pb.set_style(style);
    pb.set_prefix(label.to_owned());
    pb.enable_steady_tick(Duration::from_millis(125));
    Active::register(pb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_counts_and_durations_read_well() {
        assert_eq!(rate(79.54), "79.5/s");
        assert_eq!(rate(0.5234), "0.52/s");
        assert_eq!(rate(12345.6), "12346/s");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(count(1, "error", "errors"), "1 error");
        assert_eq!(count(2, "error", "errors"), "2 errors");
        assert_eq!(count(0, "retry", "retries"), "0 retries");
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(185)), "3m05s");
        assert_eq!(human(Duration::from_secs(3720)), "1h02m");
    }
}
