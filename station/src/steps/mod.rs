//! What each recipe step does on a connected device, and what it records. The checks change
//! nothing on the device, so one that was in flight when a station stopped is simply run again;
//! `key-generate` changes the device for good, so it asks the device first.
use std::collections::BTreeMap;

use rsa::pkcs8::EncodePublicKey;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};
use ucrypto_protocol::TestOutcome;

use crate::error::{Error, Result};
use crate::recipe::{Csr, DecryptCheck, KeyGenerate, RandHealth, SignCheck, SignManifest, Step};
use crate::records::{Records, RunContext};
use ucrypto::client::Client;
use ucrypto::operations::SigningKey;
use ucrypto::progress::Progress;

pub mod attest;
pub mod certify;
pub mod csr;
pub mod decrypt_check;
#[cfg(feature = "flash")]
pub mod flash;
mod found;
pub mod key_generate;
pub mod sign_manifest;
pub mod trust_steps;

pub use found::Found;

/// What steps share for a whole run, prepared before any device is touched.
pub struct Shared {
    /// The image of the recipe's `flash` step, read once.
    #[cfg(feature = "flash")]
    pub image: Option<flash::FlashImage>,
    /// A throwaway signing key per `sign-check` key size, made on the host for this run.
    check_keys: BTreeMap<u32, CheckKey>,
    /// The CAs of the `certify` steps, opened once (a passphrase or PIN is asked for once).
    cas: BTreeMap<std::path::PathBuf, std::sync::Mutex<crate::ca::Ca>>,
    /// The CAs of the `attest` steps: their certificates and revocations.
    attest_cas: BTreeMap<std::path::PathBuf, crate::attestation::AttestCa>,
}

struct CheckKey {
    key: SigningKey,
    spki_sha256: String,
}

impl Shared {
    /// Makes what `steps` need: one throwaway RSA key per `sign-check` size (from the host OS's
    /// RNG; the private half is only ever sent to the devices under test and dropped with the
    /// run).
    pub fn prepare(steps: &[Step]) -> Result<Self> {
        let mut check_keys = BTreeMap::new();
        #[cfg(feature = "flash")]
        let mut image = None;
        let mut cas = BTreeMap::new();
        let mut attest_cas = BTreeMap::new();
        for step in steps {
            if let Step::Certify(certify) = step {
                if !cas.contains_key(&certify.ca) {
                    let ca = crate::ca::Ca::open(&certify.ca, None)?;
                    cas.insert(certify.ca.clone(), std::sync::Mutex::new(ca));
                }
            }
            if let Step::Attest(attest) = step {
                if !attest_cas.contains_key(&attest.ca) {
                    attest_cas.insert(
                        attest.ca.clone(),
                        crate::attestation::AttestCa::open(&attest.ca)?,
                    );
                }
            }
            #[cfg(feature = "flash")]
            if let Step::Flash(flash) = step {
                image = Some(flash::FlashImage::load(flash)?);
            }
            #[cfg(not(feature = "flash"))]
            if let Step::Flash(_) = step {
                return Err(Error::input(
                    "this build of the station cannot flash (its `flash` feature is off): \
                     drop the flash step",
                ));
            }
            if let Step::SignCheck(SignCheck { key_bits }) = step {
                if check_keys.contains_key(key_bits) {
                    continue;
                }
                let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, *key_bits as usize)
                    .map_err(|e| {
                        Error::input(format!("cannot make a {key_bits}-bit check key: {e}"))
                    })?;
                let der = private
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|e| Error::input(format!("cannot encode the check key: {e}")))?;
                let key = SigningKey::new(&private)?;
                check_keys.insert(
                    *key_bits,
                    CheckKey {
                        key,
                        spki_sha256: hex::encode(Sha256::digest(der.as_bytes())),
                    },
                );
            }
        }
        Ok(Self {
            #[cfg(feature = "flash")]
            image,
            check_keys,
            cas,
            attest_cas,
        })
    }
}

/// Runs one step. Steps that only check the device are simply run again after a crash; a step
/// that changes the device (`key-generate`) asks the device first what it already holds.
pub fn run(
    step: &Step,
    client: &mut Client,
    shared: &Shared,
    records: &Records,
    ctx: &RunContext,
    progress: &mut dyn Progress,
) -> Result<Found> {
    match step {
        // The worker writes the image before it connects (the board is not speaking ucrypto
        // yet); here the step is already done.
        Step::Flash(_) => Err(Error::input(
            "flash must be the first step: it runs before the device is connected",
        )),
        Step::SelfTest(_) => self_test(client).map(Found::from),
        Step::RandHealth(RandHealth { bits }) => {
            rand_health(client, *bits, progress).map(Found::from)
        }
        Step::SignCheck(SignCheck { key_bits }) => {
            let check = shared
                .check_keys
                .get(key_bits)
                .expect("Shared::prepare made a key for every sign-check size");
            sign_check(client, check).map(Found::from)
        }
        Step::KeyGenerate(KeyGenerate { slot, bits, adopt }) => {
            let ledger = key_generate::Ledger { records, ctx };
            let key = key_generate::ensure_key(client, *slot, *bits, *adopt, &ledger)?;
            Ok(Found {
                detail: serde_json::json!({
                    "slot": slot,
                    "bits": bits,
                    "spki_sha256": key.record.spki_sha256,
                    "origin": key.record.origin,
                    "generated": key.generated,
                    "found_on_device": !key.generated,
                    "adopted": key.adopted,
                    "signature_verified": true,
                }),
                keys: vec![key.record],
                certificates: Vec::new(),
            })
        }
        Step::SignManifest(SignManifest { slot }) => {
            sign_manifest::sign_manifest(client, ctx, *slot).map(Found::from)
        }
        Step::DecryptCheck(DecryptCheck { slot }) => {
            decrypt_check::decrypt_check(client, *slot).map(Found::from)
        }
        Step::SecurityCheck(requirements) => {
            trust_steps::security_check(client, requirements).map(Found::from)
        }
        Step::Lock(_) => trust_steps::lock(client).map(Found::from),
        Step::Csr(Csr { slot, subject }) => {
            let key = csr::make_csr(client, *slot, subject)?;
            Ok(Found {
                detail: serde_json::json!({
                    "slot": slot,
                    "spki_sha256": key.spki_sha256,
                    "csr": key.csr_pem,
                }),
                keys: vec![key],
                certificates: Vec::new(),
            })
        }
        Step::Certify(step) => {
            let ca = shared
                .cas
                .get(&step.ca)
                .expect("Shared::prepare opened every certify step's CA");
            certify::certify(client, ca, step)
        }
        Step::Attest(step) => {
            let ca = shared
                .attest_cas
                .get(&step.ca)
                .expect("Shared::prepare read every attest step's CA");
            attest::attest(client, ca, step.slot, records)
        }
    }
}

/// The start-up self-tests from `Hello` all passed and the entropy source is ready. A virtual
/// device with a fixed seed reports its entropy as deterministic: accepted (it is software, and
/// the records say so), where a chip must report ready.
fn self_test(client: &Client) -> Result<serde_json::Value> {
    let info = client.info();
    let tests = info.raw_self_test;
    let failed: Vec<&str> = [
        ("rng", tests.rng),
        ("aes", tests.aes),
        ("sha256", tests.sha256),
        ("rsa", tests.rsa),
    ]
    .into_iter()
    .filter(|(_, outcome)| *outcome != TestOutcome::Passed)
    .map(|(name, _)| name)
    .collect();
    if !failed.is_empty() {
        return Err(Error::Verification(format!(
            "self-tests not passed: {} (see `ucrypto info`)",
            failed.join(", ")
        )));
    }
    let entropy_ok = match info.entropy.state {
        "ready" => true,
        "deterministic" => info.virtual_device,
        _ => false,
    };
    if !entropy_ok {
        return Err(Error::Verification(format!(
            "the entropy source {} is {}",
            info.entropy.source, info.entropy.state
        )));
    }
    Ok(serde_json::json!({
        "self_test": info.self_test,
        "entropy": info.entropy,
    }))
}

/// Draws `bits` random bits; the library runs the SP 800-90B health tests over all of them
/// (a failure is an error) and the bits themselves are not kept.
fn rand_health(
    client: &mut Client,
    bits: u64,
    progress: &mut dyn Progress,
) -> Result<serde_json::Value> {
    let tested = client.rand_into(bits, &mut |_| Ok(()), progress)?;
    Ok(serde_json::json!({
        "bits": tested * 8,
        "bytes_tested": tested,
        "health_tests": "passed",
    }))
}

/// The device signs a fresh random challenge with the run's throwaway key; the host checks the
/// signature with the public key.
fn sign_check(client: &mut Client, check: &CheckKey) -> Result<serde_json::Value> {
    check.key.check_device(client)?;
    let mut challenge = [0u8; 32];
    getrandom::fill(&mut challenge).expect("the host OS has no random number generator");
    let digest: [u8; 32] = Sha256::digest(challenge).into();
    let signed = client.sign_digest(&check.key, digest)?;
    Ok(serde_json::json!({
        "key_bits": check.key.bits(),
        "check_key_spki_sha256": check.spki_sha256,
        "digest": hex::encode(signed.digest),
        "verified": true,
    }))
}
