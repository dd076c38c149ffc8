//! The progress bar that long commands (rand, aes, sign) show on stderr: the CLI's
//! [`Progress`]. indicatif hides it when stderr is not a terminal, so scripts and CI never see it.
use indicatif::{ProgressBar, ProgressStyle};

use ucrypto::progress::Progress;

/// Show a progress bar from this size on.
const PROGRESS_FROM: u64 = 1 << 20;

/// A bar when the length is known (hidden for small jobs), a byte counter once a stream of
/// unknown length passes [`PROGRESS_FROM`].
#[derive(Default)]
pub(crate) struct ProgressDisplay {
    bar: Option<ProgressBar>,
    done: u64,
}

impl Progress for ProgressDisplay {
    fn start(&mut self, total: Option<u64>) {
        self.bar = total.map(|bytes| {
            if bytes < PROGRESS_FROM {
                return ProgressBar::hidden();
            }
            let bar = ProgressBar::new(bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("the template is valid"),
            );
            bar
        });
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
        if self.bar.is_none() && self.done >= PROGRESS_FROM {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}")
                    .expect("the template is valid"),
            );
            bar.set_position(self.done - n);
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
