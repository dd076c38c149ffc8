//! The DER `SubjectPublicKeyInfo` of an RSA public key (RFC 5280, RFC 8017 `RSAPublicKey`):
//! written when a key is stored, read back for `PublicKey`, hashed for the slot fingerprint.
//!
//! Hand-written for this one fixed shape (two INTEGERs in a BIT STRING) so the no-alloc engine
//! needs no DER library; the host tests parse the output with OpenSSL.

/// `SEQUENCE { OID rsaEncryption, NULL }`.
const ALGORITHM: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// Bytes of a DER length field.
fn len_len(len: usize) -> usize {
    match len {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        _ => 3,
    }
}

fn put_len(out: &mut [u8], at: &mut usize, len: usize) {
    match len_len(len) {
        1 => out[*at] = len as u8,
        2 => {
            out[*at] = 0x81;
            out[*at + 1] = len as u8;
        }
        _ => {
            out[*at] = 0x82;
            out[*at + 1] = (len >> 8) as u8;
            out[*at + 2] = len as u8;
        }
    }
    *at += len_len(len);
}

/// An unsigned big-endian integer without its leading zero bytes.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Length of the INTEGER's content: a zero byte first when the top bit is set.
fn int_content_len(v: &[u8]) -> usize {
    v.len() + usize::from(v.first().is_some_and(|&b| b & 0x80 != 0))
}

fn put_int(out: &mut [u8], at: &mut usize, v: &[u8]) {
    out[*at] = 0x02;
    *at += 1;
    let len = int_content_len(v);
    put_len(out, at, len);
    if len > v.len() {
        out[*at] = 0;
        *at += 1;
    }
    out[*at..*at + v.len()].copy_from_slice(v);
    *at += v.len();
}

/// Writes the DER of the key (`n`, `e` big-endian) into `out`; returns its length, or `None`
/// when `out` is too short.
pub(crate) fn encode(n: &[u8], e: &[u8], out: &mut [u8]) -> Option<usize> {
    let (n, e) = (trim(n), trim(e));
    let tlv = |content: usize| 1 + len_len(content) + content;
    let inner = tlv(int_content_len(n)) + tlv(int_content_len(e));
    let rsa_key = tlv(inner);
    let bit_string = tlv(1 + rsa_key);
    let total = tlv(ALGORITHM.len() + bit_string);
    if total > out.len() {
        return None;
    }
    let mut at = 0;
    out[at] = 0x30;
    at += 1;
    put_len(out, &mut at, ALGORITHM.len() + bit_string);
    out[at..at + ALGORITHM.len()].copy_from_slice(&ALGORITHM);
    at += ALGORITHM.len();
    out[at] = 0x03;
    at += 1;
    put_len(out, &mut at, 1 + rsa_key);
    out[at] = 0; // no unused bits
    at += 1;
    out[at] = 0x30;
    at += 1;
    put_len(out, &mut at, inner);
    put_int(out, &mut at, n);
    put_int(out, &mut at, e);
    debug_assert_eq!(at, total);
    Some(total)
}

/// Reads one TLV with tag `tag` at `der[*at..]`; returns its content.
fn take<'a>(der: &'a [u8], at: &mut usize, tag: u8) -> Option<&'a [u8]> {
    if *der.get(*at)? != tag {
        return None;
    }
    let first = *der.get(*at + 1)?;
    let (len, header) = match first {
        0..=0x7f => (usize::from(first), 2),
        0x81 => (usize::from(*der.get(*at + 2)?), 3),
        0x82 => (
            usize::from(*der.get(*at + 2)?) << 8 | usize::from(*der.get(*at + 3)?),
            4,
        ),
        _ => return None,
    };
    let content = der.get(*at + header..*at + header + len)?;
    *at += header + len;
    Some(content)
}

/// The modulus and exponent (big-endian, no leading zeros) of a key written by [`encode`].
pub(crate) fn decode(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut at = 0;
    let spki = take(der, &mut at, 0x30)?;
    let mut at = 0;
    if take(spki, &mut at, 0x30)? != &ALGORITHM[2..] {
        return None;
    }
    let bits = take(spki, &mut at, 0x03)?;
    let (&0, rsa_key) = bits.split_first()? else {
        return None;
    };
    let mut at = 0;
    let key = take(rsa_key, &mut at, 0x30)?;
    let mut at = 0;
    let n = take(key, &mut at, 0x02)?;
    let e = take(key, &mut at, 0x02)?;
    Some((trim(n), trim(e)))
}

/// One element of any tag at `der[*at..]`: its whole encoding (header and content); moves `at`
/// past it. Lengths up to 0xffff (a certificate's outer sequence needs two length bytes).
fn element<'a>(der: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let start = *at;
    let tag = *der.get(start)?;
    take(der, at, tag)?;
    der.get(start..*at)
}

/// The `SubjectPublicKeyInfo` (its whole DER encoding) of an X.509 certificate in DER
/// (RFC 5280 section 4.1: `tbsCertificate` = optional `[0]` version, serial, signature
/// algorithm, issuer, validity, subject, then the key).
pub(crate) fn from_certificate(cert: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    let certificate = take(cert, &mut at, 0x30)?;
    let mut at = 0;
    let tbs = take(certificate, &mut at, 0x30)?;
    let mut at = 0;
    if tbs.first() == Some(&0xa0) {
        element(tbs, &mut at)?;
    }
    for _ in 0..5 {
        element(tbs, &mut at)?;
    }
    let spki = element(tbs, &mut at)?;
    (spki.first() == Some(&0x30)).then_some(spki)
}

/// Decodes the base64 body of a PEM `CERTIFICATE` block from `pem` into `out`; returns the DER
/// length. Written here (20 lines) rather than pulling a base64 crate into the firmware image:
/// only the standard alphabet, padding and line breaks occur in a PEM body.
pub(crate) fn pem_certificate(pem: &[u8], out: &mut [u8]) -> Option<usize> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let start = pem.windows(BEGIN.len()).position(|w| w == BEGIN)? + BEGIN.len();
    let end = start + pem[start..].windows(END.len()).position(|w| w == END)?;
    let (mut acc, mut bits, mut len) = (0u32, 0u32, 0usize);
    for &c in &pem[start..end] {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\r' | b'\n' | b' ' | b'\t' => continue,
            _ => return None,
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(len)? = (acc >> bits) as u8;
            len += 1;
        }
    }
    Some(len)
}
