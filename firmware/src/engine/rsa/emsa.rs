//! EMSA-PKCS1-v1_5 encoding with SHA-256 (RFC 8017 section 9.2): the message representative
//! that RS256 signs, `00 01 FF..FF 00 DigestInfo(SHA-256, digest)`.

/// DER of `DigestInfo { AlgorithmIdentifier { id-sha256, NULL }, OCTET STRING (32 bytes) }`
/// before the digest (RFC 8017 section 9.2, note 1).
pub(crate) const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// Length of the DigestInfo with its digest.
const T_LEN: usize = SHA256_DIGEST_INFO_PREFIX.len() + 32;

/// Shortest encoding: at least eight `FF` bytes of padding (RFC 8017: `emLen >= tLen + 11`).
pub(crate) const MIN_EM_LEN: usize = T_LEN + 11;

/// Writes the encoding of `digest` into all of `em` (the modulus length in bytes); false if
/// `em` is shorter than [`MIN_EM_LEN`].
pub(crate) fn encode_sha256(digest: &[u8; 32], em: &mut [u8]) -> bool {
    let len = em.len();
    if len < MIN_EM_LEN {
        return false;
    }
    em[0] = 0x00;
    em[1] = 0x01;
    em[2..len - T_LEN - 1].fill(0xff);
    em[len - T_LEN - 1] = 0x00;
    em[len - T_LEN..len - 32].copy_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    em[len - 32..].copy_from_slice(digest);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding is what a public-key operation on an RS256 signature reveals: here the
    /// expected bytes come from `openssl pkeyutl -verifyrecover` (no padding removed) of the
    /// self-test's signature of "abc", i.e. from OpenSSL rather than from this code.
    #[test]
    fn encoding_of_abc_matches_openssl_recovery() {
        let mut em = [0u8; 128];
        assert!(encode_sha256(&super::super::kat::ABC_SHA256, &mut em));
        let mut expected = [0xffu8; 128];
        expected[0] = 0;
        expected[1] = 1;
        // openssl pkeyutl -verifyrecover -pkeyopt rsa_padding_mode:none, last 52 bytes:
        let tail = hex_literal(
            "00 3031300d060960864801650304020105000420 \
             ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        );
        expected[128 - tail.len()..].copy_from_slice(&tail);
        assert_eq!(em, expected);
    }

    #[test]
    fn too_short_an_encoding_is_refused() {
        let mut em = [0u8; MIN_EM_LEN - 1];
        assert!(!encode_sha256(&[0; 32], &mut em));
        let mut em = [0u8; MIN_EM_LEN];
        assert!(encode_sha256(&[7; 32], &mut em));
        assert_eq!(
            &em[..10],
            &[0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(em[10], 0);
    }

    fn hex_literal(text: &str) -> std::vec::Vec<u8> {
        let digits: std::vec::Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(core::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }
}
