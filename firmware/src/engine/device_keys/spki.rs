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
