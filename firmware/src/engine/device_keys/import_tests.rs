//! What must stop a device key before anything is burned: a stuck RNG (at start-up or later,
//! through the continuous health tests), a composite prime, a key that does not sign.
use sha2::{Digest, Sha256};
use ucrypto_protocol::{
    Chip, EntropyState, ErrorCode, RequestBody, ResponseBody, SlotState, TestOutcome,
};

use super::super::rsa::tests::{parse_vectors, Vector};
use super::super::Engine;
use super::tests::{ask, device, refusal, slots, vector, Device};
use super::IMPORT_CHECK_DIGEST;
use crate::backend::software::{Seed, SoftwareBackend};

fn import_check_vectors() -> std::vec::Vec<Vector> {
    parse_vectors(include_str!("../../../testdata/import_check_vectors.txt"))
}

fn import_refusal(dev: &mut Device, v: &Vector) -> ErrorCode {
    refusal(
        dev,
        RequestBody::KeyImport {
            slot: 0,
            key: v.key(),
        },
    )
}

fn nothing_burned(dev: &mut Device) {
    assert_eq!(slots(dev), Some([SlotState::Free; 6]));
    let efuse = dev.backend().keys().unwrap().efuse_bytes();
    let fresh = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(11));
    assert_eq!(
        efuse,
        fresh.keys().unwrap().efuse_bytes(),
        "an eFuse bit was burned"
    );
}

#[test]
fn the_import_check_digest_is_the_sha256_of_its_text() {
    let digest: [u8; 32] = Sha256::digest(b"ucrypto key import check").into();
    assert_eq!(IMPORT_CHECK_DIGEST, digest);
}

#[test]
fn a_key_with_a_composite_prime_is_refused_before_the_burn() {
    let v = import_check_vectors()
        .into_iter()
        .find(|v| v.name == "composite p")
        .unwrap();
    let mut dev = device(Chip::Esp32C3);
    // It signs: only the primality test can tell.
    let signed = ask(
        &mut dev,
        RequestBody::SignDigest {
            digest: [7; 32],
            key: v.key(),
        },
    );
    assert!(matches!(
        super::super::tests::decode(&signed).body,
        ResponseBody::Signature { .. }
    ));
    assert_eq!(import_refusal(&mut dev, &v), ErrorCode::BadArgument);
    nothing_burned(&mut dev);
}

#[test]
fn a_key_that_does_not_sign_is_refused_before_the_burn() {
    let v = import_check_vectors()
        .into_iter()
        .find(|v| v.name == "wrong dq")
        .unwrap();
    let mut dev = device(Chip::Esp32C3);
    assert_eq!(import_refusal(&mut dev, &v), ErrorCode::BadArgument);
    nothing_burned(&mut dev);
}

#[test]
fn import_is_refused_after_the_start_up_rng_test_failed() {
    let mut backend = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(11));
    backend.stick_rng(true);
    let mut dev = Engine::new(backend);
    assert_eq!(dev.self_test().rng, TestOutcome::Failed);
    dev.backend_mut().stick_rng(false);
    assert_eq!(
        import_refusal(&mut dev, &vector("2048")),
        ErrorCode::SelfTestFailed
    );
    nothing_burned(&mut dev);
}

#[test]
fn a_stuck_rng_after_start_up_stops_random_keys_and_imports_and_shows_in_hello() {
    let mut dev = device(Chip::Esp32C3);
    assert_eq!(dev.self_test().rng, TestOutcome::Passed);
    let random = RequestBody::Random { words: 8 };
    assert!(matches!(
        super::super::tests::decode(&ask(&mut dev, random.clone())).body,
        ResponseBody::Random { .. }
    ));
    dev.backend_mut().stick_rng(true);
    assert_eq!(
        refusal(&mut dev, random.clone()),
        ErrorCode::HealthTestFailed
    );
    assert!(dev.rng_health_failed());
    // Latched: a source that recovers stays refused until a reset.
    dev.backend_mut().stick_rng(false);
    assert_eq!(
        refusal(&mut dev, random.clone()),
        ErrorCode::HealthTestFailed
    );
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyGenerate {
                slot: 0,
                bits: 1024
            }
        ),
        ErrorCode::HealthTestFailed
    );
    assert_eq!(
        import_refusal(&mut dev, &vector("2048")),
        ErrorCode::HealthTestFailed
    );
    match super::super::tests::decode(&ask(&mut dev, RequestBody::Hello)).body {
        ResponseBody::Hello(h) => assert_eq!(h.entropy.state, EntropyState::Failed),
        other => panic!("{other:?}"),
    }
    nothing_burned(&mut dev);
    dev.reset();
    assert!(!dev.rng_health_failed());
    assert!(matches!(
        super::super::tests::decode(&ask(&mut dev, random)).body,
        ResponseBody::Random { .. }
    ));
}

#[test]
fn a_stuck_rng_during_key_generation_stops_it_before_the_burn() {
    let mut dev = device(Chip::Esp32C3);
    // Stuck after start-up, before the first candidate is drawn.
    dev.backend_mut().stick_rng(true);
    assert_eq!(
        refusal(
            &mut dev,
            RequestBody::KeyGenerate {
                slot: 0,
                bits: 1024
            }
        ),
        ErrorCode::HealthTestFailed
    );
    nothing_burned(&mut dev);
}
