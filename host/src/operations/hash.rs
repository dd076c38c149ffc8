//! Digests on the device's SHA accelerator (`DigestStart`, `HashData`, `DigestFinish`): a
//! message of any size streamed in chunks with a few in flight, in constant memory, and every
//! digest recomputed on the host before it is returned (unless verification is off).
use std::collections::VecDeque;
use std::io::Read;
use std::time::Duration;

use sha1::Sha1;
use sha2::{Digest as _, Sha224, Sha256};
use ucrypto_protocol::{Command, HashAlg, RequestBody, ResponseBody, MAX_CHUNK_LEN};

use super::sign::{receive_progress, unexpected};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::transport::Transport;

/// Message chunks in flight at once, so the line never idles while the host waits.
const WINDOW: usize = 4;

/// A digest from the device.
#[derive(Debug, Clone)]
pub struct Digested {
    pub alg: HashAlg,
    pub digest: Vec<u8>,
    /// Bytes hashed.
    pub length: u64,
    /// False when the line lost answers mid-stream and the host finished the digest itself.
    pub hashed_on_device: bool,
    /// Whether the host computed the digest too and found it equal.
    pub verified: bool,
}

/// The host's own hash of the same bytes.
#[derive(Clone)]
enum HostHash {
    Sha256(Sha256),
    Sha224(Sha224),
    Sha1(Sha1),
}

impl HostHash {
    fn new(alg: HashAlg) -> Self {
        match alg {
            HashAlg::Sha256 => HostHash::Sha256(Sha256::new()),
            HashAlg::Sha224 => HostHash::Sha224(Sha224::new()),
            HashAlg::Sha1 => HostHash::Sha1(Sha1::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            HostHash::Sha256(h) => h.update(data),
            HostHash::Sha224(h) => h.update(data),
            HostHash::Sha1(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            HostHash::Sha256(h) => h.finalize().to_vec(),
            HostHash::Sha224(h) => h.finalize().to_vec(),
            HostHash::Sha1(h) => h.finalize().to_vec(),
        }
    }
}

/// A message being hashed on the device, fed piece by piece ([`DigestStream::update`]) over one
/// connection. The host hashes the same bytes when verifying. If answers are lost on the line
/// mid-stream (or the device restarts), the host carries on alone when it verifies, and the
/// result says so; without verification that is an error.
pub struct DigestStream {
    alg: HashAlg,
    /// The device's session while the device still hashes this message.
    session: Option<u32>,
    host: Option<HostHash>,
    length: u64,
    /// Chunks sent and not yet answered: (seq, bytes hashed once done, answer wait).
    in_flight: VecDeque<(u32, u64, Duration)>,
    /// Bytes held back until a full chunk is there (the device takes chunks of any length, but
    /// full ones use the line best).
    pending: Vec<u8>,
    chunk_len: usize,
    /// Why the device stopped hashing this message, when it did.
    lost: Option<String>,
}

impl DigestStream {
    /// Opens a digest session on the device for `alg`; `verify` hashes on the host too.
    pub fn start<T: Transport>(client: &mut Client<T>, alg: HashAlg, verify: bool) -> Result<Self> {
        check_device(client)?;
        let chunk_len =
            usize::from(client.info().raw_capabilities.max_chunk_len).clamp(1, MAX_CHUNK_LEN);
        let session = client.call(RequestBody::DigestStart { alg }, |body| match body {
            ResponseBody::SessionStarted { session } => Ok(session),
            other => Err(unexpected("DigestStart", &other)),
        })?;
        Ok(Self {
            alg,
            session: Some(session),
            host: verify.then(|| HostHash::new(alg)),
            length: 0,
            in_flight: VecDeque::new(),
            pending: Vec::with_capacity(chunk_len),
            chunk_len,
            lost: None,
        })
    }

    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Bytes fed so far.
    pub fn length(&self) -> u64 {
        self.length + self.pending.len() as u64
    }

    /// Whether the device still hashes this message (false once the host carries on alone).
    pub fn on_device(&self) -> bool {
        self.session.is_some()
    }

    /// Feeds `data`: full chunks go to the device at once, the rest waits for more.
    pub fn update<T: Transport>(&mut self, client: &mut Client<T>, mut data: &[u8]) -> Result<()> {
        if let Some(host) = &mut self.host {
            host.update(data);
        }
        while !data.is_empty() {
            let take = (self.chunk_len - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == self.chunk_len {
                self.flush(client)?;
            }
        }
        Ok(())
    }

    /// Sends the held-back bytes as one chunk.
    fn flush<T: Transport>(&mut self, client: &mut Client<T>) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let n = self.pending.len() as u64;
        if let Some(session) = self.session {
            let body = RequestBody::HashData {
                session,
                offset: self.length,
                data: &self.pending,
            };
            let wait = client.wait_for(&body);
            match client.send(&body) {
                Ok(seq) => self.in_flight.push_back((seq, self.length + n, wait)),
                Err(e) => self.lose(client, e)?,
            }
        }
        self.length += n;
        self.pending.clear();
        while self.in_flight.len() >= WINDOW {
            self.settle(client)?;
        }
        Ok(())
    }

    /// Waits for the oldest chunk in flight.
    fn settle<T: Transport>(&mut self, client: &mut Client<T>) -> Result<()> {
        let Some((seq, expected, wait)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        match receive_progress(client, seq, expected, wait) {
            Ok(()) => Ok(()),
            Err(e) => self.lose(client, e),
        }
    }

    /// The device stopped hashing this message: a lost answer or a restart carries on on the
    /// host when it verifies; anything else is the error.
    fn lose<T: Transport>(&mut self, client: &mut Client<T>, e: Error) -> Result<()> {
        if !e.is_resumable() {
            return Err(e);
        }
        client.note_retry(&e);
        self.lost = Some(e.to_string());
        self.in_flight.clear();
        if let Some(session) = self.session.take() {
            // Best effort: the session may be gone already.
            let _ = client.call(RequestBody::EndSession { session }, |_| Ok(()));
        }
        Ok(())
    }

    /// Finishes: the device's digest, checked against the host's when verifying. Without
    /// verification a stream the device lost is an error.
    pub fn finish<T: Transport>(mut self, client: &mut Client<T>) -> Result<Digested> {
        self.flush(client)?;
        while !self.in_flight.is_empty() {
            self.settle(client)?;
        }
        let host = self.host.take().map(HostHash::finish);
        let mut device = None;
        if let Some(session) = self.session.take() {
            let body = RequestBody::DigestFinish {
                session,
                length: self.length,
            };
            let alg = self.alg;
            match client.call(body, |body| match body {
                ResponseBody::Digest { data } if data.len() == alg.digest_len() => {
                    Ok(data.to_vec())
                }
                other => Err(unexpected("DigestFinish", &other)),
            }) {
                Ok(digest) => device = Some(digest),
                Err(e) => self.lose(client, e)?,
            }
        }
        let (digest, hashed_on_device) = match (device, host.as_ref()) {
            (Some(device), Some(host)) if &device != host => {
                return Err(Error::Verification(format!(
                    "the device's {} digest differs from the host's: the device is faulty",
                    self.alg.name()
                )))
            }
            (Some(device), _) => (device, true),
            (None, Some(host)) => (host.clone(), false),
            (None, None) => {
                return Err(Error::Verification(format!(
                    "the device lost the stream ({}) and the host did not hash it \
                     (--no-verify): run again",
                    self.lost.as_deref().unwrap_or("no answer")
                )))
            }
        };
        Ok(Digested {
            alg: self.alg,
            digest,
            length: self.length,
            hashed_on_device,
            verified: host.is_some(),
        })
    }

    /// An independent copy of the state so far. The device holds one session per port and
    /// cannot copy one, so the copy hashes on the host from here on (it verifies nothing and
    /// says `hashed_on_device: false`); it needs `verify` on the original.
    pub fn host_copy(&self) -> Result<Self> {
        let host = self.host.clone().ok_or_else(|| {
            Error::Unsupported(
                "a copy carries on on the host, which needs the host's hash: do not turn \
                 verification off"
                    .into(),
            )
        })?;
        // `update` fed the host's hash every byte at once, the held-back ones too.
        Ok(Self {
            alg: self.alg,
            session: None,
            host: Some(host),
            length: self.length(),
            in_flight: VecDeque::new(),
            pending: Vec::new(),
            chunk_len: self.chunk_len,
            lost: Some("copied: the device cannot copy a session".into()),
        })
    }
}

/// Digests on the device, as methods of the client.
impl<T: Transport> Client<T> {
    /// The `alg` digest of everything `input` yields, hashed on the device in constant memory
    /// and recomputed on the host when `verify` is set.
    pub fn digest(
        &mut self,
        alg: HashAlg,
        input: &mut dyn Read,
        verify: bool,
        size: Option<u64>,
        progress: &mut dyn Progress,
    ) -> Result<Digested> {
        progress.start(size);
        let result = digest_inner(self, alg, input, verify, progress);
        progress.finish();
        result
    }
}

fn digest_inner<T: Transport>(
    client: &mut Client<T>,
    alg: HashAlg,
    input: &mut dyn Read,
    verify: bool,
    progress: &mut dyn Progress,
) -> Result<Digested> {
    let mut stream = DigestStream::start(client, alg, verify)?;
    let mut buf = vec![0u8; stream.chunk_len];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::input(format!("cannot read the input: {e}"))),
        };
        stream.update(client, &buf[..n])?;
        progress.advance(n as u64);
    }
    stream.finish(client)
}

/// Refuses early what the device would refuse.
fn check_device<T: Transport>(client: &Client<T>) -> Result<()> {
    let info = client.info();
    if !info.raw_capabilities.supports(Command::Digest) {
        return Err(Error::Unsupported(format!(
            "this device ({}, firmware {}) does not compute digests: update its firmware",
            info.chip.name(),
            info.firmware_version
        )));
    }
    Ok(())
}
