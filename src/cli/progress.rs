//! The progress display: every indicatif template and style lives here. It draws on stderr
//! only when stderr is a terminal and `-q` is off; otherwise it is hidden and costs nothing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress line for a run of unknown length: done, rate, errors.
pub(crate) fn spinner(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
    let style =
        ProgressStyle::with_template("{spinner} {pos} done  {per_sec:.dim}  {msg}  [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    pb.set_style(style);
    pb.enable_steady_tick(Duration::from_millis(125));
    pb
}

/// The error count shown beside the progress.
pub(crate) fn set_errors(pb: &ProgressBar, errors: u64) {
    if errors > 0 && !pb.is_hidden() {
        pb.set_message(format!("{errors} errors"));
    }
}

/// A progress bar for one level of `greenfetch bench`: `len` requests, labelled `label`.
pub(crate) fn level_bar(quiet: bool, len: u64, label: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(8));
    let style = ProgressStyle::with_template(
        "{prefix:>7} {wide_bar} {pos}/{len}  {rate:.dim}  {msg}  [{elapsed}]",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key(
        "rate",
        |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0} req/s", s.per_sec());
        },
    );
    pb.set_style(style);
    pb.set_prefix(label.to_owned());
    pb.enable_steady_tick(Duration::from_millis(125));
    pb
}
