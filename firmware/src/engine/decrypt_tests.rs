//! RSA decryption through the engine's frames, with a sent, a loaded and a device key, against
//! cases made by Python's `cryptography` and hand-built malformed blocks
//! (`testdata/decrypt_cases.py`): every valid case opens to its message, every invalid one is
//! the same `DecryptFailed` answer, word for word.
use std::format;
use std::string::String;
use std::vec::Vec;

use ucrypto_protocol::{
    Chip, Command, DeviceError, ErrorCode, RequestBody, ResponseBody, RsaPadding,
};

use super::rsa::tests::{vectors, Vector};
use super::sign::tests::{ask, engine};
use super::tests::{decode, python_lines};
use crate::backend::software::SoftwareBackend;

type Device = super::Engine<SoftwareBackend>;

struct Case {
    padding: RsaPadding,
    ciphertext: Vec<u8>,
    /// The message, or `None` for an invalid case.
    plaintext: Option<Vec<u8>>,
    name: String,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn cases(v: &Vector) -> Vec<Case> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/decrypt_cases.py");
    python_lines(&[script, &hex(v.get("n")), &hex(v.get("e"))])
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let padding = match f[0] {
                "oaep" => RsaPadding::OaepSha256,
                _ => RsaPadding::Pkcs1v15,
            };
            let plaintext = (f[1] == "valid").then(|| match f[3] {
                "-" => Vec::new(),
                m => unhex(m),
            });
            Case {
                padding,
                ciphertext: unhex(f[2]),
                plaintext,
                name: format!("{} {}", f[0], f[3]),
            }
        })
        .collect()
}

/// The answer as `Ok(plaintext)` or `Err((code, message))`.
pub(super) fn answer(raw: &[u8]) -> Result<Vec<u8>, (ErrorCode, String)> {
    match decode(raw).body {
        ResponseBody::Plaintext { data } => Ok(data.to_vec()),
        ResponseBody::Error(DeviceError { code, message }) => Err((code, message.into())),
        other => panic!("{other:?}"),
    }
}

/// Runs every case of `v` through `decrypt`, checks the valid ones open and that every invalid
/// one gets one and the same answer, which is returned.
fn check_all(
    v: &Vector,
    mut decrypt: impl FnMut(&Case) -> Result<Vec<u8>, (ErrorCode, String)>,
) -> (ErrorCode, String) {
    let mut refusals = Vec::new();
    for case in cases(v) {
        let got = decrypt(&case);
        match &case.plaintext {
            Some(message) => assert_eq!(got.as_ref(), Ok(message), "{}: {}", v.name, case.name),
            None => refusals.push((got.expect_err(&case.name), case.name)),
        }
    }
    assert!(refusals.len() >= 20);
    let first = refusals[0].0.clone();
    assert_eq!(first.0, ErrorCode::DecryptFailed);
    for (refusal, name) in &refusals {
        assert_eq!(refusal, &first, "{}: {name}", v.name);
    }
    first
}

fn vector(name: &str) -> Vector {
    vectors().into_iter().find(|v| v.name == name).unwrap()
}

#[test]
fn a_sent_key_opens_what_cryptography_sealed_and_refuses_every_malformation_alike() {
    let mut e: Device = engine(Chip::Esp32C3);
    assert!(e.capabilities().supports(Command::Decrypt));
    for name in ["2048", "2048 p < q", "3072 e=3", "4096", "1056", "2047"] {
        let v = vector(name);
        check_all(&v, |case| {
            answer(&ask(
                &mut e,
                RequestBody::Decrypt {
                    padding: case.padding,
                    ciphertext: &case.ciphertext,
                    key: v.key(),
                },
            ))
        });
    }
}

#[test]
fn a_loaded_key_decrypts_like_a_sent_one() {
    let mut e: Device = engine(Chip::Esp32C6);
    for name in ["2048", "4096"] {
        let v = vector(name);
        let handle = match decode(&ask(&mut e, RequestBody::LoadKey { key: v.key() })).body {
            ResponseBody::KeyLoaded { handle } => handle,
            other => panic!("{other:?}"),
        };
        check_all(&v, |case| {
            answer(&ask(
                &mut e,
                RequestBody::DecryptLoaded {
                    handle,
                    padding: case.padding,
                    ciphertext: &case.ciphertext,
                },
            ))
        });
        // The key stays loaded after refusals.
        let answer = ask(&mut e, RequestBody::UnloadKey { handle });
        assert_eq!(decode(&answer).body, ResponseBody::KeyUnloaded);
    }
}

#[test]
fn a_device_key_decrypts_through_the_ds_peripheral() {
    let mut e: Device = engine(Chip::Esp32C3);
    let mut refusal = None;
    for (slot, name) in [(0u8, "2048"), (1, "3072 e=3"), (2, "2047")] {
        let v = vector(name);
        let imported = ask(&mut e, RequestBody::KeyImport { slot, key: v.key() });
        assert!(matches!(decode(&imported).body, ResponseBody::PublicKey(_)));
        let this = check_all(&v, |case| {
            answer(&ask(
                &mut e,
                RequestBody::DecryptSlot {
                    slot,
                    padding: case.padding,
                    ciphertext: &case.ciphertext,
                },
            ))
        });
        // The same answer as with a key on the RSA accelerator.
        assert_eq!(refusal.get_or_insert(this.clone()), &this);
    }
    let answer = ask(
        &mut e,
        RequestBody::DecryptSlot {
            slot: 4,
            padding: RsaPadding::OaepSha256,
            ciphertext: &[1; 256],
        },
    );
    assert!(matches!(
        decode(&answer).body,
        ResponseBody::Error(DeviceError {
            code: ErrorCode::NoKey,
            ..
        })
    ));
}

#[test]
fn nothing_of_a_refused_block_stays_in_the_engine() {
    let mut e: Device = engine(Chip::Esp32C3);
    let v = vector("2048");
    for case in cases(&v).iter().filter(|c| c.plaintext.is_none()) {
        ask(
            &mut e,
            RequestBody::Decrypt {
                padding: case.padding,
                ciphertext: &case.ciphertext,
                key: v.key(),
            },
        );
        for buffer in e.buffers() {
            assert!(buffer.iter().all(|&b| b == 0), "{}", case.name);
        }
    }
}

/// The software backend, with every call the engine makes to the hardware written down.
pub(super) struct Traced {
    pub(super) inner: SoftwareBackend,
    pub(super) trace: Vec<String>,
}

impl crate::Backend for Traced {
    fn chip(&self) -> Chip {
        self.inner.chip()
    }
    fn device_id(&self) -> [u8; 6] {
        self.inner.device_id()
    }
    fn is_virtual(&self) -> bool {
        true
    }
    fn entropy(&self) -> ucrypto_protocol::Entropy {
        self.inner.entropy()
    }
    fn fill_random(&mut self, out: &mut [u8]) -> Result<(), crate::BackendError> {
        self.trace.push(format!("random {}", out.len()));
        self.inner.fill_random(out)
    }
    fn aes_encrypt_block(
        &mut self,
        key: &crate::backend::AesKey,
        block: &mut [u8; 16],
    ) -> Result<(), crate::BackendError> {
        self.trace.push("aes".into());
        self.inner.aes_encrypt_block(key, block)
    }
    fn aes_decrypt_block(
        &mut self,
        key: &crate::backend::AesKey,
        block: &mut [u8; 16],
    ) -> Result<(), crate::BackendError> {
        self.trace.push("aes".into());
        self.inner.aes_decrypt_block(key, block)
    }
    type ShaState = <SoftwareBackend as crate::Backend>::ShaState;
    fn sha_start(&mut self, alg: ucrypto_protocol::HashAlg) -> Self::ShaState {
        self.trace.push(format!("sha start {}", alg.name()));
        self.inner.sha_start(alg)
    }
    fn sha_update(&mut self, state: &mut Self::ShaState, data: &[u8]) {
        self.trace.push(format!("sha update {}", data.len()));
        self.inner.sha_update(state, data)
    }
    fn sha_finish(&mut self, state: Self::ShaState, out: &mut [u8; 32]) {
        self.trace.push("sha finish".into());
        self.inner.sha_finish(state, out)
    }
    fn rsa_mod_exp(
        &mut self,
        base: &[u32],
        exponent: &[u32],
        modulus: &crate::backend::Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), crate::BackendError> {
        self.trace.push(format!(
            "exp {} words, exponent {} words",
            modulus.words.len(),
            exponent.len()
        ));
        self.inner.rsa_mod_exp(base, exponent, modulus, out)
    }
    fn rsa_mod_mul(
        &mut self,
        a: &[u32],
        b: &[u32],
        modulus: &crate::backend::Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), crate::BackendError> {
        self.trace
            .push(format!("mul {} words", modulus.words.len()));
        self.inner.rsa_mod_mul(a, b, modulus, out)
    }
    fn key_hardware(&mut self) -> Option<&mut dyn crate::backend::KeyHardware> {
        self.trace.push("key hardware".into());
        self.inner.key_hardware()
    }
}

/// The device's work for a block does not depend on its padding: every case of one padding
/// whose ciphertext reaches the private operation (the right length, below the modulus), valid
/// or not, makes the same calls to the hardware in the same order with the same sizes, for a
/// sent key and for a device key.
#[test]
fn valid_and_invalid_blocks_take_the_same_device_side_path() {
    let inner = SoftwareBackend::new(Chip::Esp32C3, crate::backend::software::Seed::Fixed(5));
    let mut e = super::Engine::new(Traced {
        inner,
        trace: Vec::new(),
    });
    let v = vector("2048");
    let imported = ask(
        &mut e,
        RequestBody::KeyImport {
            slot: 0,
            key: v.key(),
        },
    );
    assert!(matches!(decode(&imported).body, ResponseBody::PublicKey(_)));
    for slot in [false, true] {
        for padding in [RsaPadding::OaepSha256, RsaPadding::Pkcs1v15] {
            let mut traces = Vec::new();
            for case in cases(&v).iter().filter(|c| {
                c.padding == padding
                    && !c.name.ends_with("ciphertext-equals-n")
                    && !c.name.ends_with("one-byte-short")
            }) {
                e.backend_mut().trace.clear();
                let body = if slot {
                    RequestBody::DecryptSlot {
                        slot: 0,
                        padding,
                        ciphertext: &case.ciphertext,
                    }
                } else {
                    RequestBody::Decrypt {
                        padding,
                        ciphertext: &case.ciphertext,
                        key: v.key(),
                    }
                };
                let answer = ask(&mut e, body);
                assert_eq!(
                    matches!(decode(&answer).body, ResponseBody::Plaintext { .. }),
                    case.plaintext.is_some(),
                    "{}",
                    case.name
                );
                traces.push((case.name.clone(), e.backend().trace.clone()));
            }
            assert!(traces.len() >= 14);
            let (first_name, first) = &traces[0];
            assert!(first
                .iter()
                .any(|c| c.starts_with("sha") || c.starts_with("exp")));
            for (name, trace) in &traces {
                assert_eq!(trace, first, "{name} against {first_name}");
            }
        }
    }
}

/// The published vectors of `testdata/rsa_decrypt_vectors.txt`: (key name, key fields, cases).
struct Published {
    name: String,
    fields: Vec<(String, Vec<u8>)>,
    cases: Vec<Case>,
}

impl Published {
    fn get(&self, field: &str) -> &[u8] {
        &self.fields.iter().find(|(k, _)| k == field).unwrap().1
    }

    fn key(&self) -> ucrypto_protocol::RsaPrivateKey<'_> {
        ucrypto_protocol::RsaPrivateKey {
            n: self.get("n"),
            e: self.get("e"),
            d: &[],
            p: self.get("p"),
            q: self.get("q"),
            dp: self.get("dp"),
            dq: self.get("dq"),
            qinv: self.get("qinv"),
        }
    }
}

fn published() -> Vec<Published> {
    const TEXT: &str = include_str!("../../testdata/rsa_decrypt_vectors.txt");
    let mut out = Vec::new();
    for block in TEXT.split("\n\n") {
        let mut lines = block
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let Some(head) = lines.next() else { continue };
        let mut key = Published {
            name: head.trim_start_matches("key ").into(),
            fields: Vec::new(),
            cases: Vec::new(),
        };
        for line in lines {
            let f: Vec<&str> = line.split(' ').collect();
            if f[0] == "case" {
                key.cases.push(Case {
                    padding: if f[1] == "oaep" {
                        RsaPadding::OaepSha256
                    } else {
                        RsaPadding::Pkcs1v15
                    },
                    ciphertext: unhex(f[2]),
                    plaintext: Some(if f[3] == "-" { Vec::new() } else { unhex(f[3]) }),
                    name: format!("{} {}", key.name, key.cases.len() + 1),
                });
            } else {
                key.fields.push((f[0].into(), unhex(f[1])));
            }
        }
        out.push(key);
    }
    out
}

/// pyca's OAEP-SHA256 vectors and RSA Laboratories' PKCS#1 v1.5 vectors (from the
/// `cryptography_vectors` package) open to their messages with a sent key, and with each
/// ciphertext damaged in its last byte give the one refusal.
#[test]
fn published_vectors_open_with_a_sent_key() {
    let mut e: Device = engine(Chip::Esp32C3);
    let keys = published();
    assert_eq!(keys.len(), 25);
    let mut refusals = Vec::new();
    for key in &keys {
        for case in &key.cases {
            let decrypt = |e: &mut Device, ciphertext: &[u8]| {
                answer(&ask(
                    e,
                    RequestBody::Decrypt {
                        padding: case.padding,
                        ciphertext,
                        key: key.key(),
                    },
                ))
            };
            assert_eq!(
                decrypt(&mut e, &case.ciphertext).as_ref(),
                Ok(case.plaintext.as_ref().unwrap()),
                "{}",
                case.name
            );
            let mut damaged = case.ciphertext.clone();
            *damaged.last_mut().unwrap() ^= 0x40;
            refusals.push(decrypt(&mut e, &damaged).expect_err(&case.name));
        }
    }
    assert_eq!(refusals.len(), 120);
    assert!(refusals.iter().all(|r| r == &refusals[0]));
    assert_eq!(refusals[0].0, ErrorCode::DecryptFailed);
}

/// The same vectors through the DS peripheral: keys of the sizes DS takes (1024 and 2048 bits
/// here) imported as device keys.
#[test]
fn published_vectors_open_with_device_keys() {
    let mut e: Device = engine(Chip::Esp32C6);
    let keys = published();
    for (slot, name) in [
        (0u8, "oaep-sha256-1"),
        (1, "pkcs1v15-1"),
        (2, "pkcs1v15-15"),
    ] {
        let key = keys.iter().find(|k| k.name == name).unwrap();
        let imported = ask(
            &mut e,
            RequestBody::KeyImport {
                slot,
                key: key.key(),
            },
        );
        assert!(
            matches!(decode(&imported).body, ResponseBody::PublicKey(_)),
            "{name}"
        );
        for case in &key.cases {
            let got = answer(&ask(
                &mut e,
                RequestBody::DecryptSlot {
                    slot,
                    padding: case.padding,
                    ciphertext: &case.ciphertext,
                },
            ));
            assert_eq!(
                got.as_ref(),
                Ok(case.plaintext.as_ref().unwrap()),
                "{}",
                case.name
            );
        }
    }
}
