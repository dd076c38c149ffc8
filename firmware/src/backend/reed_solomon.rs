//! The Reed–Solomon check bytes of an ESP32-C3/C6 eFuse key block: RS(44, 32) over GF(2⁸) with
//! the primitive polynomial 0x11D, generator 2 and first root α⁰, 12 check bytes after the 32
//! data bytes. The eFuse controller does not compute them: software writes them to
//! `EFUSE_PGM_CHECK_VALUE0..2` with the data (ESP-IDF `esp_efuse_utility_rs_calculate`,
//! espefuse's `reedsolo.RSCodec(12)`), and the controller corrects read errors with them.
//!
//! Hand-written (about thirty lines) because the Rust Reed–Solomon crates target other codes
//! (GF(2¹⁶), erasure coding) or need `alloc`.

/// `exp[i] = α^i` for `i` in 0..510 (doubled so products need no modulo), `log[α^i] = i`.
const TABLES: ([u8; 512], [u8; 256]) = tables();

const fn tables() -> ([u8; 512], [u8; 256]) {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11d;
        }
        i += 1;
    }
    while i < 512 {
        exp[i] = exp[i - 255];
        i += 1;
    }
    (exp, log)
}

const fn gf_mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        TABLES.0[TABLES.1[a as usize] as usize + TABLES.1[b as usize] as usize]
    }
}

/// The generator polynomial ∏ (x − αⁱ) for i in 0..12, highest degree first.
const GENERATOR: [u8; 13] = generator();

const fn generator() -> [u8; 13] {
    let mut g = [0u8; 13];
    g[0] = 1;
    let mut len = 1;
    let mut i = 0;
    while i < 12 {
        // g = g * (x + α^i); in GF(2⁸) subtraction is addition.
        let root = TABLES.0[i];
        let mut next = [0u8; 13];
        let mut j = 0;
        while j < len {
            next[j] ^= g[j];
            next[j + 1] ^= gf_mul(g[j], root);
            j += 1;
        }
        g = next;
        len += 1;
        i += 1;
    }
    g
}

/// The 12 check bytes of a key block's 32 data bytes (the block's words little-endian, word 0
/// first, as they go into `EFUSE_PGM_DATA0..7`).
pub fn check_bytes(data: &[u8; 32]) -> [u8; 12] {
    // The remainder of data(x) · x¹² divided by the generator, by long division.
    let mut work = [0u8; 44];
    work[..32].copy_from_slice(data);
    for i in 0..32 {
        let coef = work[i];
        if coef != 0 {
            for (j, &g) in GENERATOR.iter().enumerate().skip(1) {
                work[i + j] ^= gf_mul(g, coef);
            }
        }
    }
    let mut out = [0u8; 12];
    out.copy_from_slice(&work[32..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from Python's `reedsolo` 1.7.0 (the library espefuse uses),
    /// `reedsolo.RSCodec(12).encode(data)[32:]`.
    #[test]
    fn check_bytes_match_reedsolo() {
        let counting: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            check_bytes(&counting),
            [0xa0, 0x4c, 0x47, 0x0d, 0x3f, 0xfc, 0xb2, 0x03, 0xda, 0xe9, 0xf4, 0x13]
        );
        assert_eq!(
            check_bytes(&[0xff; 32]),
            [0x13, 0xa3, 0x62, 0x92, 0x59, 0x74, 0x04, 0x25, 0x73, 0x75, 0xe0, 0xaa]
        );
        assert_eq!(check_bytes(&[0; 32]), [0; 12]);
    }

    /// The code's defining property: every one of the 44-byte codeword's 12 syndromes
    /// (its value at α⁰..α¹¹) is zero.
    #[test]
    fn codewords_have_zero_syndromes() {
        let data: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
        let mut word = [0u8; 44];
        word[..32].copy_from_slice(&data);
        word[32..].copy_from_slice(&check_bytes(&data));
        for i in 0..12 {
            let root = TABLES.0[i];
            let value = word.iter().fold(0u8, |acc, &c| gf_mul(acc, root) ^ c);
            assert_eq!(value, 0, "syndrome {i}");
        }
    }
}
