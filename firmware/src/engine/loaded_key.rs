//! The signing key a host loaded for its connection (`LoadKey`): checked once, kept with its
//! Montgomery constants, and used by `SignDigestLoaded` and `SignHashedLoaded`, so that a run of
//! signatures sends the key over the line once. Wiped on `UnloadKey`, a `Hello`, a restart, or
//! [`KEY_IDLE_MS`] without a request.
use ucrypto_protocol::{
    ErrorCode, ResponseBody, RsaPrivateKey, SelfTest, KEY_IDLE_MS, MAX_CHUNK_LEN,
};

use super::rsa::{self, Workspace};
use super::sign::refuse_after_failed_self_test;
use super::Outcome;
use crate::{Backend, ChipProfile};

/// One loaded key at a time (loading another replaces it).
pub(crate) struct KeySlot {
    /// The key in word form with its constants; all zero when nothing is loaded.
    ws: Workspace,
    /// The loaded key's handle and modulus length in bytes.
    loaded: Option<(u32, usize)>,
    next_handle: u32,
    /// Whether a request arrived since the last clock tick, and when the last one was seen.
    active: bool,
    last_request_ms: u64,
}

const NO_KEY: (ErrorCode, &str) = (
    ErrorCode::NoKey,
    "no key loaded under that handle (unloaded, idle or restarted): load it again",
);

impl KeySlot {
    pub(crate) const fn new() -> Self {
        Self {
            ws: Workspace::new(),
            loaded: None,
            next_handle: 1,
            active: false,
            last_request_ms: 0,
        }
    }

    /// `LoadKey`: checks `key` as a signature would and keeps it.
    pub(crate) fn load<'d, B: Backend>(
        &mut self,
        backend: &B,
        self_test: &SelfTest,
        key: &RsaPrivateKey<'_>,
    ) -> Outcome<'d> {
        self.wipe();
        refuse_after_failed_self_test(self_test)?;
        let max_bits = ChipProfile::of(backend.chip()).max_rsa_bits;
        match self.ws.load(key, max_bits) {
            Ok(len) => {
                let handle = self.next_handle;
                self.next_handle = self.next_handle.wrapping_add(1).max(1);
                self.loaded = Some((handle, len));
                Ok(ResponseBody::KeyLoaded { handle })
            }
            Err(refusal) => {
                self.wipe();
                Err(refusal)
            }
        }
    }

    /// Signs `digest` with the key loaded under `handle`.
    pub(crate) fn sign<'d, B: Backend>(
        &mut self,
        backend: &mut B,
        self_test: &SelfTest,
        handle: u32,
        digest: &[u8; 32],
        out: &'d mut [u8; MAX_CHUNK_LEN],
    ) -> Outcome<'d> {
        let len = self.len_of(handle)?;
        refuse_after_failed_self_test(self_test)?;
        let len = rsa::sign_loaded(backend, &mut self.ws, len, digest, out)?;
        Ok(ResponseBody::Signature { data: &out[..len] })
    }

    /// The modulus length of the key loaded under `handle`.
    pub(crate) fn len_of(&self, handle: u32) -> Result<usize, (ErrorCode, &'static str)> {
        match self.loaded {
            Some((h, len)) if h == handle => Ok(len),
            _ => Err(NO_KEY),
        }
    }

    /// `UnloadKey`.
    pub(crate) fn unload<'d>(&mut self, handle: u32) -> Outcome<'d> {
        self.len_of(handle)?;
        self.wipe();
        Ok(ResponseBody::KeyUnloaded)
    }

    /// Forgets the key: every word of it is overwritten.
    pub(crate) fn wipe(&mut self) {
        if self.loaded.take().is_some() {
            self.ws = Workspace::new();
        }
    }

    /// Notes that a request arrived (the idle clock restarts at the next tick).
    pub(crate) fn touch(&mut self) {
        self.active = true;
    }

    /// The device's clock: wipes the key after [`KEY_IDLE_MS`] without a request.
    pub(crate) fn tick(&mut self, now_ms: u64) {
        if self.active || self.loaded.is_none() {
            self.active = false;
            self.last_request_ms = now_ms;
        } else if now_ms.saturating_sub(self.last_request_ms) >= KEY_IDLE_MS {
            self.wipe();
        }
    }
}
