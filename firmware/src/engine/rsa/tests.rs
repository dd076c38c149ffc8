//! The RSA engine against signatures and constants computed by Python's `cryptography` and
//! big integers (`testdata/rs256_vectors.txt`), on the software backend and on backends that
//! record or corrupt what the accelerator is given.
use std::string::String;
use std::vec::Vec;

use ucrypto_protocol::{Chip, ErrorCode, HashAlg, RsaPrivateKey, MAX_RSA_BITS};

use super::{kat, sign_digest, MontModulus, MAX_WORDS};
use crate::backend::software::{Seed, SoftwareBackend};
use crate::backend::{AesKey, Modulus};
use crate::{Backend, BackendError};

const VECTORS: &str = include_str!("../../../testdata/rs256_vectors.txt");

/// One key of the vector file, with its signature of one message.
pub(crate) struct Vector {
    pub(crate) name: String,
    fields: Vec<(String, Vec<u8>)>,
}

impl Vector {
    pub(crate) fn get(&self, name: &str) -> &[u8] {
        &self
            .fields
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("{}: no {name}", self.name))
            .1
    }

    pub(crate) fn key(&self) -> RsaPrivateKey<'_> {
        RsaPrivateKey {
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

    pub(crate) fn digest(&self) -> [u8; 32] {
        self.get("digest").try_into().unwrap()
    }
}

pub(crate) fn vectors() -> Vec<Vector> {
    let out = parse_vectors(VECTORS);
    assert_eq!(out.len(), 6);
    out
}

/// The keys of a vector file in the format of `testdata/rs256_vectors.txt`.
pub(crate) fn parse_vectors(text: &str) -> Vec<Vector> {
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut v = Vector {
            name: String::new(),
            fields: Vec::new(),
        };
        for line in block.lines() {
            let (k, value) = line.split_once(" = ").expect("key = value");
            match k {
                "name" => v.name = value.into(),
                "bits" => {}
                _ => v.fields.push((k.into(), hex(value))),
            }
        }
        out.push(v);
    }
    out
}

fn hex(text: &str) -> Vec<u8> {
    let text = if text.len() % 2 == 1 {
        std::format!("0{text}")
    } else {
        text.into()
    };
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn software() -> SoftwareBackend {
    SoftwareBackend::new(Chip::Esp32, Seed::Fixed(1))
}

fn sign(backend: &mut impl Backend, key: &RsaPrivateKey<'_>, digest: &[u8; 32]) -> Vec<u8> {
    let mut out = [0u8; 512];
    match sign_digest(backend, key, digest, MAX_RSA_BITS, &mut out) {
        Ok(len) => out[..len].to_vec(),
        Err(refusal) => panic!("refused: {refusal:?}"),
    }
}

#[test]
fn signatures_equal_pythons_for_every_vector() {
    for v in vectors() {
        let signature = sign(&mut software(), &v.key(), &v.digest());
        assert_eq!(signature, v.get("signature"), "vector {}", v.name);
    }
}

#[test]
fn the_self_test_key_signs_abc_as_openssl_does() {
    let signature = sign(&mut software(), &kat::KEY, &kat::ABC_SHA256);
    assert_eq!(signature, kat::SIGNATURE);
}

#[test]
fn montgomery_constants_equal_pythons() {
    let mut tmp = [0u32; MAX_WORDS];
    for v in vectors() {
        let mut m = MontModulus::new();
        assert!(super::bigint::from_be_bytes(v.get("n"), &mut m.words));
        m.compute(&mut tmp);
        let m_prime = u32::from_be_bytes(v.get("n_m_prime").try_into().unwrap());
        assert_eq!(m.m_prime, m_prime, "{}", v.name);
        let mut expected = [0u32; MAX_WORDS];
        assert!(super::bigint::from_be_bytes(
            v.get("n_r_squared"),
            &mut expected
        ));
        assert_eq!(m.r_squared, expected, "{}", v.name);
        assert_eq!(m.len, v.get("n").len().div_ceil(4), "{}", v.name);
    }
}

/// What the engine asked the accelerator to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Exp {
        modulus_words: usize,
        exponent_words: usize,
    },
    Mul {
        modulus_words: usize,
    },
}

/// The software backend, recording each RSA call and optionally flipping one bit of the
/// output of call number `corrupt` (counting from 0): a fault in the accelerator.
pub(crate) struct Recording {
    inner: SoftwareBackend,
    pub(crate) calls: Vec<Call>,
    pub(crate) corrupt: Option<usize>,
}

impl Recording {
    pub(crate) fn new(corrupt: Option<usize>) -> Self {
        Self::on(Chip::Esp32, corrupt)
    }

    /// On `chip`'s virtual device, whose accelerator refuses operands above the chip's size.
    pub(crate) fn on(chip: Chip, corrupt: Option<usize>) -> Self {
        Self {
            inner: SoftwareBackend::new(chip, Seed::Fixed(1)),
            calls: Vec::new(),
            corrupt,
        }
    }

    fn after_call(&mut self, out: &mut [u32]) {
        if self.corrupt == Some(self.calls.len() - 1) {
            out[0] ^= 1 << 7;
        }
    }
}

impl Backend for Recording {
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
    fn fill_random(&mut self, out: &mut [u8]) -> Result<(), BackendError> {
        self.inner.fill_random(out)
    }
    fn aes_encrypt_block(&mut self, k: &AesKey, b: &mut [u8; 16]) -> Result<(), BackendError> {
        self.inner.aes_encrypt_block(k, b)
    }
    fn aes_decrypt_block(&mut self, k: &AesKey, b: &mut [u8; 16]) -> Result<(), BackendError> {
        self.inner.aes_decrypt_block(k, b)
    }
    type ShaState = <SoftwareBackend as Backend>::ShaState;
    fn sha_start(&mut self, alg: HashAlg) -> Self::ShaState {
        self.inner.sha_start(alg)
    }
    fn sha_update(&mut self, state: &mut Self::ShaState, data: &[u8]) {
        self.inner.sha_update(state, data)
    }
    fn sha_finish(&mut self, state: Self::ShaState, out: &mut [u8; 32]) {
        self.inner.sha_finish(state, out)
    }
    fn rsa_mod_exp(
        &mut self,
        base: &[u32],
        exponent: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        assert_eq!(base.len(), modulus.words.len());
        assert_eq!(out.len(), modulus.words.len());
        self.calls.push(Call::Exp {
            modulus_words: modulus.words.len(),
            exponent_words: exponent.len(),
        });
        self.inner.rsa_mod_exp(base, exponent, modulus, out)?;
        self.after_call(out);
        Ok(())
    }
    fn rsa_mod_mul(
        &mut self,
        a: &[u32],
        b: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        assert_eq!(
            (a.len(), b.len()),
            (modulus.words.len(), modulus.words.len())
        );
        self.calls.push(Call::Mul {
            modulus_words: modulus.words.len(),
        });
        self.inner.rsa_mod_mul(a, b, modulus, out)?;
        self.after_call(out);
        Ok(())
    }
}

#[test]
fn crt_runs_half_length_exponentiations_then_checks_at_full_length() {
    let v = &vectors()[0];
    let mut backend = Recording::new(None);
    assert_eq!(
        sign(&mut backend, &v.key(), &v.digest()),
        v.get("signature")
    );
    let half = Call::Exp {
        modulus_words: 32,
        exponent_words: 32,
    };
    assert_eq!(
        backend.calls,
        [
            half,
            Call::Exp {
                modulus_words: 32,
                exponent_words: 32
            },
            Call::Mul { modulus_words: 32 },
            Call::Exp {
                modulus_words: 64,
                exponent_words: 64
            },
        ]
    );
}

/// A 4096-bit key on the ESP32-C3 and -C6 (a 3072-bit accelerator): the accelerator sees only
/// the 2048-bit halves, the check runs in software, and the signature is Python's.
#[test]
fn a_4096_bit_key_signs_on_a_3072_bit_accelerator_with_half_length_operands_only() {
    let v = vectors().into_iter().find(|v| v.name == "4096").unwrap();
    for chip in [Chip::Esp32C3, Chip::Esp32C6] {
        let mut backend = Recording::on(chip, None);
        assert_eq!(
            sign(&mut backend, &v.key(), &v.digest()),
            v.get("signature")
        );
        let half = |exponent_words| Call::Exp {
            modulus_words: 64,
            exponent_words,
        };
        assert_eq!(
            backend.calls,
            [half(64), half(64), Call::Mul { modulus_words: 64 }],
            "{chip:?}"
        );
    }
    // The model is faithful: the virtual C3's accelerator itself refuses a 4096-bit operand.
    let mut c3 = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(1));
    let mut n = MontModulus::new();
    assert!(super::bigint::from_be_bytes(v.get("n"), &mut n.words));
    n.compute(&mut [0u32; MAX_WORDS]);
    let one = [1u32; MAX_WORDS];
    let mut out = [0u32; MAX_WORDS];
    assert_eq!(
        c3.rsa_mod_mul(&one, &one, &n.as_modulus(), &mut out),
        Err(BackendError::Unsupported)
    );
}

/// A fault in a 4096-bit signature on the C3 is caught by the software check.
#[test]
fn a_fault_in_a_4096_bit_signature_on_the_c3_is_caught_by_the_software_check() {
    let v = vectors().into_iter().find(|v| v.name == "4096").unwrap();
    for call in 0..3 {
        let mut backend = Recording::on(Chip::Esp32C3, Some(call));
        let mut out = [0u8; 512];
        let result = sign_digest(&mut backend, &v.key(), &v.digest(), MAX_RSA_BITS, &mut out);
        assert_eq!(
            result.unwrap_err().0,
            ErrorCode::FaultDetected,
            "call {call}"
        );
        assert!(out.iter().all(|&b| b == 0), "bytes left in the output");
    }
}

#[test]
fn a_fault_in_any_private_step_is_detected_and_nothing_is_released() {
    let v = &vectors()[1];
    // Calls 0 to 2 are the private operation; call 3 is the check itself.
    for call in 0..4 {
        let mut backend = Recording::new(Some(call));
        let mut out = [0u8; 512];
        let result = sign_digest(&mut backend, &v.key(), &v.digest(), MAX_RSA_BITS, &mut out);
        let code = result.expect_err("a corrupted signature must be refused").0;
        assert_eq!(code, ErrorCode::FaultDetected, "corrupted call {call}");
        assert!(out.iter().all(|&b| b == 0), "bytes left in the output");
    }
}

fn refusal(key: &RsaPrivateKey<'_>, max_bits: u16) -> ErrorCode {
    let mut out = [0u8; 512];
    sign_digest(&mut software(), key, &[1; 32], max_bits, &mut out)
        .expect_err("the key must be refused")
        .0
}

#[test]
fn modulus_sizes_outside_the_chip_range_are_unsupported() {
    let all = vectors();
    let big = all.iter().find(|v| v.name == "4096").unwrap();
    assert_eq!(refusal(&big.key(), 3072), ErrorCode::Unsupported);
    let small = RsaPrivateKey {
        n: &[0x7f; 127],
        ..kat::KEY
    };
    assert_eq!(refusal(&small, 4096), ErrorCode::Unsupported);
    let too_long = [0xff; 513];
    let huge = RsaPrivateKey {
        n: &too_long,
        ..kat::KEY
    };
    assert_eq!(refusal(&huge, 4096), ErrorCode::Unsupported);
}

#[test]
fn inconsistent_components_are_bad_arguments() {
    let v = &vectors()[0];
    let key = v.key();
    let mut wrong_p = key.p.to_vec();
    wrong_p[10] ^= 0x10;
    let mut p_plus_p = key.p.to_vec();
    p_plus_p.insert(0, 1);
    let even_n = {
        let mut n = key.n.to_vec();
        *n.last_mut().unwrap() &= 0xfe;
        n
    };
    let cases: [(&str, RsaPrivateKey<'_>); 7] = [
        (
            "p * q != n",
            RsaPrivateKey {
                p: &wrong_p,
                ..key.clone()
            },
        ),
        (
            "dp >= p",
            RsaPrivateKey {
                dp: &p_plus_p,
                ..key.clone()
            },
        ),
        (
            "qinv >= p",
            RsaPrivateKey {
                qinv: key.n,
                ..key.clone()
            },
        ),
        (
            "even e",
            RsaPrivateKey {
                e: &[1, 0, 0],
                ..key.clone()
            },
        ),
        (
            "e = 1",
            RsaPrivateKey {
                e: &[1],
                ..key.clone()
            },
        ),
        (
            "e >= n",
            RsaPrivateKey {
                e: key.n,
                ..key.clone()
            },
        ),
        (
            "even n",
            RsaPrivateKey {
                n: &even_n,
                ..key.clone()
            },
        ),
    ];
    for (what, bad) in cases {
        assert_eq!(refusal(&bad, 4096), ErrorCode::BadArgument, "{what}");
    }
}
