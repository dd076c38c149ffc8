//! Any bytes as a key file (`ucrypto sign --key`, `ucrypto verify --key`): PEM or DER, PKCS#8,
//! PKCS#1, SPKI, encrypted PKCS#8 with a fixed passphrase. No panic; a key is valid or refused
//! with one line (exit 2) that never shows the passphrase.
#![no_main]

use std::path::Path;
use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use pkcs8::der::pem;
use pkcs8::pkcs5::pbes2::Kdf;
use pkcs8::pkcs5::EncryptionScheme;
use pkcs8::EncryptedPrivateKeyInfo;
use rsa::traits::PublicKeyParts;
use ucrypto::key_file::{self as keys, DeviceKey, Key, PassSource};

const PASS_VAR: &str = "UCRYPTO_FUZZ_PASS";
/// The seeds in seeds/key_file are encrypted with it (see docs/reliability.md).
const PASSPHRASE: &str = "fuzz";
const PATH: &str = "key.pem";

/// Key derivations costlier than this are checked by `check_kdf_cost` but not run: the fuzzer
/// would spend its time in PBKDF2/scrypt instead of the parsers (a cost limit, not a bug).
const FUZZ_MAX_ITERATIONS: u32 = 16;
const FUZZ_MAX_SCRYPT_NRP: u64 = 64;

fuzz_target!(|data: &[u8]| {
    static ENV: Once = Once::new();
    ENV.call_once(|| std::env::set_var(PASS_VAR, PASSPHRASE));
    let path = Path::new(PATH);
    if too_costly_here(data) {
        return;
    }
    let pass = PassSource::Env(PASS_VAR.into());
    match keys::parse(data, path, Some(&pass)) {
        Ok(Key::Private(key)) => {
            key.validate().expect("a parsed private key is valid");
            let n = key.n().clone();
            if let Ok(device) = DeviceKey::new(&key) {
                assert_eq!(device.bits(), key.n().bits());
                let request = device.as_request();
                assert_eq!(request.n, key.n().to_bytes_be());
                assert_eq!(request.e, key.e().to_bytes_be());
                assert!(request.d.is_empty(), "d is never sent");
            }
            assert_eq!(Key::Private(key).public().n(), &n);
        }
        Ok(Key::Public(key)) => assert!(key.n().bits() > 0),
        Err(e) => {
            let message = e.to_string();
            assert_eq!(e.kind(), ucrypto::ErrorKind::Input, "{message}");
            assert!(!message.contains('\n'), "one line: {message:?}");
            assert!(!message.contains(PASSPHRASE), "{message:?}");
        }
    }
});

/// For an encrypted PKCS#8 key (PEM or DER, found as `keys::parse` finds it): whether its key
/// derivation is too costly to run here. The product's own limit sees it first.
fn too_costly_here(data: &[u8]) -> bool {
    kdf_cost(data).unwrap_or(false)
}

fn kdf_cost(data: &[u8]) -> Option<bool> {
    let pem_der;
    let der = match data.windows(11).position(|w| w == b"-----BEGIN ") {
        Some(start) => {
            pem_der = pem::decode_vec(&data[start..]).ok()?.1;
            &pem_der[..]
        }
        None => data,
    };
    let info = EncryptedPrivateKeyInfo::try_from(der).ok()?;
    let accepted = keys::check_kdf_cost(&info.encryption_algorithm, Path::new(PATH)).is_ok();
    let costly = match &info.encryption_algorithm {
        EncryptionScheme::Pbes2(params) => match &params.kdf {
            Kdf::Pbkdf2(p) => p.iteration_count > FUZZ_MAX_ITERATIONS,
            Kdf::Scrypt(s) => {
                u64::from(s.block_size)
                    .saturating_mul(u64::from(s.parallelization))
                    .saturating_mul(s.cost_parameter)
                    > FUZZ_MAX_SCRYPT_NRP
            }
            _ => false,
        },
        _ => false,
    };
    if let EncryptionScheme::Pbes2(params) = &info.encryption_algorithm {
        if let Kdf::Pbkdf2(p) = &params.kdf {
            assert_eq!(
                accepted,
                (1..=keys::MAX_PBKDF2_ITERATIONS).contains(&p.iteration_count)
            );
        }
    }
    Some(costly)
}
