//! SHA-256 on the accelerator, resumable: each call restores the saved context into the SHA
//! block, feeds it and saves it again, so the block holds no state between requests.
use esp_hal::sha::{Context, Sha, Sha256, ShaDigest};

pub(super) fn update(sha: &mut Sha<'static>, state: &mut Context<Sha256>, data: &[u8]) {
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

/// Finishes the computation and wipes its saved context (an HMAC's inner or outer state is as
/// good as its key); the engine clears the accelerator's registers after an HMAC
/// (`engine::device_keys::ds_block`).
pub(super) fn finish(sha: &mut Sha<'static>, mut state: Context<Sha256>) -> [u8; 32] {
    let mut digest = ShaDigest::restore(sha, &mut state);
    let mut out = [0u8; 32];
    while digest.finish(&mut out).is_err() {}
    // SAFETY: `state` is a valid, exclusive place and a new context a valid value for it; the
    // old one owns nothing that needs dropping (words and bytes). Volatile, so that the wipe of
    // a value about to go out of scope is not optimised away.
    unsafe { core::ptr::write_volatile(&mut state, Context::new()) };
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    out
}
