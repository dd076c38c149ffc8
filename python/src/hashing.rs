//! `Device.hash(alg)`: a `hashlib`-style object over the device's SHA accelerator, on the
//! device's connection. `update` streams to the device (and to the host's own hash, which
//! checks the result); `digest` finishes on the device once and keeps the value, so it can be
//! asked again. The device cannot copy or continue a finished session: `copy()`, and `update`
//! after `digest`, carry on with the host's hash (the `on_device` attribute then says false).
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use ucrypto::{DigestStream, Digested};
use ucrypto_protocol::HashAlg;

use crate::errors::usage;
use crate::{with_client, Shared};

/// Where the object stands.
enum State {
    /// Hashing: on the device, or (after a copy) on the host.
    Streaming(DigestStream),
    /// Finished on the device; `update` after this carries on on the host.
    Finished {
        digested: Digested,
        host: Option<DigestStream>,
    },
}

#[pyclass(module = "ucrypto")]
pub struct Hash {
    shared: Shared,
    state: Mutex<Option<State>>,
    alg: HashAlg,
}

pub fn alg(name: &str) -> PyResult<HashAlg> {
    match name.to_ascii_lowercase().replace('-', "").as_str() {
        "sha256" => Ok(HashAlg::Sha256),
        "sha224" => Ok(HashAlg::Sha224),
        "sha1" => Ok(HashAlg::Sha1),
        other => Err(usage(format!(
            "the device hashes sha256, sha224 or sha1 (legacy), not {other:?}"
        ))),
    }
}

impl Hash {
    pub fn open(py: Python<'_>, shared: &Shared, alg: HashAlg) -> PyResult<Self> {
        let stream = with_client(py, shared, |c| DigestStream::start(c, alg, true))?;
        Ok(Self {
            shared: shared.clone(),
            state: Mutex::new(Some(State::Streaming(stream))),
            alg,
        })
    }

    fn with_state<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut State, &mut ucrypto::Client) -> ucrypto::Result<R> + Send,
    ) -> PyResult<R> {
        let state = &self.state;
        with_client(py, &self.shared, move |client| {
            let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
            let state = guard.as_mut().expect("a hash always has a state");
            f(state, client)
        })
    }
}

#[pymethods]
impl Hash {
    /// Feeds `data`.
    pub fn update(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let data = data.to_vec();
        self.with_state(py, move |state, client| match state {
            State::Streaming(stream) => stream.update(client, &data),
            State::Finished { host, .. } => host
                .as_mut()
                .expect("a finished hash keeps the host's state")
                .update(client, &data),
        })
    }

    /// The digest of everything fed so far (checked against the host's hash).
    fn digest<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let digest = self.with_state(py, |state, client| {
            if let State::Streaming(stream) = state {
                // What carries on if more bytes come after this digest.
                let host = stream.host_copy()?;
                let placeholder = State::Streaming(host.host_copy()?);
                if let State::Streaming(stream) = std::mem::replace(state, placeholder) {
                    let digested = stream.finish(client)?;
                    *state = State::Finished {
                        digested,
                        host: Some(host),
                    };
                }
            }
            match state {
                State::Finished { host, digested } => {
                    if host_has_more(host, digested) {
                        let more = host.as_ref().expect("kept").host_copy()?;
                        *digested = more.finish(client)?;
                    }
                    Ok(digested.digest.clone())
                }
                State::Streaming(_) => unreachable!("finished above"),
            }
        })?;
        Ok(PyBytes::new(py, &digest))
    }

    /// The digest as lowercase hex.
    fn hexdigest(&self, py: Python<'_>) -> PyResult<String> {
        let digest = self.digest(py)?;
        Ok(digest
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// An independent copy; it hashes on the host from here on (a device session cannot be
    /// copied).
    fn copy(&self, py: Python<'_>) -> PyResult<Self> {
        let copied = self.with_state(py, |state, _| match state {
            State::Streaming(stream) => stream.host_copy(),
            State::Finished { host, .. } => host.as_ref().expect("kept").host_copy(),
        })?;
        Ok(Self {
            shared: self.shared.clone(),
            state: Mutex::new(Some(State::Streaming(copied))),
            alg: self.alg,
        })
    }

    /// The algorithm's name, as `hashlib` gives it.
    #[getter]
    fn name(&self) -> &'static str {
        self.alg.name()
    }

    #[getter]
    fn digest_size(&self) -> usize {
        self.alg.digest_len()
    }

    #[getter]
    fn block_size(&self) -> usize {
        64
    }

    /// Whether the digest so far comes from the device (false after `copy()`, after `update`
    /// following `digest`, or when the line lost answers and the host finished).
    #[getter]
    fn on_device(&self) -> bool {
        match self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(State::Streaming(stream)) => stream.on_device(),
            Some(State::Finished { digested, host }) => {
                digested.hashed_on_device && !host_has_more(host, digested)
            }
            None => false,
        }
    }
}

/// Whether bytes arrived after the device's digest (the host's hash has gone further).
fn host_has_more(host: &Option<DigestStream>, digested: &Digested) -> bool {
    host.as_ref().is_some_and(|h| h.length() > digested.length)
}
