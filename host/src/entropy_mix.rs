//! `rand --mix-host-entropy`: the device's random bytes XOR-combined with the host OS's, each
//! 32-byte block of output being
//!
//! ```text
//! out[i] = device[i] XOR SHA-256("ucrypto mix-host-entropy v1" || be64(offset of block i) || os[i])
//! ```
//!
//! where `os[i]` is 32 fresh bytes from the OS (`getrandom`) for each block and the last block is
//! cut to length. If either side is unpredictable to an attacker and the two are independent,
//! so is the output: a device that cannot see the host's bytes cannot steer it, and a host RNG
//! that fails leaves the device's bytes. The health tests run on the device's bytes before the
//! mix (they test the device).
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::error::{Error, Result};

/// Domain separation: these hashes are used for nothing else.
pub const MIX_LABEL: &[u8] = b"ucrypto mix-host-entropy v1";

/// Mixes OS randomness into `device`, the bytes at `offset` of the output stream (a multiple of
/// 32 except for the final piece).
pub fn mix_host_entropy(device: &mut [u8], offset: u64) -> Result<()> {
    mix_with(device, offset, |os| {
        getrandom::fill(os).map_err(|e| {
            Error::Verification(format!(
                "the host OS's random number generator failed ({e}): run without --mix-host-entropy"
            ))
        })
    })
}

/// [`mix_host_entropy`] with the OS's bytes from `os` (tests give known bytes).
fn mix_with(
    device: &mut [u8],
    offset: u64,
    mut os: impl FnMut(&mut [u8; 32]) -> Result<()>,
) -> Result<()> {
    let mut host = [0u8; 32];
    for (i, block) in device.chunks_mut(32).enumerate() {
        os(&mut host)?;
        let mut pad: [u8; 32] = Sha256::new()
            .chain_update(MIX_LABEL)
            .chain_update((offset + 32 * i as u64).to_be_bytes())
            .chain_update(host)
            .finalize()
            .into();
        for (byte, p) in block.iter_mut().zip(pad) {
            *byte ^= p;
        }
        pad.zeroize();
    }
    host.zeroize();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected bytes from Python's hashlib, not from this code:
    /// ```python
    /// import hashlib
    /// def pad(off, os): return hashlib.sha256(b"ucrypto mix-host-entropy v1" + off.to_bytes(8, "big") + os).digest()
    /// dev = bytes(range(40)); os = [bytes([0x11]*32), bytes([0x22]*32)]
    /// out = bytes(d ^ p for d, p in zip(dev, pad(64, os[0]) + pad(96, os[1])[:8]))
    /// ```
    #[test]
    fn matches_the_documented_construction() {
        let mut bytes: Vec<u8> = (0..40).collect();
        let mut fill = 0x11;
        mix_with(&mut bytes, 64, |os| {
            os.fill(fill);
            fill += 0x11;
            Ok(())
        })
        .unwrap();
        assert_eq!(hex::encode(&bytes), EXPECTED);
    }

    const EXPECTED: &str =
        "89ec8c1af4632fb62cca18b8c26e13555f01b0279b0c5efb6f0b4f38d710a66f324076e9e11a1146";
}
