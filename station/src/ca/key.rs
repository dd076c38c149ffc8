//! The CA's signing key, in an encrypted PKCS#8 file or on a PKCS#11 token, as one
//! `signature::Signer` that x509-cert's builders take. The private key of a file is held only
//! while the CA is open (rsa zeroizes it when dropped); a token's never leaves the token.
use std::io::IsTerminal;
use std::path::Path;

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use signature::{Keypair, Signer};
use x509_cert::der::asn1::Any;
use x509_cert::spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier};
use zeroize::Zeroizing;

use super::config::KeyLocation;
use crate::error::{Error, Result};
use ucrypto::key_file::PassSource;

/// sha256WithRSAEncryption: what the CA signs with.
const SHA256_WITH_RSA: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// A secret named by `env:VAR` or `file:PATH` (the first line), never given as itself.
pub fn read_secret(spec: &str, what: &str) -> Result<Zeroizing<String>> {
    let source: PassSource = spec
        .parse()
        .map_err(|e: String| Error::input(format!("{what}: {e}")))?;
    match source {
        PassSource::Env(var) => std::env::var(&var).map(Zeroizing::new).map_err(|_| {
            Error::input(format!(
                "{what}: the environment variable {var} is not set: set it, or name another source"
            ))
        }),
        PassSource::File(path) => {
            let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
                Error::input(format!("{what}: cannot read {}: {e}", path.display()))
            })?);
            Ok(Zeroizing::new(
                text.lines().next().unwrap_or("").to_string(),
            ))
        }
    }
}

/// The passphrase of the CA's key file: `spec` (`env:`/`file:`), else a prompt on a terminal.
pub fn passphrase(spec: Option<&str>, path: &Path, confirm: bool) -> Result<Zeroizing<String>> {
    if let Some(spec) = spec {
        return read_secret(spec, "the CA key's passphrase");
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::input(format!(
            "{} needs a passphrase: give it with --pass env:VAR or --pass file:PATH",
            path.display()
        )));
    }
    let prompt = |text: String| {
        rpassword::prompt_password(text)
            .map(Zeroizing::new)
            .map_err(|e| Error::input(format!("cannot read the passphrase: {e}")))
    };
    let first = prompt(format!("Passphrase for {}: ", path.display()))?;
    if confirm && *prompt("Again: ".into())? != *first {
        return Err(Error::input("the passphrases differ: nothing was written"));
    }
    Ok(first)
}

/// A logged-in session on a token, with the key found on it.
pub struct TokenKey {
    session: Session,
    key: ObjectHandle,
    public: RsaPublicKey,
    // Kept so the module stays loaded as long as the session.
    _context: Pkcs11,
}

/// Opens `module`, finds the token labelled `token` and logs in with `pin`.
pub fn open_token(module: &Path, token: &str, pin: &str) -> Result<(Pkcs11, Session)> {
    let pin_secret = read_secret(pin, "the token's PIN")?;
    let context = Pkcs11::new(module).map_err(|e| {
        Error::input(format!(
            "cannot load the PKCS#11 module {}: {e}",
            module.display()
        ))
    })?;
    context
        .initialize(CInitializeArgs::OsThreads)
        .map_err(|e| Error::input(format!("the PKCS#11 module does not start: {e}")))?;
    let slots = context
        .get_slots_with_token()
        .map_err(|e| Error::input(format!("the PKCS#11 module lists no slots: {e}")))?;
    let slot = slots
        .into_iter()
        .find(|s| {
            context
                .get_token_info(*s)
                .is_ok_and(|info| info.label().trim_end() == token)
        })
        .ok_or_else(|| {
            Error::input(format!(
                "no token labelled {token:?} in {}: plug in the HSM or fix `token` in the CA config",
                module.display()
            ))
        })?;
    let session = context
        .open_rw_session(slot)
        .map_err(|e| Error::input(format!("cannot open a session on token {token:?}: {e}")))?;
    session
        .login(UserType::User, Some(&AuthPin::new(pin_secret.to_string())))
        .map_err(|e| Error::input(format!("the token {token:?} refused the PIN: {e}")))?;
    Ok((context, session))
}

fn find_one(session: &Session, class: ObjectClass, label: &str) -> Result<Option<ObjectHandle>> {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| Error::input(format!("cannot search the token: {e}")))?;
    Ok(found.into_iter().next())
}

fn token_public(session: &Session, label: &str) -> Result<RsaPublicKey> {
    let handle = find_one(session, ObjectClass::PUBLIC_KEY, label)?
        .ok_or_else(|| Error::input(format!("the token holds no public key labelled {label:?}")))?;
    let attributes = session
        .get_attributes(
            handle,
            &[AttributeType::Modulus, AttributeType::PublicExponent],
        )
        .map_err(|e| Error::input(format!("cannot read the token's public key: {e}")))?;
    let (mut n, mut e) = (None, None);
    for attribute in attributes {
        match attribute {
            Attribute::Modulus(v) => n = Some(BigUint::from_bytes_be(&v)),
            Attribute::PublicExponent(v) => e = Some(BigUint::from_bytes_be(&v)),
            _ => {}
        }
    }
    let (Some(n), Some(e)) = (n, e) else {
        return Err(Error::input("the token's key is not an RSA key"));
    };
    RsaPublicKey::new(n, e).map_err(|e| Error::input(format!("the token's key is not valid: {e}")))
}

impl TokenKey {
    fn open(module: &Path, token: &str, key_label: &str, pin: &str) -> Result<Self> {
        let (context, session) = open_token(module, token, pin)?;
        let key = find_one(&session, ObjectClass::PRIVATE_KEY, key_label)?.ok_or_else(|| {
            Error::input(format!(
                "the token {token:?} holds no private key labelled {key_label:?}"
            ))
        })?;
        let public = token_public(&session, key_label)?;
        Ok(TokenKey {
            session,
            key,
            public,
            _context: context,
        })
    }
}

/// Makes an RSA key pair of `bits` on the token, labelled `label`: the private half marked
/// sensitive and not extractable, so it never leaves the token.
pub fn generate_on_token(
    module: &Path,
    token: &str,
    label: &str,
    pin: &str,
    bits: u32,
) -> Result<()> {
    let (_context, session) = open_token(module, token, pin)?;
    if find_one(&session, ObjectClass::PRIVATE_KEY, label)?.is_some() {
        return Err(Error::input(format!(
            "the token {token:?} already holds a key labelled {label:?}: pick another --key-label"
        )));
    }
    let label = label.as_bytes().to_vec();
    let public = [
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::ModulusBits((bits as u64).into()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::Label(label.clone()),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Label(label),
    ];
    session
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        .map_err(|e| Error::input(format!("the token did not make the key: {e}")))?;
    Ok(())
}

/// The CA's signing key.
pub enum CaKey {
    File(Box<SigningKey<Sha256>>),
    Token(Box<TokenKey>),
}

impl CaKey {
    /// Opens the key `location` names (`pass` overrides the file's configured passphrase
    /// source).
    pub fn open(location: &KeyLocation, dir: &Path, pass: Option<&str>) -> Result<Self> {
        match location {
            KeyLocation::File { path, passphrase } => {
                let path = dir.join(path);
                let spec = pass.or(passphrase.as_deref());
                let secret = self::passphrase(spec, &path, false)?;
                Self::from_file(&path, &secret)
            }
            KeyLocation::Pkcs11 {
                module,
                token,
                key_label,
                pin,
            } => Ok(CaKey::Token(Box::new(TokenKey::open(
                module, token, key_label, pin,
            )?))),
        }
    }

    fn from_file(path: &Path, secret: &str) -> Result<Self> {
        use rsa::pkcs8::DecodePrivateKey;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            Error::input(format!("cannot read the CA key {}: {e}", path.display()))
        })?);
        let key =
            RsaPrivateKey::from_pkcs8_encrypted_pem(&text, secret.as_bytes()).map_err(|_| {
                Error::input(format!(
                "cannot decrypt the CA key {}: wrong passphrase (or not an encrypted PKCS#8 key)",
                path.display()
            ))
            })?;
        Ok(CaKey::File(Box::new(SigningKey::new(key))))
    }

    pub fn public(&self) -> RsaPublicKey {
        match self {
            CaKey::File(k) => k.verifying_key().into(),
            CaKey::Token(t) => t.public.clone(),
        }
    }
}

impl Keypair for CaKey {
    type VerifyingKey = VerifyingKey<Sha256>;

    fn verifying_key(&self) -> Self::VerifyingKey {
        VerifyingKey::new(self.public())
    }
}

impl DynSignatureAlgorithmIdentifier for CaKey {
    fn signature_algorithm_identifier(&self) -> x509_cert::spki::Result<AlgorithmIdentifierOwned> {
        Ok(AlgorithmIdentifierOwned {
            oid: SHA256_WITH_RSA,
            parameters: Some(Any::null()),
        })
    }
}

impl Signer<Signature> for CaKey {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Signature, signature::Error> {
        match self {
            CaKey::File(k) => k.try_sign(msg),
            CaKey::Token(t) => {
                let bytes = t
                    .session
                    .sign(&Mechanism::Sha256RsaPkcs, t.key, msg)
                    .map_err(signature::Error::from_source)?;
                Signature::try_from(bytes.as_slice())
            }
        }
    }
}
