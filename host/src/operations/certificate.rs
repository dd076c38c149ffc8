//! Certificates in the device's esp_secure_cert partition and attestation, as methods of
//! [`Client`]: [`Client::cert_write`], [`Client::cert_read`] and [`Client::attest`]. What the
//! answers mean is checked by `crate::verify::attestation`; these only move the bytes.
use ucrypto_protocol::{CertKind, Command, ErrorCode, RequestBody, ResponseBody};

use crate::client::Client;
use crate::error::{Error, Result};

/// A signed attestation as the device answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The statement (docs/protocol.md section 6, "Attestation").
    pub statement: Vec<u8>,
    /// RSASSA-PKCS1-v1_5 / SHA-256 over `statement` by the slot's key.
    pub signature: Vec<u8>,
}

fn require(client: &Client, command: Command, what: &str) -> Result<()> {
    if client.info().raw_capabilities.supports(command) {
        Ok(())
    } else {
        Err(Error::Unsupported(format!(
            "this device does not serve {what} (no device keys, or older firmware: update it)"
        )))
    }
}

fn unexpected(request: &str, answer: &ResponseBody<'_>) -> Error {
    Error::Verification(format!("the device answered {request} with {answer:?}"))
}

impl Client {
    /// Writes `der` as the device's certificate entry of `kind`, a piece of at most the
    /// device's `max_chunk_len` at a time. Not repeated on a lost answer: a piece written twice
    /// is refused, and the caller reads back what the device holds.
    pub fn cert_write(&mut self, kind: CertKind, der: &[u8]) -> Result<()> {
        require(self, Command::Certificates, "certificates")?;
        let total = u32::try_from(der.len())
            .ok()
            .filter(|&n| n > 0 && n <= u32::from(u16::MAX))
            .ok_or_else(|| Error::input("a certificate must be 1 to 65535 bytes of DER"))?;
        let piece = usize::from(self.info().raw_capabilities.max_chunk_len).max(1);
        for (i, chunk) in der.chunks(piece).enumerate() {
            let offset = (i * piece) as u32;
            let body = RequestBody::CertWrite {
                kind,
                offset,
                total,
                data: chunk,
            };
            let wait = self.wait_for(&body);
            let seq = self.send(&body)?;
            let expected = offset + chunk.len() as u32;
            self.receive(seq, wait, |answer| match answer {
                ResponseBody::CertWritten { received } if received == expected => Ok(()),
                other => Err(unexpected("a certificate piece", &other)),
            })?;
        }
        Ok(())
    }

    /// The device's certificate entry of `kind` (DER), or `None` when it has none.
    pub fn cert_read(&mut self, kind: CertKind) -> Result<Option<Vec<u8>>> {
        require(self, Command::Certificates, "certificates")?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let offset = out.len() as u32;
            let answer = self.call(
                RequestBody::CertRead { kind, offset },
                |answer| match answer {
                    ResponseBody::Certificate {
                        total,
                        offset: at,
                        data,
                    } if at == offset && u64::from(offset) + data.len() as u64 <= total.into() => {
                        Ok((total, data.to_vec()))
                    }
                    other => Err(unexpected("a certificate read", &other)),
                },
            );
            let (total, data) = match answer {
                Ok(piece) => piece,
                Err(Error::Device {
                    code: ErrorCode::NoCertificate,
                    ..
                }) => return Ok(None),
                Err(e) => return Err(e),
            };
            if data.is_empty() && out.len() < total as usize {
                return Err(Error::Verification(
                    "the device sent an empty piece of its certificate".into(),
                ));
            }
            out.extend_from_slice(&data);
            if out.len() == total as usize {
                return Ok(Some(out));
            }
        }
    }

    /// Has the device sign an attestation statement over `challenge` with the key in `slot`.
    /// The answer is returned as it came: check it with `verify::attestation`.
    pub fn attest(&mut self, slot: u8, challenge: [u8; 32]) -> Result<Evidence> {
        require(self, Command::Attest, "attestation")?;
        self.call(
            RequestBody::Attest { slot, challenge },
            |answer| match answer {
                ResponseBody::Attestation {
                    statement,
                    signature,
                } => Ok(Evidence {
                    statement: statement.to_vec(),
                    signature: signature.to_vec(),
                }),
                other => Err(unexpected("an attestation request", &other)),
            },
        )
    }
}
