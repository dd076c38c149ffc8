//! Where results go: stdout or a file, in hex, base64 or raw bytes, and only once complete.
//!
//! Output is staged (a temporary file next to the target, or a spooled buffer for stdout) and
//! released by [`Output::commit`] after every check passed: a failed command prints nothing and
//! leaves no partial file.
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use tempfile::{NamedTempFile, SpooledTempFile};

use ucrypto::device_info::DeviceInfo;

use crate::error::{Error, Result};

/// Bytes of stdout output kept in memory before spilling to an unnamed temporary file.
const SPOOL_IN_MEMORY: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Lowercase hexadecimal on one line.
    Hex,
    /// Standard base64 with padding, on one line.
    Base64,
    /// URL-safe base64 without padding (RFC 4648 section 5, as in JWTs), on one line.
    Base64url,
    /// The bytes themselves.
    Raw,
}

enum Stage {
    File {
        temp: NamedTempFile,
        path: PathBuf,
    },
    Stdout(SpooledTempFile),
    /// Not a regular file (`/dev/null`, a FIFO): nothing may be renamed over it, so the output
    /// is spooled like stdout's and written to it on commit.
    Special {
        spool: SpooledTempFile,
        path: PathBuf,
    },
}

impl Stage {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Stage::File { temp, .. } => temp.as_file_mut(),
            Stage::Stdout(spool) | Stage::Special { spool, .. } => spool,
        }
    }
}

/// An output being written; dropped without [`Output::commit`], it vanishes.
pub struct Output {
    stage: Stage,
    format: Format,
    /// Base64 needs whole 3-byte groups: the tail of the last write waits here.
    b64_carry: Vec<u8>,
    written: u64,
}

impl Output {
    /// Stages output for `path` (`None` or `-` for stdout).
    pub fn create(path: Option<&Path>, format: Format) -> Result<Self> {
        let stage = match path {
            Some(path) if path != Path::new("-") && is_special(path) => Stage::Special {
                spool: SpooledTempFile::new(SPOOL_IN_MEMORY),
                path: path.to_path_buf(),
            },
            Some(path) if path != Path::new("-") => {
                if path.is_dir() {
                    return Err(Error::Output {
                        path: path.display().to_string(),
                        reason: "it is a directory; name a file".into(),
                    });
                }
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let temp = tempfile::Builder::new()
                    .prefix(".ucrypto-")
                    .suffix(".tmp")
                    .tempfile_in(dir)
                    .map_err(|e| output_error(path, &e))?;
                Stage::File {
                    temp,
                    path: path.to_path_buf(),
                }
            }
            _ => Stage::Stdout(SpooledTempFile::new(SPOOL_IN_MEMORY)),
        };
        Ok(Self {
            stage,
            format,
            b64_carry: Vec::new(),
            written: 0,
        })
    }

    /// Whether this goes to a file (rather than stdout).
    pub fn path(&self) -> Option<&Path> {
        match &self.stage {
            Stage::File { path, .. } | Stage::Special { path, .. } => Some(path),
            Stage::Stdout(_) => None,
        }
    }

    /// Bytes of result (before encoding) written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends result bytes, encoded in the output's format.
    ///
    /// Its error is the library's, so that the library's streams can write here directly.
    pub fn write(&mut self, bytes: &[u8]) -> ucrypto::Result<()> {
        self.written += bytes.len() as u64;
        let format = self.format;
        let res = match format {
            Format::Raw => self.stage.writer().write_all(bytes),
            Format::Hex => self.stage.writer().write_all(hex::encode(bytes).as_bytes()),
            Format::Base64 | Format::Base64url => {
                // Whole 3-byte groups encode independently; the rest waits for more bytes.
                self.b64_carry.extend_from_slice(bytes);
                let whole = self.b64_carry.len() / 3 * 3;
                let text = self.base64(&self.b64_carry[..whole]);
                self.b64_carry.drain(..whole);
                self.stage.writer().write_all(text.as_bytes())
            }
        };
        res.map_err(|e| match self.error(&e) {
            Error::Output { path, reason } => ucrypto::Error::Output { path, reason },
            other => ucrypto::Error::Input(other.to_string()),
        })
    }

    /// Finishes the encoding and releases the output: renames the file into place, or copies
    /// the staged bytes to stdout. A closed stdout (`| head`) is not an error.
    pub fn commit(mut self) -> Result<()> {
        let mut tail = self.base64(&self.b64_carry).into_bytes();
        if self.format != Format::Raw {
            tail.push(b'\n');
        }
        self.stage
            .writer()
            .write_all(&tail)
            .map_err(|e| self.error(&e))?;
        match self.stage {
            Stage::File { temp, path } => {
                temp.as_file()
                    .sync_all()
                    .map_err(|e| output_error(&path, &e))?;
                temp.persist(&path)
                    .map_err(|e| output_error(&path, &e.error))?;
                Ok(())
            }
            Stage::Special { mut spool, path } => {
                let mut target = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| output_error(&path, &e))?;
                spool
                    .rewind()
                    .and_then(|_| io::copy(&mut spool, &mut target))
                    .map_err(|e| output_error(&path, &e))?;
                Ok(())
            }
            Stage::Stdout(mut spool) => {
                let copied = spool
                    .rewind()
                    .and_then(|_| io::copy(&mut spool, &mut io::stdout().lock()))
                    .and_then(|_| io::stdout().flush());
                match copied {
                    Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Output {
                        path: "stdout".into(),
                        reason: e.to_string(),
                    }),
                    _ => Ok(()),
                }
            }
        }
    }

    /// The staged text, for `--json` (only for text formats going to stdout).
    pub fn into_text(mut self) -> Result<String> {
        let mut text = Vec::new();
        let tail = self.base64(&self.b64_carry);
        self.stage
            .writer()
            .write_all(tail.as_bytes())
            .map_err(|e| self.error(&e))?;
        if let Stage::Stdout(spool) = &mut self.stage {
            spool
                .rewind()
                .and_then(|_| io::Read::read_to_end(spool, &mut text))
                .map_err(|e| Error::Output {
                    path: "stdout".into(),
                    reason: e.to_string(),
                })?;
        }
        String::from_utf8(text).map_err(|_| Error::input("raw bytes cannot go in JSON"))
    }

    fn base64(&self, bytes: &[u8]) -> String {
        if self.format == Format::Base64url {
            URL_SAFE_NO_PAD.encode(bytes)
        } else {
            STANDARD.encode(bytes)
        }
    }

    fn error(&self, e: &io::Error) -> Error {
        match &self.stage {
            Stage::File { path, .. } | Stage::Special { path, .. } => output_error(path, e),
            Stage::Stdout(_) => Error::Output {
                path: "stdout".into(),
                reason: e.to_string(),
            },
        }
    }
}

/// An existing path that is not a regular file or a directory (a device, a FIFO).
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

fn output_error(path: &Path, e: &io::Error) -> Error {
    Error::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes `text` plus a newline to stdout; a closed stdout ends quietly.
pub fn print_line(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Output {
            path: "stdout".into(),
            reason: e.to_string(),
        }),
        _ => Ok(()),
    }
}

/// JSON carries a result inline only up to this size; larger results need `-o FILE`.
pub(crate) const MAX_JSON_INLINE: u64 = 16 << 20;

/// Adds what every result's JSON says about the device that produced it.
pub(crate) fn add_device_fields(json: &mut serde_json::Value, info: &DeviceInfo) {
    json["virtual"] = info.virtual_device.into();
    json["chip"] = info.chip.name().into();
    json["device_id"] = info.device_id_string().into();
}

/// Releases `output` and prints `json` saying where the result went: the file, as `output`, or
/// the text itself under `inline_key`.
pub(crate) fn commit_with_json(
    output: Output,
    mut json: serde_json::Value,
    inline_key: &str,
) -> Result<()> {
    if let Some(path) = output.path() {
        json["output"] = path.display().to_string().into();
        output.commit()?;
    } else {
        if output.written() > MAX_JSON_INLINE {
            return Err(Error::input(format!(
                "{} bytes is too much to inline in JSON: write it with -o FILE",
                output.written()
            )));
        }
        json[inline_key] = output.into_text()?.into();
    }
    print_json(&json)
}

/// Prints a JSON value as one line on stdout.
pub(crate) fn print_json(value: &serde_json::Value) -> Result<()> {
    print_line(&value.to_string())
}
