//! PKCS#10 certificate requests (RFC 2986) signed by a device key: RustCrypto's `x509-cert`
//! builder assembles and encodes the request; its one signature, over the DER
//! CertificationRequestInfo, is streamed through the device's SHA-256 and made with the slot's
//! key, then checked on the host like every other signature.
use std::cell::RefCell;
use std::str::FromStr;

use der::{Encode, EncodePem};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use sha2::Sha256;
use signature::{Keypair, Signer};
use spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier};
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::name::Name;
use x509_cert::request::CertReq;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::operations::sign::SigningKey;
use crate::progress::NoProgress;
use crate::transport::Transport;

/// The subject, as RFC 4514 writes it (`CN=device-1,O=Example`: the most specific part first).
pub fn parse_subject(text: &str) -> Result<Name> {
    let name = Name::from_str(text).map_err(|e| {
        Error::input(format!(
            "--subject is not a distinguished name ({e}): write it as RFC 4514 does, e.g. \
             \"CN=device-1,O=Example\""
        ))
    })?;
    if name.0.is_empty() {
        return Err(Error::input(
            "--subject is empty: give at least CN=..., e.g. \"CN=device-1,O=Example\"",
        ));
    }
    Ok(name)
}

/// The device as a `signature::Signer`, as the builder wants one. The builder signs through
/// `&self`, so the client sits in a `RefCell`; a device error is kept to be reported as itself.
struct DeviceSigner<'a, T: Transport> {
    client: RefCell<&'a mut Client<T>>,
    key: &'a SigningKey,
    verifying: VerifyingKey<Sha256>,
    failure: RefCell<Option<Error>>,
}

impl<T: Transport> Keypair for DeviceSigner<'_, T> {
    type VerifyingKey = VerifyingKey<Sha256>;

    fn verifying_key(&self) -> Self::VerifyingKey {
        self.verifying.clone()
    }
}

impl<T: Transport> DynSignatureAlgorithmIdentifier for DeviceSigner<'_, T> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        // sha256WithRSAEncryption, NULL parameters: what the `rsa` crate names for this key.
        self.verifying.signature_algorithm_identifier()
    }
}

impl<T: Transport> Signer<Signature> for DeviceSigner<'_, T> {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Signature, signature::Error> {
        let mut client = self.client.borrow_mut();
        let signed = self
            .key
            .sign_stream(&mut client, &mut &message[..], None, &mut NoProgress)
            .map_err(|e| {
                *self.failure.borrow_mut() = Some(e);
                signature::Error::new()
            })?;
        Signature::try_from(signed.signature.as_slice())
    }
}

/// Builds and signs a request for `subject` with `key` (a device key, checked by the caller).
pub fn build<T: Transport>(
    client: &mut Client<T>,
    key: &SigningKey,
    subject: Name,
) -> Result<CertReq> {
    let signer = DeviceSigner {
        client: RefCell::new(client),
        key,
        verifying: VerifyingKey::new(key.public.clone()),
        failure: RefCell::new(None),
    };
    let built =
        RequestBuilder::new(subject, &signer).and_then(|builder| builder.build::<Signature>());
    if let Some(failure) = signer.failure.into_inner() {
        return Err(failure);
    }
    built.map_err(|e| Error::Verification(format!("cannot build the request: {e}")))
}

/// The request as DER, or PEM (`-----BEGIN CERTIFICATE REQUEST-----`, what `openssl req` reads).
pub fn encode(request: &CertReq, pem: bool) -> Result<Vec<u8>> {
    let encoded = if pem {
        request
            .to_pem(der::pem::LineEnding::LF)
            .map(String::into_bytes)
    } else {
        request.to_der()
    };
    encoded.map_err(|e| Error::Verification(format!("cannot encode the request: {e}")))
}

impl<T: Transport> Client<T> {
    /// A PKCS#10 request for `subject` (RFC 4514, `"CN=device-1,O=Example"`) signed by the
    /// device key in `slot`, as DER; its signature is checked before it is returned.
    pub fn csr(&mut self, slot: u8, subject: &str) -> Result<Vec<u8>> {
        let subject = parse_subject(subject)?;
        let key = SigningKey::slot(self, slot)?;
        key.check_device(self)?;
        encode(&build(self, &key, subject)?, false)
    }
}
