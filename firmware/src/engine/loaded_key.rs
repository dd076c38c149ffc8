//! The signing key a host loaded for its connection (`LoadKey`): checked once, kept with its
//! Montgomery constants, and used by `SignDigestLoaded`, `SignHashedLoaded` and `DecryptLoaded`,
//! so that a run of signatures (or decryptions) sends the key over the line once. Wiped on `UnloadKey`, a `Hello` on its port, a
//! restart, or [`KEY_IDLE_MS`] without a request from its port.
//!
//! The key belongs to the port that loaded it, like a session: the other port cannot sign with
//! it, unload it or replace it (`Busy`), and its `Hello` leaves it alone.
use ucrypto_protocol::{
    ErrorCode, ResponseBody, RsaPrivateKey, SelfTest, KEY_IDLE_MS, MAX_CHUNK_LEN,
};

use zeroize::Zeroize;

use super::outcome::{refuse_after_failed_self_test, Outcome, Relies};
use super::rsa::{self, Workspace};
use crate::{Backend, ChipProfile, PortId};

/// One loaded key at a time (loading another replaces it).
pub(crate) struct KeySlot {
    /// The key in word form with its constants; all zero when nothing is loaded.
    ws: Workspace,
    /// The loaded key's handle and modulus length in bytes.
    loaded: Option<(u32, usize)>,
    /// The port that loaded the key, and the port of the request being served.
    owner: PortId,
    port: PortId,
    next_handle: u32,
    /// When the owner's last request arrived, and the time of the request being served.
    last_request_ms: u64,
    now_ms: u64,
}

const NO_KEY: (ErrorCode, &str) = (
    ErrorCode::NoKey,
    "no key loaded under that handle (unloaded, idle or restarted): load it again",
);

const BUSY: (ErrorCode, &str) = (
    ErrorCode::Busy,
    "a key loaded on the device's other port is in use: wait for it to be unloaded or idle",
);

impl KeySlot {
    pub(crate) const fn new() -> Self {
        Self {
            ws: Workspace::new(),
            loaded: None,
            owner: PortId::DEFAULT,
            port: PortId::DEFAULT,
            next_handle: 1,
            last_request_ms: 0,
            now_ms: 0,
        }
    }

    /// Sets the port of the requests that follow and their time (the engine's clock).
    pub(crate) fn serve_from(&mut self, port: PortId, now_ms: u64) {
        self.port = port;
        self.now_ms = now_ms;
    }

    /// `LoadKey`: checks `key` as a signature would and keeps it for the requesting port.
    pub(crate) fn load<'d, B: Backend>(
        &mut self,
        backend: &B,
        self_test: &SelfTest,
        key: &RsaPrivateKey<'_>,
    ) -> Outcome<'d> {
        if self.loaded.is_some() && self.owner != self.port {
            return Err(BUSY);
        }
        self.wipe();
        self.owner = self.port;
        self.last_request_ms = self.now_ms;
        refuse_after_failed_self_test(self_test, Relies::Signing)?;
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
        refuse_after_failed_self_test(self_test, Relies::Signing)?;
        let len = rsa::sign_loaded(backend, &mut self.ws, len, digest, out)?;
        Ok(ResponseBody::Signature { data: &out[..len] })
    }

    /// RSADP with the key loaded under `handle` (see [`rsa::decrypt_raw_loaded`]); returns the
    /// modulus length in bytes.
    pub(crate) fn decrypt_raw<B: Backend>(
        &mut self,
        backend: &mut B,
        self_test: &SelfTest,
        handle: u32,
        ciphertext: &[u8],
        out: &mut [u8; MAX_CHUNK_LEN],
    ) -> Result<usize, (ErrorCode, &'static str)> {
        let len = self.len_of(handle)?;
        refuse_after_failed_self_test(self_test, Relies::Decryption)?;
        rsa::decrypt_raw_loaded(backend, &mut self.ws, len, ciphertext, out)?;
        Ok(len)
    }

    /// The modulus length of the key the requesting port loaded under `handle`.
    pub(crate) fn len_of(&self, handle: u32) -> Result<usize, (ErrorCode, &'static str)> {
        match self.loaded {
            Some((h, len)) if h == handle && self.owner == self.port => Ok(len),
            _ => Err(NO_KEY),
        }
    }

    /// `UnloadKey`.
    pub(crate) fn unload<'d>(&mut self, handle: u32) -> Outcome<'d> {
        self.len_of(handle)?;
        self.wipe();
        Ok(ResponseBody::KeyUnloaded)
    }

    /// Forgets the key: every word of the workspace is overwritten, also when nothing is loaded
    /// (a refused `LoadKey` leaves the parts it read before the refusal there).
    pub(crate) fn wipe(&mut self) {
        self.loaded = None;
        self.ws.zeroize();
    }

    /// Whether every word of the workspace is zero, for tests that look for keys left behind.
    #[cfg(test)]
    pub(crate) fn is_wiped(&self) -> bool {
        self.ws.is_zero()
    }

    /// Forgets the key if the requesting port loaded it (its `Hello`).
    pub(crate) fn wipe_own(&mut self) {
        if self.owner == self.port {
            self.wipe();
        }
    }

    /// Notes that a request arrived: only the owner's requests keep its key alive.
    pub(crate) fn touch(&mut self) {
        if self.owner == self.port {
            self.last_request_ms = self.now_ms;
        }
    }

    /// The device's clock: wipes the key after [`KEY_IDLE_MS`] without a request from its port.
    pub(crate) fn tick(&mut self, now_ms: u64) {
        if self.loaded.is_some() && now_ms.saturating_sub(self.last_request_ms) >= KEY_IDLE_MS {
            self.wipe();
        }
    }
}

#[cfg(test)]
mod tests {
    use ucrypto_protocol::{Chip, ErrorCode, SelfTest, TestOutcome};

    use super::KeySlot;
    use crate::backend::software::{Seed, SoftwareBackend};
    use crate::engine::rsa::tests::vectors;

    fn passed() -> SelfTest {
        SelfTest {
            rng: TestOutcome::Passed,
            aes: TestOutcome::Passed,
            sha256: TestOutcome::Passed,
            rsa: TestOutcome::Passed,
        }
    }

    #[test]
    fn a_refused_load_leaves_nothing_of_the_key() {
        let backend = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(1));
        let v = &vectors()[0];
        let mut key = v.key();
        // Refused at the last check, after n, e, p and q (and dp) were read into the workspace.
        let big = [0xffu8; 300];
        key.qinv = &big;
        let mut slot = KeySlot::new();
        let refused = slot.load(&backend, &passed(), &key);
        assert_eq!(refused.unwrap_err().0, ErrorCode::BadArgument);
        assert!(
            slot.is_wiped(),
            "parts of the refused key stayed in the slot"
        );
        // And a loaded key is wiped by unloading.
        let handle = match slot.load(&backend, &passed(), &v.key()) {
            Ok(ucrypto_protocol::ResponseBody::KeyLoaded { handle }) => handle,
            other => panic!("{other:?}"),
        };
        assert!(!slot.is_wiped());
        slot.unload(handle).unwrap();
        assert!(slot.is_wiped());
    }
}
