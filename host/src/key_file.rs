//! RSA keys from files: PKCS#8 and PKCS#1, PEM and DER, encrypted PKCS#8 with a passphrase from
//! `--pass` or a prompt; and the CRT components the device takes, wiped after use.
//!
//! Errors name the file and what it is instead (an EC key, a public key, a certificate), never
//! its contents.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pkcs8::der::pem;
use pkcs8::{EncryptedPrivateKeyInfo, ObjectIdentifier, PrivateKeyInfo, SubjectPublicKeyInfoRef};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, PassphraseError, Result};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

/// Where the passphrase of an encrypted key comes from (`--pass`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassSource {
    /// `env:VAR`: the value of an environment variable.
    Env(String),
    /// `file:PATH`: the first line of a file.
    File(std::path::PathBuf),
}

impl std::str::FromStr for PassSource {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Some(var) = s.strip_prefix("env:") {
            Ok(PassSource::Env(var.to_string()))
        } else if let Some(path) = s.strip_prefix("file:") {
            Ok(PassSource::File(path.into()))
        } else {
            // Never echo the value: it may be the passphrase itself, typed in by mistake.
            Err(
                "use env:VAR or file:PATH (a passphrase on the command line would be visible \
                 to other users)"
                    .into(),
            )
        }
    }
}

/// A key file's contents, parsed.
pub enum Key {
    /// Boxed: moved around without copying the secret.
    Private(Box<RsaPrivateKey>),
    Public(RsaPublicKey),
}

impl Key {
    pub fn public(&self) -> RsaPublicKey {
        match self {
            Key::Private(k) => k.to_public_key(),
            Key::Public(k) => k.clone(),
        }
    }
}

/// Reads a private key for signing: a public key is refused.
pub fn read_private(path: &Path, pass: Option<&PassSource>) -> Result<RsaPrivateKey> {
    warn_if_readable_by_others(path);
    match read(path, pass)? {
        Key::Private(key) => Ok(*key),
        Key::Public(_) => Err(Error::input(format!(
            "{} is a public key: signing needs the private key",
            path.display()
        ))),
    }
}

/// Reads any RSA key, private or public.
pub fn read(path: &Path, pass: Option<&PassSource>) -> Result<Key> {
    let bytes = Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| Error::input(format!("cannot read key file {}: {e}", path.display())))?,
    );
    parse(&bytes, path, pass)
}

/// Parses a key from the bytes of `path` (named in errors only).
pub fn parse(bytes: &[u8], path: &Path, pass: Option<&PassSource>) -> Result<Key> {
    let name = path.display();
    let not_a_key = || {
        Error::input(format!(
            "{name} is not a key: expected an RSA key in PEM or DER (PKCS#8 or PKCS#1)"
        ))
    };
    let Some(pem_start) = find(bytes, b"-----BEGIN ") else {
        return parse_der(bytes, path, pass)?.ok_or_else(not_a_key);
    };
    let text = &bytes[pem_start..];
    if find(text, b"Proc-Type: 4,ENCRYPTED").is_some() {
        return Err(Error::input(format!(
            "{name} is encrypted in OpenSSL's legacy PEM format: convert it with \
             `openssl pkcs8 -topk8 -v2 aes-256-cbc -in {name} -out new.pem`"
        )));
    }
    let label = pem::decode_label(text).map_err(|_| not_a_key())?;
    let (_, der) = pem::decode_vec(text).map_err(|_| not_a_key())?;
    let der = Zeroizing::new(der);
    match label {
        "PRIVATE KEY"
        | "ENCRYPTED PRIVATE KEY"
        | "RSA PRIVATE KEY"
        | "PUBLIC KEY"
        | "RSA PUBLIC KEY" => parse_der(&der, path, pass)?.ok_or_else(not_a_key),
        "EC PRIVATE KEY" => Err(not_rsa(path, "an EC key")),
        "OPENSSH PRIVATE KEY" => Err(Error::input(format!(
            "{name} is an OpenSSH key: convert it with `ssh-keygen -p -m PKCS8 -f {name}` \
             (RSA keys only)"
        ))),
        "CERTIFICATE" => Err(Error::input(format!(
            "{name} is a certificate, not a key: give the private key file"
        ))),
        other => Err(Error::input(format!(
            "{name} holds a PEM \"{other}\", not an RSA key"
        ))),
    }
}

/// Tries every DER form in turn; `None` if none matches.
fn parse_der(der: &[u8], path: &Path, pass: Option<&PassSource>) -> Result<Option<Key>> {
    if let Ok(info) = PrivateKeyInfo::try_from(der) {
        check_algorithm(info.algorithm.oid, path)?;
        return private_from_pkcs1(info.private_key, path).map(Some);
    }
    if let Ok(encrypted) = EncryptedPrivateKeyInfo::try_from(der) {
        check_kdf_cost(&encrypted.encryption_algorithm, path)?;
        let passphrase = passphrase(path, pass)?;
        let decrypted = encrypted
            .decrypt(passphrase.as_bytes())
            .map_err(|e| match e {
                pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm {
                    ..
                }) => Error::input(format!(
                    "{} is encrypted with a scheme ucrypto does not read: re-encrypt it with \
                 `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
                    path.display()
                )),
                _ => wrong_passphrase(path),
            })?;
        // A wrong passphrase can pass the padding check by chance; the DER then fails.
        return match parse_der(decrypted.as_bytes(), path, None) {
            Ok(Some(Key::Private(key))) => Ok(Some(Key::Private(key))),
            _ => Err(wrong_passphrase(path)),
        };
    }
    if pkcs1::RsaPrivateKey::try_from(der).is_ok() {
        return private_from_pkcs1(der, path).map(Some);
    }
    if let Ok(spki) = SubjectPublicKeyInfoRef::try_from(der) {
        check_algorithm(spki.algorithm.oid, path)?;
        return RsaPublicKey::from_public_key_der(der)
            .map(|k| Some(Key::Public(k)))
            .map_err(|e| invalid(path, &e.to_string()));
    }
    if let Ok(key) = RsaPublicKey::from_pkcs1_der(der) {
        return Ok(Some(Key::Public(key)));
    }
    Ok(None)
}

/// Most PBKDF2 iterations accepted: OpenSSL writes 2048 and OWASP asks for 600,000; ten million
/// take seconds, and a file asking for four billion would hang the tool.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Most memory scrypt may take (`128 r N` bytes): OpenSSL's default takes 16 MiB. A file asking
/// for more would exhaust the host's memory before the passphrase could be checked.
pub const MAX_SCRYPT_BYTES: u64 = 256 << 20;

/// Refuses key derivation parameters that would hang the tool or exhaust memory, before any
/// passphrase is asked for (a damaged or hostile key file must fail fast, not hang).
pub fn check_kdf_cost(scheme: &pkcs8::pkcs5::EncryptionScheme<'_>, path: &Path) -> Result<()> {
    use pkcs8::pkcs5::pbes2::Kdf;
    let pkcs8::pkcs5::EncryptionScheme::Pbes2(params) = scheme else {
        // PBES1 is refused by `decrypt` as unsupported, without deriving a key.
        return Ok(());
    };
    let reasonable = match &params.kdf {
        Kdf::Pbkdf2(p) => (1..=MAX_PBKDF2_ITERATIONS).contains(&p.iteration_count),
        Kdf::Scrypt(s) => {
            let n = s.cost_parameter;
            let (r, p) = (u64::from(s.block_size), u64::from(s.parallelization));
            n >= 2
                && n.is_power_of_two()
                && r >= 1
                && p >= 1
                && n.checked_mul(128 * r)
                    .and_then(|bytes| bytes.checked_mul(p))
                    .is_some_and(|bytes| bytes <= MAX_SCRYPT_BYTES)
        }
        // A function this pkcs5 does not know is refused by `decrypt` without running it.
        _ => true,
    };
    if reasonable {
        return Ok(());
    }
    Err(Error::input(format!(
        "{} asks for a key derivation too costly to run (more than {MAX_PBKDF2_ITERATIONS} \
         PBKDF2 iterations or {} MiB of scrypt): re-encrypt it with \
         `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
        path.display(),
        MAX_SCRYPT_BYTES >> 20
    )))
}

fn private_from_pkcs1(der: &[u8], path: &Path) -> Result<Key> {
    if let Ok(parsed) = pkcs1::RsaPrivateKey::try_from(der) {
        if parsed.other_prime_infos.is_some() {
            return Err(Error::input(format!(
                "{} is a multi-prime RSA key: the device signs with two-prime keys only",
                path.display()
            )));
        }
    }
    let key = RsaPrivateKey::from_pkcs1_der(der).map_err(|e| invalid(path, &e.to_string()))?;
    key.validate().map_err(|e| invalid(path, &e.to_string()))?;
    Ok(Key::Private(Box::new(key)))
}

fn check_algorithm(oid: ObjectIdentifier, path: &Path) -> Result<()> {
    let what = match oid {
        RSA_ENCRYPTION => return Ok(()),
        RSASSA_PSS => "an RSA-PSS key (restricted to PSS signatures)",
        EC_PUBLIC_KEY => "an EC key",
        ED25519 => "an Ed25519 key",
        ED448 => "an Ed448 key",
        DSA => "a DSA key",
        _ => "not an RSA key",
    };
    Err(not_rsa(path, what))
}

fn not_rsa(path: &Path, what: &str) -> Error {
    Error::input(format!(
        "{} is {what}: RS256 needs an RSA key (rsaEncryption)",
        path.display()
    ))
}

fn invalid(path: &Path, why: &str) -> Error {
    Error::input(format!("{} is not a valid RSA key: {why}", path.display()))
}

fn wrong_passphrase(path: &Path) -> Error {
    Error::input(format!(
        "wrong passphrase for {} (or the key is damaged)",
        path.display()
    ))
}

/// The passphrase from `pass`, or (with the `prompt` feature) typed at a prompt when stdin is a
/// terminal.
fn passphrase(path: &Path, pass: Option<&PassSource>) -> Result<Zeroizing<String>> {
    let mut value = match pass {
        Some(PassSource::Env(var)) => Zeroizing::new(
            std::env::var(var).map_err(|_| PassphraseError::EnvUnset { var: var.clone() })?,
        ),
        Some(PassSource::File(file)) => {
            let text = Zeroizing::new(std::fs::read_to_string(file).map_err(|e| {
                PassphraseError::FileUnreadable {
                    path: file.clone(),
                    reason: e.to_string(),
                }
            })?);
            Zeroizing::new(text.lines().next().unwrap_or("").to_string())
        }
        #[cfg(feature = "prompt")]
        None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => Zeroizing::new(
            rpassword::prompt_password(format!("Passphrase for {}: ", path.display()))
                .map_err(|e| PassphraseError::Prompt(e.to_string()))?,
        ),
        None => {
            return Err(PassphraseError::Missing {
                path: path.to_path_buf(),
            }
            .into())
        }
    };
    // Keep the prompt's or file's line without its line ending.
    let trimmed_len = value.trim_end_matches(['\r', '\n']).len();
    value.truncate(trimmed_len);
    Ok(value)
}

/// Warns when a private key file can be read by other users.
fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o044 != 0 {
            log::warn!(
                "{} is readable by other users (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            );
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The key as the device takes it: CRT components, unsigned big-endian, wiped when dropped.
/// `d` is not sent: the device signs with `dp` and `dq` and does not need it.
pub struct DeviceKey {
    n: Vec<u8>,
    e: Vec<u8>,
    p: Zeroizing<Vec<u8>>,
    q: Zeroizing<Vec<u8>>,
    dp: Zeroizing<Vec<u8>>,
    dq: Zeroizing<Vec<u8>>,
    qinv: Zeroizing<Vec<u8>>,
    bits: usize,
}

impl DeviceKey {
    pub fn new(key: &RsaPrivateKey) -> Result<Self> {
        let missing = || Error::input("the key lacks its CRT values (dp, dq, qinv)");
        let [p, q] = key.primes() else {
            return Err(Error::input(
                "multi-prime RSA keys are not supported: the device signs with two primes",
            ));
        };
        let secret = |v: &BigUint| Zeroizing::new(v.to_bytes_be());
        let qinv = Zeroizing::new(
            key.qinv()
                .and_then(|v| v.to_biguint())
                .ok_or_else(missing)?,
        );
        Ok(Self {
            n: key.n().to_bytes_be(),
            e: key.e().to_bytes_be(),
            p: secret(p),
            q: secret(q),
            dp: secret(key.dp().ok_or_else(missing)?),
            dq: secret(key.dq().ok_or_else(missing)?),
            qinv: secret(&qinv),
            bits: key.n().bits(),
        })
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The key in a request; borrowed, so the only copies are these (wiped) and the frame's.
    pub fn as_request(&self) -> ucrypto_protocol::RsaPrivateKey<'_> {
        ucrypto_protocol::RsaPrivateKey {
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
}

#[cfg(test)]
mod tests {
    use pkcs8::der::Encode;
    use pkcs8::pkcs5::pbes2::{self, Kdf, Pbkdf2Params, Pbkdf2Prf, ScryptParams};
    use pkcs8::pkcs5::EncryptionScheme;

    use super::*;

    /// An encrypted PKCS#8 file whose key derivation is `kdf` (its ciphertext is never reached).
    fn encrypted_with(kdf: Kdf<'_>) -> Vec<u8> {
        let params = pbes2::Parameters {
            kdf,
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: &[7; 16] },
        };
        EncryptedPrivateKeyInfo {
            encryption_algorithm: EncryptionScheme::Pbes2(params),
            encrypted_data: &[0; 48],
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn key_derivations_that_would_hang_or_exhaust_memory_are_refused_first() {
        let salt = [1u8; 16];
        let costly = [
            Kdf::Pbkdf2(Pbkdf2Params {
                salt: &salt,
                iteration_count: MAX_PBKDF2_ITERATIONS + 1,
                key_length: None,
                prf: Pbkdf2Prf::HmacWithSha256,
            }),
            // 128 r N = 1 TiB.
            Kdf::Scrypt(ScryptParams {
                salt: &salt,
                cost_parameter: 1 << 33,
                block_size: 1,
                parallelization: 1,
                key_length: None,
            }),
            // No work factor at all (pkcs5 would underflow computing log2 of 0).
            Kdf::Scrypt(ScryptParams {
                salt: &salt,
                cost_parameter: 0,
                block_size: 8,
                parallelization: 1,
                key_length: None,
            }),
        ];
        // The passphrase variable is unset: the refusal comes before it is asked for.
        let pass = PassSource::Env("UCRYPTO_TEST_SURELY_UNSET".into());
        for kdf in costly {
            let der = encrypted_with(kdf);
            let Err(e) = parse(&der, Path::new("k.der"), Some(&pass)) else {
                panic!("a costly key derivation was accepted");
            };
            assert!(e.to_string().contains("too costly"), "{e}");
            assert!(matches!(e, Error::Input(_)), "{e:?}");
        }
        // OpenSSL's defaults pass the check (and then need the passphrase).
        for kdf in [
            Kdf::Pbkdf2(Pbkdf2Params::hmac_with_sha256(2048, &salt).unwrap()),
            Kdf::Scrypt(ScryptParams {
                salt: &salt,
                cost_parameter: 16384,
                block_size: 8,
                parallelization: 1,
                key_length: None,
            }),
        ] {
            let der = encrypted_with(kdf);
            let Err(e) = parse(&der, Path::new("k.der"), Some(&pass)) else {
                panic!("decrypted without a passphrase");
            };
            assert!(e.to_string().contains("is not set"), "{e}");
        }
    }
}
