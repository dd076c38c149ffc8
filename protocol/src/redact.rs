//! `Debug` for the message bodies that carry secrets or user data (AES keys, plaintext,
//! random bytes, signatures): each payload shows as its length, so no `{:?}` anywhere (a log,
//! an error path, a test failure) can print the bytes. The match is exhaustive on purpose: a new
//! variant does not compile until its author decides what it may show.
use core::fmt;

use crate::{RequestBody, ResponseBody};

/// A byte payload shown as its length.
struct Bytes(usize);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

impl fmt::Debug for RequestBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestBody::Hello => f.write_str("Hello"),
            RequestBody::Ping { nonce } => f.debug_struct("Ping").field("nonce", nonce).finish(),
            RequestBody::Random { words } => {
                f.debug_struct("Random").field("words", words).finish()
            }
            RequestBody::AesStart {
                direction,
                mode,
                key,
                iv,
            } => f
                .debug_struct("AesStart")
                .field("direction", direction)
                .field("mode", mode)
                .field("key", &Bytes(key.len()))
                .field("iv", &iv.map(|iv| Bytes(iv.len())))
                .finish(),
            RequestBody::AesData {
                session,
                offset,
                data,
            } => f
                .debug_struct("AesData")
                .field("session", session)
                .field("offset", offset)
                .field("data", &Bytes(data.len()))
                .finish(),
            RequestBody::HashStart => f.write_str("HashStart"),
            RequestBody::HashData {
                session,
                offset,
                data,
            } => f
                .debug_struct("HashData")
                .field("session", session)
                .field("offset", offset)
                .field("data", &Bytes(data.len()))
                .finish(),
            RequestBody::SignHashed {
                session,
                length,
                key,
            } => f
                .debug_struct("SignHashed")
                .field("session", session)
                .field("length", length)
                .field("key", key)
                .finish(),
            RequestBody::SignDigest { digest, key } => f
                .debug_struct("SignDigest")
                .field("digest", &Bytes(digest.len()))
                .field("key", key)
                .finish(),
            RequestBody::EndSession { session } => f
                .debug_struct("EndSession")
                .field("session", session)
                .finish(),
            RequestBody::KeyGenerate { slot, bits } => f
                .debug_struct("KeyGenerate")
                .field("slot", slot)
                .field("bits", bits)
                .finish(),
            RequestBody::KeyImport { slot, key } => f
                .debug_struct("KeyImport")
                .field("slot", slot)
                .field("key", key)
                .finish(),
            RequestBody::PublicKey { slot } => {
                f.debug_struct("PublicKey").field("slot", slot).finish()
            }
            RequestBody::SignSlot {
                session,
                length,
                slot,
            } => f
                .debug_struct("SignSlot")
                .field("session", session)
                .field("length", length)
                .field("slot", slot)
                .finish(),
            RequestBody::SignDigestSlot { digest, slot } => f
                .debug_struct("SignDigestSlot")
                .field("digest", &Bytes(digest.len()))
                .field("slot", slot)
                .finish(),
            RequestBody::LoadKey { key } => f.debug_struct("LoadKey").field("key", key).finish(),
            RequestBody::SignDigestLoaded { handle, digest } => f
                .debug_struct("SignDigestLoaded")
                .field("handle", handle)
                .field("digest", &Bytes(digest.len()))
                .finish(),
            RequestBody::SignHashedLoaded {
                handle,
                session,
                length,
            } => f
                .debug_struct("SignHashedLoaded")
                .field("handle", handle)
                .field("session", session)
                .field("length", length)
                .finish(),
            RequestBody::UnloadKey { handle } => {
                f.debug_struct("UnloadKey").field("handle", handle).finish()
            }
            RequestBody::SetBaud { baud } => f.debug_struct("SetBaud").field("baud", baud).finish(),
            RequestBody::Lock => f.write_str("Lock"),
            RequestBody::DigestStart { alg } => {
                f.debug_struct("DigestStart").field("alg", alg).finish()
            }
            RequestBody::DigestFinish { session, length } => f
                .debug_struct("DigestFinish")
                .field("session", session)
                .field("length", length)
                .finish(),
            RequestBody::Decrypt {
                padding,
                ciphertext,
                key,
            } => f
                .debug_struct("Decrypt")
                .field("padding", padding)
                .field("ciphertext", &Bytes(ciphertext.len()))
                .field("key", key)
                .finish(),
            RequestBody::DecryptSlot {
                slot,
                padding,
                ciphertext,
            } => f
                .debug_struct("DecryptSlot")
                .field("slot", slot)
                .field("padding", padding)
                .field("ciphertext", &Bytes(ciphertext.len()))
                .finish(),
            RequestBody::DecryptLoaded {
                handle,
                padding,
                ciphertext,
            } => f
                .debug_struct("DecryptLoaded")
                .field("handle", handle)
                .field("padding", padding)
                .field("ciphertext", &Bytes(ciphertext.len()))
                .finish(),
            RequestBody::CertWrite {
                kind,
                offset,
                total,
                data,
            } => f
                .debug_struct("CertWrite")
                .field("kind", kind)
                .field("offset", offset)
                .field("total", total)
                .field("data", &Bytes(data.len()))
                .finish(),
            RequestBody::CertRead { kind, offset } => f
                .debug_struct("CertRead")
                .field("kind", kind)
                .field("offset", offset)
                .finish(),
            RequestBody::Attest { slot, challenge } => f
                .debug_struct("Attest")
                .field("slot", slot)
                .field("challenge", &Bytes(challenge.len()))
                .finish(),
        }
    }
}

impl fmt::Debug for ResponseBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseBody::Hello(info) => f.debug_tuple("Hello").field(info).finish(),
            ResponseBody::Pong { nonce } => f.debug_struct("Pong").field("nonce", nonce).finish(),
            ResponseBody::Random { data } => f
                .debug_struct("Random")
                .field("data", &Bytes(data.len()))
                .finish(),
            ResponseBody::SessionStarted { session } => f
                .debug_struct("SessionStarted")
                .field("session", session)
                .finish(),
            ResponseBody::AesData { offset, data } => f
                .debug_struct("AesData")
                .field("offset", offset)
                .field("data", &Bytes(data.len()))
                .finish(),
            ResponseBody::HashProgress { received } => f
                .debug_struct("HashProgress")
                .field("received", received)
                .finish(),
            ResponseBody::Signature { data } => f
                .debug_struct("Signature")
                .field("data", &Bytes(data.len()))
                .finish(),
            ResponseBody::SessionEnded => f.write_str("SessionEnded"),
            ResponseBody::Error(error) => f.debug_tuple("Error").field(error).finish(),
            // A public key is public: shown whole.
            ResponseBody::PublicKey(info) => f.debug_tuple("PublicKey").field(info).finish(),
            ResponseBody::KeyLoaded { handle } => {
                f.debug_struct("KeyLoaded").field("handle", handle).finish()
            }
            ResponseBody::KeyUnloaded => f.write_str("KeyUnloaded"),
            ResponseBody::BaudSet { baud } => {
                f.debug_struct("BaudSet").field("baud", baud).finish()
            }
            ResponseBody::Locked => f.write_str("Locked"),
            ResponseBody::Digest { data } => f
                .debug_struct("Digest")
                .field("data", &Bytes(data.len()))
                .finish(),
            ResponseBody::Plaintext { data } => f
                .debug_struct("Plaintext")
                .field("data", &Bytes(data.len()))
                .finish(),
            ResponseBody::CertWritten { received } => f
                .debug_struct("CertWritten")
                .field("received", received)
                .finish(),
            ResponseBody::Certificate {
                total,
                offset,
                data,
            } => f
                .debug_struct("Certificate")
                .field("total", total)
                .field("offset", offset)
                .field("data", &Bytes(data.len()))
                .finish(),
            ResponseBody::Attestation {
                statement,
                signature,
            } => f
                .debug_struct("Attestation")
                .field("statement", &Bytes(statement.len()))
                .field("signature", &Bytes(signature.len()))
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;
    use std::string::String;

    use crate::{AesDirection, AesMode, Request, RequestBody, ResponseBody, RsaPrivateKey};

    /// Every payload byte is 0xc3: its decimal (195) and hex forms must appear nowhere, while the
    /// lengths and the non-secret fields still do.
    const SECRET: u8 = 0xc3;

    fn assert_redacted(shown: &str, expect: &[&str]) {
        for leak in ["195", "c3", "C3"] {
            assert!(!shown.contains(leak), "payload byte in {shown:?}");
        }
        for part in expect {
            assert!(shown.contains(part), "{part:?} missing from {shown:?}");
        }
    }

    fn key(bytes: &[u8]) -> RsaPrivateKey<'_> {
        RsaPrivateKey {
            n: bytes,
            e: bytes,
            d: bytes,
            p: bytes,
            q: bytes,
            dp: bytes,
            dq: bytes,
            qinv: bytes,
        }
    }

    #[test]
    fn request_debug_shows_lengths_not_payloads() {
        let bytes = [SECRET; 48];
        let cases: [(RequestBody<'_>, &[&str]); 6] = [
            (
                RequestBody::AesStart {
                    direction: AesDirection::Encrypt,
                    mode: AesMode::Cbc,
                    key: &bytes[..32],
                    iv: Some([SECRET; 16]),
                },
                &["AesStart", "Encrypt", "Cbc", "<32 bytes>", "<16 bytes>"],
            ),
            (
                RequestBody::AesData {
                    session: 7,
                    offset: 64,
                    data: &bytes,
                },
                &["session: 7", "offset: 64", "<48 bytes>"],
            ),
            (
                RequestBody::HashData {
                    session: 7,
                    offset: 64,
                    data: &bytes[..40],
                },
                &["HashData", "<40 bytes>"],
            ),
            (
                RequestBody::SignHashed {
                    session: 7,
                    length: 40,
                    key: key(&bytes),
                },
                &["SignHashed", "redacted"],
            ),
            (
                RequestBody::SignDigest {
                    digest: [SECRET; 32],
                    key: key(&bytes),
                },
                &["SignDigest", "<32 bytes>", "redacted"],
            ),
            (RequestBody::Ping { nonce: 9 }, &["Ping", "nonce: 9"]),
        ];
        for (body, expect) in cases {
            let request = Request { seq: 5, body };
            assert_redacted(&format!("{request:?}"), expect);
            assert_redacted(&format!("{request:#?}"), expect);
        }
    }

    #[test]
    fn response_debug_shows_lengths_not_payloads() {
        let bytes = [SECRET; 48];
        let cases: [(ResponseBody<'_>, &[&str]); 3] = [
            (
                ResponseBody::Random { data: &bytes },
                &["Random", "<48 bytes>"],
            ),
            (
                ResponseBody::AesData {
                    offset: 16,
                    data: &bytes[..32],
                },
                &["AesData", "offset: 16", "<32 bytes>"],
            ),
            (
                ResponseBody::Signature { data: &bytes[..8] },
                &["Signature", "<8 bytes>"],
            ),
        ];
        for (body, expect) in cases {
            let shown: String = format!("{body:?}");
            assert_redacted(&shown, expect);
            assert_redacted(&format!("{body:#?}"), expect);
        }
    }
}
