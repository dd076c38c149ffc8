//! The progress bar that long commands (rand, aes, sign) show on stderr. indicatif hides it when
//! stderr is not a terminal, so scripts and CI never see it.
use indicatif::{ProgressBar, ProgressStyle};

/// Show a progress bar from this size on.
pub(crate) const PROGRESS_FROM: u64 = 1 << 20;

/// A bar for `bytes` of work; hidden for small jobs.
pub(crate) fn progress_bar(bytes: u64) -> ProgressBar {
    if bytes < PROGRESS_FROM {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(bytes);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("the template is valid"),
    );
    bar
}
