//! AES over a whole stream, as a method of the client: read to its end, every chunk verified
//! before it is written.
use std::io::{Read, Write};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::operations::aes_stream::{self, AesJob, StreamSummary};
use crate::progress::Progress;
use crate::transport::Transport;

impl<T: Transport> Client<T> {
    /// Runs `job` over `input` to its end and writes the output to `output`, each chunk only
    /// once it equals the host's own AES (unless `job.verify` is off). On an error, what was
    /// written is a verified beginning of the output, never a wrong byte; discard it (the CLI
    /// stages output and releases it only on success). `input_len`, when known, sizes the
    /// progress report.
    pub fn aes_stream(
        &mut self,
        job: &AesJob<'_>,
        input: &mut dyn Read,
        input_len: Option<u64>,
        output: &mut dyn Write,
        progress: &mut dyn Progress,
    ) -> Result<StreamSummary> {
        if let Some(len) = input_len {
            job.check_input_len(len)?;
        }
        progress.start(input_len);
        let summary = aes_stream::run(
            self,
            job,
            input,
            &mut |data| {
                output.write_all(data).map_err(|e| Error::Output {
                    path: "the output".into(),
                    reason: e.to_string(),
                })
            },
            progress,
        );
        progress.finish();
        summary
    }
}
