//! A station recipe: a short TOML file of `[[step]]` tables, each with a `kind` and its
//! parameters. Anything unknown is refused with the step and the name, before any device is
//! touched.
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The recipe file's top level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeFile {
    /// A name for the records (the file name when absent).
    name: Option<String>,
    #[serde(rename = "step", default)]
    steps: Vec<Step>,
}

/// A parsed, checked recipe.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub name: String,
    pub steps: Vec<Step>,
    /// SHA-256 of the file's bytes: steps are recorded per recipe, so a changed recipe runs
    /// again on a device that finished the old one.
    pub sha256: String,
}

/// One step of a recipe. Each kind lists its parameters; unknown ones are refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// The firmware image written through the board's ROM loader (skipped when the flash
    /// already holds it), then the board restarted into it. Only as the first step.
    Flash(Flash),
    /// The device's start-up self-tests all passed and its entropy source is ready.
    SelfTest(SelfTest),
    /// Random bits from the device pass the SP 800-90B health tests.
    RandHealth(RandHealth),
    /// The device signs a fresh challenge with a throwaway key made by the station, and the
    /// signature verifies on the host.
    SignCheck(SignCheck),
    /// The device holds its own RSA key in a key slot: made on the device and burned into an
    /// eFuse key block (irreversible) unless the slot already holds one, which is recorded.
    KeyGenerate(KeyGenerate),
    /// The device signs a manifest of itself with its key in a slot; the station checks the
    /// signature and records both.
    SignManifest(SignManifest),
    /// A PKCS#10 certificate signing request for a slot's key, signed by the device; recorded
    /// with the key.
    Csr(Csr),
    /// The device's eFuse security state holds what the step requires (e.g.
    /// `jtag-disabled = true` before `key-generate`); changes nothing.
    SecurityCheck(ucrypto::security_state::SecurityRequirements),
    /// The provisioning lock (an eFuse bit: irreversible): the device then refuses every burn
    /// and provisioning write. Only as the last step.
    Lock(Lock),
    /// The line CA issues the device certificate for a slot's key and the station writes it,
    /// with the CA certificate, into the device's esp_secure_cert partition.
    Certify(Certify),
    /// The device attests with a slot's key; the station checks the answer against the CA.
    Attest(Attest),
    /// A random secret sealed on the host to a slot's public key (RSA-OAEP) opens on the
    /// device with that key.
    DecryptCheck(DecryptCheck),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Lock {}

/// The slot the key steps use when the recipe names none: the one `ucrypto key generate` picks
/// on a new chip (the highest; `KEY0` and `KEY1` are left to Secure Boot and flash encryption).
pub const DEFAULT_SLOT: u8 = 5;

fn default_slot() -> u8 {
    DEFAULT_SLOT
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Certify {
    /// The key slot whose key is certified.
    #[serde(default = "default_slot")]
    pub slot: u8,
    /// The CA's config file (`ucrypto ca init`); relative to the recipe's folder.
    pub ca: PathBuf,
    /// The subject, RFC 4514 (`{device_id}` is replaced) [default: the CA policy's].
    #[serde(default)]
    pub subject: Option<String>,
    /// Issue a new certificate even when the device holds a valid one.
    #[serde(default)]
    pub renew: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Attest {
    /// The key slot the device attests with.
    #[serde(default = "default_slot")]
    pub slot: u8,
    /// The CA's config file whose certificate (and chain) the answer must chain to; relative
    /// to the recipe's folder.
    pub ca: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DecryptCheck {
    /// The key slot whose key opens the secret.
    #[serde(default = "default_slot")]
    pub slot: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Flash {
    /// A merged image from `firmware/chip/build-images.sh`; relative to the recipe's folder.
    pub image: PathBuf,
    /// The boards' chip (`esp32c3`, `esp32c6`): an image for another chip is refused before
    /// any board is touched [default: the image's chip].
    #[serde(default)]
    pub chip: Option<String>,
    /// Write even when the flash already holds the image (and even when the board already runs
    /// it: no `Hello` is asked first).
    #[serde(default)]
    pub force: bool,
    /// The image file's SHA-256 (64 hex digits, as `sha256sum` prints it): a different file
    /// stops the run before any board is touched.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl Flash {
    /// The chip the recipe names, if any.
    pub fn chip(&self) -> Option<ucrypto_protocol::Chip> {
        let name = self.chip.as_deref()?;
        ucrypto_protocol::Chip::ALL
            .into_iter()
            .find(|c| c.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Csr {
    /// The key slot whose key the request is for.
    #[serde(default = "default_slot")]
    pub slot: u8,
    /// The subject, RFC 4514 (`{device_id}` is replaced by the device's id).
    #[serde(default = "Csr::default_subject")]
    pub subject: String,
}

impl Csr {
    fn default_subject() -> String {
        "CN={device_id}".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SignManifest {
    /// The key slot whose key signs.
    #[serde(default = "default_slot")]
    pub slot: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeyGenerate {
    /// The key slot (eFuse key block KEY0..KEY5).
    #[serde(default = "default_slot")]
    pub slot: u8,
    /// Modulus size of the key.
    #[serde(default = "KeyGenerate::default_bits")]
    pub bits: u16,
    /// Accept a key the slot already holds although this line did not make it (imported, or
    /// made elsewhere): off, so a board that arrives with someone else's key fails the step.
    #[serde(default)]
    pub adopt: bool,
}

impl KeyGenerate {
    fn default_bits() -> u16 {
        ucrypto_protocol::DEFAULT_KEY_BITS
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SelfTest {}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RandHealth {
    /// How many bits to draw and test.
    #[serde(default = "RandHealth::default_bits")]
    pub bits: u64,
}

impl RandHealth {
    fn default_bits() -> u64 {
        1 << 20
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SignCheck {
    /// Modulus size of the throwaway key.
    #[serde(default = "SignCheck::default_key_bits")]
    pub key_bits: u32,
}

impl SignCheck {
    fn default_key_bits() -> u32 {
        2048
    }
}

/// Random bits a `rand-health` step may ask for: at least a few health-test windows, at most
/// what a line moves in a minute or so.
pub const RAND_HEALTH_BITS: std::ops::RangeInclusive<u64> = 4096..=(64 << 20);

/// Key sizes `key-generate` may ask for (the device's own limit is checked when it runs).
pub const DEVICE_KEY_BITS: [u16; 3] = [1024, 2048, 3072];

/// Key sizes `sign-check` may use (the device's own limit is checked when it runs).
pub const SIGN_CHECK_KEY_BITS: [u32; 3] = [1024, 2048, 3072];

impl Step {
    /// The name used in the recipe and the records.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Flash(_) => "flash",
            Step::SelfTest(_) => "self-test",
            Step::RandHealth(_) => "rand-health",
            Step::SignCheck(_) => "sign-check",
            Step::KeyGenerate(_) => "key-generate",
            Step::SignManifest(_) => "sign-manifest",
            Step::Csr(_) => "csr",
            Step::SecurityCheck(_) => "security-check",
            Step::Lock(_) => "lock",
            Step::Certify(_) => "certify",
            Step::Attest(_) => "attest",
            Step::DecryptCheck(_) => "decrypt-check",
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        match self {
            Step::Flash(flash) => match &flash.chip {
                Some(name) if flash.chip().is_none() => Err(format!(
                    "chip = \"{name}\" is not a chip ucrypto flashes: use esp32c3 or esp32c6"
                )),
                _ => Ok(()),
            },
            Step::SelfTest(_) => Ok(()),
            Step::RandHealth(RandHealth { bits }) => {
                if RAND_HEALTH_BITS.contains(bits) {
                    Ok(())
                } else {
                    Err(format!(
                        "bits = {bits} is out of range: use {} to {}",
                        RAND_HEALTH_BITS.start(),
                        RAND_HEALTH_BITS.end()
                    ))
                }
            }
            Step::SecurityCheck(requirements) => requirements.check(),
            Step::Lock(_) => Ok(()),
            Step::KeyGenerate(KeyGenerate { slot, bits, .. }) => {
                if usize::from(*slot) >= ucrypto_protocol::KEY_SLOTS {
                    Err(format!(
                        "slot = {slot} does not exist: use 0 to {}",
                        ucrypto_protocol::KEY_SLOTS - 1
                    ))
                } else if !DEVICE_KEY_BITS.contains(bits) {
                    Err(format!(
                        "bits = {bits} is not offered: use 1024, 2048 or 3072"
                    ))
                } else {
                    Ok(())
                }
            }
            Step::Csr(Csr { slot, subject }) => {
                if usize::from(*slot) >= ucrypto_protocol::KEY_SLOTS {
                    return Err(format!(
                        "slot = {slot} does not exist: use 0 to {}",
                        ucrypto_protocol::KEY_SLOTS - 1
                    ));
                }
                crate::steps::csr::subject_for(subject, "02:00:00:00:00:00").map(drop)
            }
            Step::SignManifest(SignManifest { slot })
            | Step::DecryptCheck(DecryptCheck { slot }) => {
                if usize::from(*slot) < ucrypto_protocol::KEY_SLOTS {
                    Ok(())
                } else {
                    Err(format!(
                        "slot = {slot} does not exist: use 0 to {}",
                        ucrypto_protocol::KEY_SLOTS - 1
                    ))
                }
            }
            Step::Certify(Certify { slot, .. }) | Step::Attest(Attest { slot, .. }) => {
                if usize::from(*slot) < ucrypto_protocol::KEY_SLOTS {
                    Ok(())
                } else {
                    Err(format!(
                        "slot = {slot} does not exist: use 0 to {}",
                        ucrypto_protocol::KEY_SLOTS - 1
                    ))
                }
            }
            Step::SignCheck(SignCheck { key_bits }) => {
                if SIGN_CHECK_KEY_BITS.contains(key_bits) {
                    Ok(())
                } else {
                    Err(format!(
                        "key-bits = {key_bits} is not offered: use 1024, 2048 or 3072"
                    ))
                }
            }
        }
    }
}

impl Recipe {
    /// Reads and checks a recipe file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::input(format!("cannot read recipe {}: {e}", path.display())))?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| Error::input(format!("recipe {} is not UTF-8 text", path.display())))?;
        let default_name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "recipe".into());
        let mut recipe = Self::parse(&text, &default_name)
            .map_err(|e| Error::input(format!("recipe {}: {e}", path.display())))?;
        // A recipe travels with its image: a relative path is read next to the recipe, not
        // wherever the station was started.
        let folder = path.parent().unwrap_or(Path::new(""));
        for step in &mut recipe.steps {
            match step {
                Step::Flash(flash) => flash.image = folder.join(&flash.image),
                Step::Certify(Certify { ca, .. }) | Step::Attest(Attest { ca, .. }) => {
                    *ca = folder.join(&*ca)
                }
                _ => {}
            }
        }
        Ok(recipe)
    }

    /// Parses and checks recipe text; the error is one line naming the step and what to fix.
    pub fn parse(text: &str, default_name: &str) -> std::result::Result<Self, String> {
        let file: RecipeFile = toml::from_str(text).map_err(|e| one_line(&e, text))?;
        if file.steps.is_empty() {
            return Err(
                "no steps: add [[step]] tables with a kind, e.g. kind = \"self-test\"".into(),
            );
        }
        for (i, step) in file.steps.iter().enumerate() {
            if i > 0 && matches!(step, Step::Flash(_)) {
                return Err(format!(
                    "step {} (flash): flash must be the first step, before the device speaks \
                     ucrypto: move it to the top",
                    i + 1
                ));
            }
            if matches!(step, Step::Lock(_)) && i + 1 != file.steps.len() {
                return Err(format!(
                    "step {} (lock): lock must be the last step (a locked device refuses every \
                     burn after it): move it to the end",
                    i + 1
                ));
            }
            step.check()
                .map_err(|e| format!("step {} ({}): {e}", i + 1, step.kind()))?;
        }
        Ok(Self {
            name: file.name.unwrap_or_else(|| default_name.to_string()),
            steps: file.steps,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }
}

/// toml's message spans several lines with a source excerpt: keep the line number and the
/// message, on one line.
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_with_defaults() {
        let recipe = Recipe::parse(
            "name = \"line 1\"\n[[step]]\nkind = \"self-test\"\n[[step]]\nkind = \"rand-health\"\nbits = 8192\n[[step]]\nkind = \"sign-check\"\n",
            "x",
        )
        .unwrap();
        assert_eq!(recipe.name, "line 1");
        assert_eq!(
            recipe.steps,
            vec![
                Step::SelfTest(SelfTest {}),
                Step::RandHealth(RandHealth { bits: 8192 }),
                Step::SignCheck(SignCheck { key_bits: 2048 }),
            ]
        );
        assert_eq!(recipe.sha256.len(), 64);
    }

    #[test]
    fn refuses_unknown_kind_parameter_and_key() {
        let unknown_kind =
            Recipe::parse("[[step]]\nkind = \"burn-everything\"\n", "x").unwrap_err();
        assert!(unknown_kind.contains("burn-everything"), "{unknown_kind}");
        assert!(unknown_kind.starts_with("line "), "{unknown_kind}");
        let unknown_param =
            Recipe::parse("[[step]]\nkind = \"rand-health\"\nbitz = 10\n", "x").unwrap_err();
        assert!(unknown_param.contains("bitz"), "{unknown_param}");
        let unknown_top =
            Recipe::parse("colour = 1\n[[step]]\nkind = \"self-test\"\n", "x").unwrap_err();
        assert!(unknown_top.contains("colour"), "{unknown_top}");
        let no_steps = Recipe::parse("name = \"x\"\n", "x").unwrap_err();
        assert!(no_steps.contains("no steps"), "{no_steps}");
        let range = Recipe::parse("[[step]]\nkind = \"rand-health\"\nbits = 8\n", "x").unwrap_err();
        assert!(range.starts_with("step 1 (rand-health)"), "{range}");
        for text in [unknown_kind, unknown_param, unknown_top, range] {
            assert!(!text.contains('\n'), "one line: {text}");
        }
    }

    #[test]
    fn lock_only_last_and_security_checks_named() {
        let early = Recipe::parse(
            "[[step]]\nkind = \"lock\"\n[[step]]\nkind = \"key-generate\"\n",
            "x",
        )
        .unwrap_err();
        assert!(early.contains("lock must be the last step"), "{early}");
        let recipe = Recipe::parse(
            "[[step]]\nkind = \"security-check\"\njtag-disabled = true\n[[step]]\nkind = \"key-generate\"\nadopt = true\n[[step]]\nkind = \"lock\"\n",
            "x",
        )
        .unwrap();
        assert_eq!(
            recipe.steps[1],
            Step::KeyGenerate(KeyGenerate {
                slot: DEFAULT_SLOT,
                bits: 2048,
                adopt: true
            })
        );
        assert_eq!(recipe.steps[2], Step::Lock(Lock {}));
        let empty = Recipe::parse("[[step]]\nkind = \"security-check\"\n", "x").unwrap_err();
        assert!(empty.contains("names nothing to check"), "{empty}");
        let unknown =
            Recipe::parse("[[step]]\nkind = \"security-check\"\njtag = true\n", "x").unwrap_err();
        assert!(unknown.contains("jtag"), "{unknown}");
    }

    #[test]
    fn certify_and_attest_name_their_ca_next_to_the_recipe() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("line.toml");
        std::fs::write(
            &path,
            "[[step]]\nkind = \"certify\"\nca = \"ca/ca.toml\"\nrenew = true\n\
             [[step]]\nkind = \"attest\"\nslot = 2\nca = \"ca/ca.toml\"\n",
        )
        .unwrap();
        let recipe = Recipe::load(&path).unwrap();
        assert_eq!(
            recipe.steps,
            [
                Step::Certify(Certify {
                    slot: DEFAULT_SLOT,
                    ca: dir.path().join("ca/ca.toml"),
                    subject: None,
                    renew: true,
                }),
                Step::Attest(Attest {
                    slot: 2,
                    ca: dir.path().join("ca/ca.toml"),
                }),
            ]
        );
        let no_ca = Recipe::parse("[[step]]\nkind = \"certify\"\n", "x").unwrap_err();
        assert!(no_ca.contains("ca"), "{no_ca}");
        let slot =
            Recipe::parse("[[step]]\nkind = \"attest\"\nca = \"c\"\nslot = 9\n", "x").unwrap_err();
        assert!(slot.starts_with("step 1 (attest): slot = 9"), "{slot}");
    }
}
