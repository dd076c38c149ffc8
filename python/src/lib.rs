//! The `ucrypto._native` Python module: a device connection kept open across calls, AES sessions
//! that continue their chain, RS256 signatures (with a sent key or a device key), the device-key
//! operations, and the library's errors as Python exceptions.
//! The Python package (`python/ucrypto/`) re-exports it and adds `ucrypto.pycom`.
mod errors;
mod hashing;
mod key_file;
mod slots;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use ucrypto::device_keys::public_format;
use ucrypto::line_speed::LineSpeed;
use ucrypto::progress::NoProgress;
use ucrypto::{connect, AesChain, Client, ConnectOptions, MadeKey, Port, SigningKey};
use ucrypto_protocol::{AesDirection, AesMode, HashAlg, RsaPadding};

use errors::{to_py, usage};

/// One open connection, shared by a [`Device`] and the AES sessions it opened. `None` once
/// closed. The device's operations run with the GIL released, one at a time per connection.
pub(crate) type Shared = Arc<Mutex<Option<Client>>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Option<Client>> {
    // Poisoned only by a panic in an earlier call (PyO3 raised it as PanicException). The client
    // stays usable: every request carries a new sequence number, so a half-finished exchange
    // cannot be mistaken for the next one's answer.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `f` on the open client with the GIL released.
pub(crate) fn with_client<R: Send>(
    py: Python<'_>,
    shared: &Shared,
    f: impl FnOnce(&mut Client) -> ucrypto::Result<R> + Send,
) -> PyResult<R> {
    py.detach(|| {
        let mut guard = lock(shared);
        match guard.as_mut() {
            Some(client) => f(client).map_err(Some),
            None => Err(None),
        }
    })
    .map_err(|e| match e {
        Some(e) => to_py(&e),
        None => usage("this device is closed: open a new ucrypto.Device"),
    })
}

/// A connected device: `Device("sim")` for the virtual device in this process, a serial port's
/// path, or `None` for `UCRYPTO_PORT` or else the one attached board.
#[pyclass(module = "ucrypto")]
struct Device {
    shared: Shared,
    port: String,
}

#[pymethods]
impl Device {
    #[new]
    #[pyo3(signature = (port=None, *, timeout=2.0, baud=None))]
    fn new(
        py: Python<'_>,
        port: Option<String>,
        timeout: f64,
        baud: Option<u32>,
    ) -> PyResult<Self> {
        let spec = port
            .or_else(|| std::env::var("UCRYPTO_PORT").ok())
            .unwrap_or_else(|| "auto".into());
        let port: Port = spec.parse().map_err(|e| to_py(&e))?;
        if !(timeout.is_finite() && timeout > 0.0) {
            return Err(usage("timeout must be a positive number of seconds"));
        }
        // The port opens at the device's start-up rate; `baud` is the rate negotiated after
        // the handshake (by default the fastest the port's USB bridge carries).
        let options = ConnectOptions {
            port,
            speed: baud.map_or(LineSpeed::Fastest, LineSpeed::Baud),
            timeout: Duration::from_secs_f64(timeout),
            ..ConnectOptions::default()
        };
        let client = py.detach(|| connect(&options)).map_err(|e| to_py(&e))?;
        let port = client.info().port.clone();
        Ok(Self {
            shared: Arc::new(Mutex::new(Some(client))),
            port,
        })
    }

    /// The port the device is on (`sim` for the virtual device).
    #[getter]
    fn port(&self) -> String {
        self.port.clone()
    }

    /// What the device said in the handshake, as `ucrypto --json info` prints it. The
    /// connection's lock is taken with the GIL released: another thread may be in a long call.
    fn info(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let text = py
            .detach(|| {
                lock(&self.shared).as_ref().map(|client| {
                    serde_json::to_string(client.info()).expect("device info serialises")
                })
            })
            .ok_or_else(|| usage("this device is closed: open a new ucrypto.Device"))?;
        let json = py.import("json")?;
        Ok(json.call_method1("loads", (text,))?.unbind())
    }

    /// `bits` random bits from the device, rounded up to a multiple of 32 (health-tested).
    fn rand<'py>(&self, py: Python<'py>, bits: u64) -> PyResult<Bound<'py, PyBytes>> {
        let data = with_client(py, &self.shared, |c| c.rand(bits))?;
        Ok(PyBytes::new(py, &data))
    }

    /// Opens an AES session on the device (see `AesSession`). `mode` is `ecb`, `cbc`, `cfb8`,
    /// `cfb128` or `ctr`; `iv` is for CBC and CFB, `counter` (the initial counter block) for CTR.
    #[pyo3(signature = (mode, key, iv=None, counter=None, *, decrypt=false))]
    fn aes(
        &self,
        py: Python<'_>,
        mode: &str,
        key: Vec<u8>,
        iv: Option<Vec<u8>>,
        counter: Option<Vec<u8>>,
        decrypt: bool,
    ) -> PyResult<AesSession> {
        let key = zeroize::Zeroizing::new(key);
        let mode = aes_mode(mode)?;
        let block = aes_block(mode, iv, counter)?;
        let direction = if decrypt {
            AesDirection::Decrypt
        } else {
            AesDirection::Encrypt
        };
        let chain = with_client(py, &self.shared, |c| {
            AesChain::open(c, direction, mode, &key, block)
        })?;
        Ok(AesSession {
            shared: self.shared.clone(),
            chain: Mutex::new(Some(chain)),
        })
    }

    /// Signs `message` (RS256: SHA-256 on the device, PKCS#1 v1.5) with `key`, an RSA private
    /// key (PEM text or DER bytes; `password` for encrypted PKCS#8), or with the device key in
    /// `slot`. The signature is checked with the public key before it is returned.
    #[pyo3(signature = (message, key=None, *, password=None, slot=None))]
    fn sign<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
        key: Option<KeyBytes>,
        password: Option<Vec<u8>>,
        slot: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let key = ChosenKey::new(key, password, slot)?;
        let message = message.to_vec();
        let signed = with_client(py, &self.shared, move |c| {
            let key = key.resolve(c)?;
            c.sign_message(&key, &mut message.as_slice())
        })?;
        Ok(PyBytes::new(py, &signed.signature))
    }

    /// Signs a SHA-256 digest computed elsewhere (32 bytes), as `sign` does a message.
    #[pyo3(signature = (digest, key=None, *, password=None, slot=None))]
    fn sign_digest<'py>(
        &self,
        py: Python<'py>,
        digest: &[u8],
        key: Option<KeyBytes>,
        password: Option<Vec<u8>>,
        slot: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let digest: [u8; 32] = digest.try_into().map_err(|_| {
            usage(format!(
                "a SHA-256 digest is 32 bytes, not {}",
                digest.len()
            ))
        })?;
        let key = ChosenKey::new(key, password, slot)?;
        let signed = with_client(py, &self.shared, move |c| {
            let key = key.resolve(c)?;
            c.sign_digest(&key, digest)
        })?;
        Ok(PyBytes::new(py, &signed.signature))
    }

    /// The SHA-256 digest of `data`, computed on the device's SHA accelerator and checked
    /// against the host's.
    fn sha256<'py>(&self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let data = data.to_vec();
        let digested = with_client(py, &self.shared, move |c| {
            c.digest(
                HashAlg::Sha256,
                &mut data.as_slice(),
                true,
                None,
                &mut NoProgress,
            )
        })?;
        Ok(PyBytes::new(py, &digested.digest))
    }

    /// A `hashlib`-style object (`update`, `digest`, `hexdigest`, `copy`) hashing on the device:
    /// `sha256`, `sha224` or `sha1` (legacy). `data` is fed first.
    #[pyo3(signature = (name="sha256", data=None))]
    fn hash(&self, py: Python<'_>, name: &str, data: Option<&[u8]>) -> PyResult<hashing::Hash> {
        let hash = hashing::Hash::open(py, &self.shared, hashing::alg(name)?)?;
        if let Some(data) = data {
            hash.update(py, data)?;
        }
        Ok(hash)
    }

    /// Decrypts `ciphertext` on the device: with the device key in `slot` (its Digital Signature
    /// peripheral), or with `key` (a private key, PEM text or DER bytes; `password` for
    /// encrypted PKCS#8), which the host then decrypts with too, the plaintexts compared.
    /// `padding` is `oaep` (SHA-256, MGF1-SHA-256) or `pkcs1v15`. A ciphertext that does not
    /// open raises `DeviceError` with `code == "decrypt-failed"`, whatever was wrong.
    #[pyo3(signature = (ciphertext, *, slot=None, key=None, password=None, padding="oaep"))]
    fn decrypt<'py>(
        &self,
        py: Python<'py>,
        ciphertext: &[u8],
        slot: Option<i64>,
        key: Option<KeyBytes>,
        password: Option<Vec<u8>>,
        padding: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let padding = rsa_padding(padding)?;
        let ciphertext = ciphertext.to_vec();
        let plaintext = match (key, slot) {
            (Some(key), None) => {
                let password = password.map(zeroize::Zeroizing::new);
                let private =
                    key_file::private_key(&key.0, password.as_deref().map(Vec::as_slice))?;
                let signing = SigningKey::new(&private).map_err(|e| to_py(&e))?;
                with_client(py, &self.shared, move |c| {
                    c.decrypt_checked(&signing, &private, padding, &ciphertext)
                })?
            }
            (None, Some(slot)) if password.is_none() => {
                let slot = slots::number(slot)?;
                with_client(py, &self.shared, move |c| {
                    let key = SigningKey::slot(c, slot)?;
                    c.decrypt(&key, padding, &ciphertext)
                })?
            }
            (None, Some(_)) => return Err(usage("a device key has no password: drop password=")),
            _ => {
                return Err(usage(
                    "name one key: slot= (a device key) or key= (a private key)",
                ))
            }
        };
        Ok(PyBytes::new(py, &plaintext))
    }

    /// The device's key slots as `ucrypto --json key list` lists them: one dict per slot
    /// (`slot`, `efuse_block`, `state`, and `bits` and `spki_sha256` for a device key).
    fn key_slots(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let slots = with_client(py, &self.shared, |c| c.key_slots())?;
        let text = serde_json::to_string(&slots).expect("key slots serialise");
        let json = py.import("json")?;
        Ok(json.call_method1("loads", (text,))?.unbind())
    }

    /// The public key of the device key in `slot` (checked against the fingerprint the device
    /// listed in its handshake): SubjectPublicKeyInfo as PEM text, or DER bytes.
    #[pyo3(signature = (slot, format="pem"))]
    fn key_public(&self, py: Python<'_>, slot: i64, format: &str) -> PyResult<Py<PyAny>> {
        let slot = slots::number(slot)?;
        let format = slots::public_format(format)?;
        let encoded = with_client(py, &self.shared, move |c| {
            public_format::encode(&c.key_public(slot)?, format)
        })?;
        public_output(py, encoded, format.is_text())
    }

    /// Generates a `bits`-bit RSA key on the device into `slot` (a number, or `"any"` for the
    /// highest free slot of 2 to 5); the private key never leaves the chip. Burns an eFuse key block, which
    /// cannot be undone: raises `UsageError` unless `burn=True`. Returns the new key's slot,
    /// size, fingerprint and PEM public key, after a test signature through the slot verified.
    #[pyo3(signature = (slot, bits=2048, *, burn=false))]
    fn key_generate(
        &self,
        py: Python<'_>,
        slot: slots::Choice,
        bits: u16,
        burn: bool,
    ) -> PyResult<Py<PyAny>> {
        slots::require_burn(burn, "key_generate")?;
        let made = with_client(py, &self.shared, move |c| c.key_generate(slot.0, bits))?;
        made_key(py, &made)
    }

    /// Stores an RSA private key (PEM text or DER bytes; `password` for encrypted PKCS#8) as a
    /// device key in `slot` (a number or `"any"`). Weaker than `key_generate`: the key exists
    /// off the chip. Burns an eFuse key block: raises `UsageError` unless `burn=True`.
    #[pyo3(signature = (slot, key, *, burn=false, password=None))]
    fn key_import(
        &self,
        py: Python<'_>,
        slot: slots::Choice,
        key: KeyBytes,
        burn: bool,
        password: Option<Vec<u8>>,
    ) -> PyResult<Py<PyAny>> {
        slots::require_burn(burn, "key_import")?;
        let password = password.map(zeroize::Zeroizing::new);
        let key = key_file::private_key(&key.0, password.as_deref().map(Vec::as_slice))?;
        let made = with_client(py, &self.shared, move |c| c.key_import(slot.0, &key))?;
        made_key(py, &made)
    }

    /// A PKCS#10 certificate request (DER) for `subject` (RFC 4514, `"CN=device-1,O=Example"`)
    /// signed by the device key in `slot`; its signature is checked before it is returned.
    fn csr<'py>(
        &self,
        py: Python<'py>,
        slot: i64,
        subject: String,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let slot = slots::number(slot)?;
        let der = with_client(py, &self.shared, move |c| c.csr(slot, &subject))?;
        Ok(PyBytes::new(py, &der))
    }

    /// Writes `der` (a DER certificate) as the device's certificate entry of `kind`
    /// (`"device"` or `"ca"`) in its esp_secure_cert partition (docs/ca.md). The device refuses
    /// a second certificate of a kind (`DeviceError`).
    #[pyo3(signature = (der, kind="device"))]
    fn cert_write(&self, py: Python<'_>, der: Vec<u8>, kind: &str) -> PyResult<()> {
        let kind = cert_kind(kind)?;
        with_client(py, &self.shared, move |c| c.cert_write(kind, &der))
    }

    /// The device's certificate entry of `kind` (`"device"` or `"ca"`) as DER bytes, or `None`.
    #[pyo3(signature = (kind="device"))]
    fn cert_read<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let kind = cert_kind(kind)?;
        let der = with_client(py, &self.shared, move |c| c.cert_read(kind))?;
        Ok(der.map(|der| PyBytes::new(py, &der)))
    }

    /// Asks the device to attest with the key in `slot` over a fresh challenge and checks the
    /// answer against `ca` (PEM or DER certificates to trust): returns the verdict (checks passed,
    /// serial, chain, the statement's fields, the raw evidence); raises `VerificationError`
    /// naming the failed check (`"check chain failed: …"`). `crls` (a list of PEM or DER CRLs)
    /// adds the CRL checks: each CRL issued and signed by a CA of the chain and current, the
    /// device certificate not on it (`"check revocation failed: …"`).
    #[pyo3(signature = (ca, slot=0, crls=Vec::new()))]
    fn attest(
        &self,
        py: Python<'_>,
        ca: KeyBytes,
        slot: i64,
        crls: Vec<KeyBytes>,
    ) -> PyResult<Py<PyAny>> {
        let slot = slots::number(slot)?;
        let anchors = ucrypto::verify::attestation::parse_certificates(&ca.0)
            .map_err(|e| usage(format!("ca: {e}")))?;
        let mut lists = Vec::new();
        for crl in &crls {
            lists.extend(
                ucrypto::verify::revocation::parse_crls(&crl.0)
                    .map_err(|e| usage(format!("crls: {e}")))?,
            );
        }
        let (evidence, outcome) = with_client(py, &self.shared, move |c| {
            ucrypto::verify::attestation::attest_device(c, slot, &anchors, &lists)
        })?;
        let verdict = outcome.map_err(|failure| {
            to_py(&ucrypto::Error::Verification(format!(
                "attestation: {failure}"
            )))
        })?;
        let text = serde_json::json!({
            "verdict": "genuine",
            "slot": slot,
            "serial": verdict.serial,
            "subject": verdict.subject,
            "chain": verdict.chain,
            "checks": verdict.checks,
            "statement": verdict.statement,
            "evidence": {
                "statement": hex::encode(&evidence.statement),
                "signature": hex::encode(&evidence.signature),
                "certificate": verdict.certificate_pem,
            },
        })
        .to_string();
        let json = py.import("json")?;
        Ok(json.call_method1("loads", (text,))?.unbind())
    }

    /// Checks an RS256 signature of `message` with `key` (public or private, PEM or DER) on the
    /// host; raises `VerificationError` when it does not hold. Needs no device.
    #[pyo3(signature = (message, signature, key))]
    fn verify(&self, message: &[u8], signature: &[u8], key: KeyBytes) -> PyResult<()> {
        key_file::verify(message, signature, &key.0)
    }

    /// Closes the connection (the device ends any open session at the next one). Idempotent.
    fn close(&self, py: Python<'_>) {
        let client = py.detach(|| lock(&self.shared).take());
        drop(client);
    }

    /// Whether `close` was called (the lock is waited for with the GIL released).
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        py.detach(|| lock(&self.shared).is_none())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("<ucrypto.Device port={:?}>", self.port)
    }
}

/// An AES session on the device: `update` continues the chain across calls and returns the
/// output so far (whole blocks in ECB and CBC; every byte in CFB and CTR), each piece checked
/// against the host's AES. `finish` ends it (ECB and CBC refuse a partial block left over).
#[pyclass(module = "ucrypto")]
struct AesSession {
    shared: Shared,
    chain: Mutex<Option<AesChain>>,
}

impl AesSession {
    fn run<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut AesChain, &mut Client) -> ucrypto::Result<R> + Send,
    ) -> PyResult<R> {
        let chain = &self.chain;
        with_client(py, &self.shared, move |client| {
            let mut guard = chain.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_mut() {
                Some(chain) => f(chain, client),
                None => Err(ucrypto::Error::input(
                    "this AES session has ended: open a new one",
                )),
            }
        })
    }
}

#[pymethods]
impl AesSession {
    /// Runs `data` through the session; returns the verified output so far.
    fn update<'py>(&self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let data = zeroize::Zeroizing::new(data.to_vec());
        let out = self.run(py, |chain, client| chain.update(client, &data))?;
        let out = zeroize::Zeroizing::new(out);
        Ok(PyBytes::new(py, &out))
    }

    /// Ends the session; the device wipes the key. Returns what remains of the output (nothing:
    /// no padding is added or removed).
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let out = self.run(py, |chain, client| chain.finish(client));
        // The chain's lock is held by a call in another thread while it waits on the device.
        py.detach(|| self.chain.lock().unwrap_or_else(|p| p.into_inner()).take());
        Ok(PyBytes::new(py, &out?))
    }

    /// Ends the session without checking for a partial block. Idempotent.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.end());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }
}

impl AesSession {
    /// Ends the session on the device, once. Called without the GIL: it waits for the
    /// connection, which another thread's call may hold.
    fn end(&self) {
        let chain = self.chain.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut chain) = chain {
            if let Some(client) = lock(&self.shared).as_mut() {
                chain.close(client);
            }
        }
    }
}

impl Drop for AesSession {
    /// A session dropped unclosed is still ended, so the device wipes the key now, with the
    /// GIL released (a drop runs with it held). While the interpreter shuts down no other
    /// Python thread runs, and the session ends directly.
    fn drop(&mut self) {
        if Python::try_attach(|py| py.detach(|| self.end())).is_none() {
            self.end();
        }
    }
}

/// The key a signing call names: a private key sent with each signature, or a device key.
enum ChosenKey {
    Sent(Box<SigningKey>),
    Slot(u8),
}

impl ChosenKey {
    fn new(key: Option<KeyBytes>, password: Option<Vec<u8>>, slot: Option<i64>) -> PyResult<Self> {
        let password = password.map(zeroize::Zeroizing::new);
        match (key, slot) {
            (Some(key), None) => Ok(Self::Sent(Box::new(key_file::signing_key(
                &key.0,
                password.as_deref().map(Vec::as_slice),
            )?))),
            (None, Some(slot)) if password.is_none() => Ok(Self::Slot(slots::number(slot)?)),
            (None, Some(_)) => Err(usage("a device key has no password: drop password=")),
            (Some(_), Some(_)) => Err(usage(
                "pass either key= (a private key) or slot= (a device key), not both",
            )),
            (None, None) => Err(usage(
                "no signing key: pass key= (a private key) or slot= (a device key)",
            )),
        }
    }

    /// The key ready to sign; a slot's public key is read from the device and checked.
    fn resolve(self, client: &mut Client) -> ucrypto::Result<SigningKey> {
        match self {
            Self::Sent(key) => Ok(*key),
            Self::Slot(slot) => SigningKey::slot(client, slot),
        }
    }
}

/// A public key as Python gets it: PEM as `str`, DER as `bytes`.
fn public_output(py: Python<'_>, encoded: Vec<u8>, text: bool) -> PyResult<Py<PyAny>> {
    if text {
        let text = String::from_utf8(encoded).expect("PEM is ASCII");
        return Ok(PyString::new(py, &text).into_any().unbind());
    }
    Ok(PyBytes::new(py, &encoded).into_any().unbind())
}

/// What `key_generate` and `key_import` return: where the key went and its public half.
fn made_key(py: Python<'_>, made: &MadeKey) -> PyResult<Py<PyAny>> {
    let pem = public_format::encode(&made.public, public_format::PublicFormat::Pem)
        .map_err(|e| to_py(&e))?;
    let dict = pyo3::types::PyDict::new(py);
    dict.set_item("slot", made.public.slot)?;
    dict.set_item(
        "efuse_block",
        ucrypto::device_keys::efuse_block(made.public.slot),
    )?;
    dict.set_item("bits", made.public.bits())?;
    dict.set_item("spki_sha256", made.public.fingerprint())?;
    dict.set_item("public_key", String::from_utf8(pem).expect("PEM is ASCII"))?;
    dict.set_item("test_signature_verified", made.test_signature_verified)?;
    Ok(dict.into_any().unbind())
}

/// A key as Python hands it over: PEM text (`str`) or bytes.
struct KeyBytes(zeroize::Zeroizing<Vec<u8>>);

impl<'a, 'py> FromPyObject<'a, 'py> for KeyBytes {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(text) = obj.extract::<String>() {
            return Ok(Self(zeroize::Zeroizing::new(text.into_bytes())));
        }
        obj.extract::<Vec<u8>>()
            .map(|b| Self(zeroize::Zeroizing::new(b)))
            .map_err(|_| usage("a key is PEM text (str) or PEM/DER bytes"))
    }
}

fn cert_kind(name: &str) -> PyResult<ucrypto_protocol::CertKind> {
    match name {
        "device" => Ok(ucrypto_protocol::CertKind::Device),
        "ca" => Ok(ucrypto_protocol::CertKind::Ca),
        other => Err(usage(format!("kind {other:?}: use \"device\" or \"ca\""))),
    }
}

fn aes_mode(name: &str) -> PyResult<AesMode> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "ecb" => AesMode::Ecb,
        "cbc" => AesMode::Cbc,
        "cfb8" => AesMode::Cfb8,
        "cfb128" | "cfb" => AesMode::Cfb128,
        "ctr" => AesMode::Ctr,
        _ => {
            return Err(usage(format!(
                "unknown AES mode `{name}`: use ecb, cbc, cfb8, cfb128 or ctr"
            )))
        }
    })
}

/// The IV or counter block, each refused where it does not belong (as the CLI's `--iv` and
/// `--counter`).
fn aes_block(
    mode: AesMode,
    iv: Option<Vec<u8>>,
    counter: Option<Vec<u8>>,
) -> PyResult<Option<[u8; 16]>> {
    let block = |name: &str, bytes: Vec<u8>| -> PyResult<[u8; 16]> {
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| usage(format!("{name} is 16 bytes, not {}", bytes.len())))
    };
    match (mode, iv, counter) {
        (AesMode::Ecb, None, None) => Ok(None),
        (AesMode::Ecb, _, _) => Err(usage("ECB takes no iv or counter")),
        (AesMode::Ctr, Some(_), _) => Err(usage(
            "CTR takes counter= (the initial counter block), not iv=",
        )),
        (AesMode::Ctr, None, Some(c)) => block("counter", c).map(Some),
        (AesMode::Ctr, None, None) => Err(usage(
            "CTR needs counter= (the initial 16-byte counter block)",
        )),
        (_, _, Some(_)) => Err(usage(
            "counter= is the initial counter block of CTR; this mode takes iv=",
        )),
        (_, Some(iv), None) => block("iv", iv).map(Some),
        (_, None, None) => Err(usage("this mode needs iv= (16 bytes)")),
    }
}

/// `oaep` or `pkcs1v15`.
fn rsa_padding(name: &str) -> PyResult<RsaPadding> {
    match name.to_ascii_lowercase().as_str() {
        "oaep" | "oaep-sha256" => Ok(RsaPadding::OaepSha256),
        "pkcs1v15" | "pkcs1" => Ok(RsaPadding::Pkcs1v15),
        other => Err(usage(format!(
            "padding is \"oaep\" (SHA-256) or \"pkcs1v15\", not {other:?}"
        ))),
    }
}

/// RSA-encrypts `message` on the host to `key` (a public key, or a private key's public half;
/// PEM text or DER bytes), as `openssl pkeyutl -encrypt` does: `padding` is `oaep` (SHA-256,
/// MGF1-SHA-256, no label) or `pkcs1v15`.
#[pyfunction]
#[pyo3(signature = (message, key, *, padding="oaep"))]
fn encrypt<'py>(
    py: Python<'py>,
    message: &[u8],
    key: KeyBytes,
    padding: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let padding = rsa_padding(padding)?;
    let public = key_file::public_key(&key.0)?;
    let sealed =
        ucrypto::operations::decrypt::encrypt(&public, padding, message).map_err(|e| to_py(&e))?;
    Ok(PyBytes::new(py, &sealed))
}

/// Checks an RS256 signature on the host (no device): raises `VerificationError` when it does
/// not hold.
#[pyfunction]
#[pyo3(signature = (message, signature, key))]
fn verify(message: &[u8], signature: &[u8], key: KeyBytes) -> PyResult<()> {
    key_file::verify(message, signature, &key.0)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Device>()?;
    m.add_class::<AesSession>()?;
    m.add_class::<hashing::Hash>()?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(encrypt, m)?)?;
    errors::register(m)?;
    Ok(())
}
