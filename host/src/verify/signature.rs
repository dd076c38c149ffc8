//! RS256 signatures checked on the host with the public key (RustCrypto `rsa`), before a
//! signature from the device is output and for `ucrypto verify`.
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::Sha256;

/// Checks an RSASSA-PKCS1-v1_5 SHA-256 signature of `digest`; the reason when it fails.
pub fn check_rs256(key: &RsaPublicKey, digest: &[u8; 32], signature: &[u8]) -> Result<(), String> {
    let expected = key.size();
    if signature.len() != expected {
        return Err(format!(
            "the signature is {} bytes; a {}-bit key's signatures are {expected}",
            signature.len(),
            key.n().bits()
        ));
    }
    key.verify(Pkcs1v15Sign::new::<Sha256>(), digest, signature)
        .map_err(|_| "the signature does not match the message and the public key".to_string())
}
