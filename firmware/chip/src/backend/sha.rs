//! SHA-1, SHA-224 and SHA-256 on the accelerator, resumable: each call restores the saved
//! context into the SHA block, feeds it and saves it again, so the block holds no state between
//! requests.
use esp_hal::sha::{Context, Sha, Sha1, Sha224, Sha256, ShaAlgorithm, ShaDigest};
use ucrypto_protocol::HashAlg;

/// The accelerator's saved registers for a computation of one of the three algorithms.
pub enum ShaState {
    Sha256(Context<Sha256>),
    Sha224(Context<Sha224>),
    Sha1(Context<Sha1>),
}

impl ShaState {
    pub(super) fn new(alg: HashAlg) -> Self {
        match alg {
            HashAlg::Sha256 => ShaState::Sha256(Context::new()),
            HashAlg::Sha224 => ShaState::Sha224(Context::new()),
            HashAlg::Sha1 => ShaState::Sha1(Context::new()),
        }
    }
}

pub(super) fn update(sha: &mut Sha<'static>, state: &mut ShaState, data: &[u8]) {
    match state {
        ShaState::Sha256(context) => update_with(sha, context, data),
        ShaState::Sha224(context) => update_with(sha, context, data),
        ShaState::Sha1(context) => update_with(sha, context, data),
    }
}

/// Writes the digest to the start of `out`; the rest of `out` is zero.
pub(super) fn finish(sha: &mut Sha<'static>, state: ShaState, out: &mut [u8; 32]) {
    out.fill(0);
    match state {
        ShaState::Sha256(context) => finish_with(sha, context, out),
        ShaState::Sha224(context) => finish_with(sha, context, &mut out[..28]),
        ShaState::Sha1(context) => finish_with(sha, context, &mut out[..20]),
    }
}

fn update_with<A: ShaAlgorithm>(sha: &mut Sha<'static>, state: &mut Context<A>, data: &[u8]) {
    let mut digest = ShaDigest::restore(sha, state);
    let mut rest = data;
    while !rest.is_empty() {
        // `update` takes what fits in the block's message registers; `WouldBlock` while the
        // block is still hashing the previous 64 bytes.
        if let Ok(tail) = digest.update(rest) {
            rest = tail;
        }
    }
    while digest.save(state).is_err() {}
}

/// Finishes the computation into `out` and wipes its saved context (an HMAC's inner or outer
/// state is as good as its key); the engine clears the accelerator's registers after an HMAC
/// (`engine::device_keys::ds_block`).
fn finish_with<A: ShaAlgorithm>(sha: &mut Sha<'static>, mut state: Context<A>, out: &mut [u8]) {
    let mut digest = ShaDigest::restore(sha, &mut state);
    while digest.finish(out).is_err() {}
    // SAFETY: `state` is a valid, exclusive place and a new context a valid value for it; the
    // old one owns nothing that needs dropping (words and bytes). Volatile, so that the wipe of
    // a value about to go out of scope is not optimised away.
    unsafe { core::ptr::write_volatile(&mut state, Context::new()) };
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}
