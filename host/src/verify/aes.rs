//! The host's own AES (RustCrypto), run over the same stream as the device: every chunk the device
//! returns must equal what this computes, or nothing is output.
use aes::cipher::consts::{U1, U16};
use aes::cipher::inout::InOutBuf;
use aes::cipher::{
    BlockCipher, BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, BlockSizeUser,
    InnerIvInit, KeyInit, StreamCipher,
};
use ucrypto_protocol::{AesDirection, AesMode};

/// AES over a stream fed in chunks of any size (whole blocks for ECB and CBC).
pub struct AesReference {
    stream: Box<dyn Chunks + Send>,
}

impl AesReference {
    /// `key` is 16, 24 or 32 bytes; `iv` is required for every mode but ECB.
    pub fn new(
        direction: AesDirection,
        mode: AesMode,
        key: &[u8],
        iv: Option<[u8; 16]>,
    ) -> Result<Self, String> {
        let iv = match (mode.needs_iv(), iv) {
            (true, Some(iv)) => iv,
            (false, None) => [0; 16],
            (true, None) => return Err(format!("{mode:?} needs an IV")),
            (false, Some(_)) => return Err("ECB takes no IV".into()),
        };
        let stream: Box<dyn Chunks + Send> = match key.len() {
            16 => Box::new(Stream::<aes::Aes128>::new(direction, mode, key, &iv)),
            24 => Box::new(Stream::<aes::Aes192>::new(direction, mode, key, &iv)),
            32 => Box::new(Stream::<aes::Aes256>::new(direction, mode, key, &iv)),
            n => return Err(format!("a {n}-byte key is not an AES key")),
        };
        Ok(Self { stream })
    }

    /// Turns the next chunk of input into its output, in place.
    pub fn apply(&mut self, chunk: &mut [u8]) {
        self.stream.apply(chunk);
    }
}

trait Chunks {
    fn apply(&mut self, chunk: &mut [u8]);
}

/// Each mode's RustCrypto state, kept from chunk to chunk (the aes keys wipe themselves on drop).
enum Stream<C: BlockEncrypt + BlockDecrypt + BlockCipher + BlockSizeUser<BlockSize = U16>> {
    EcbEncrypt(C),
    EcbDecrypt(C),
    CbcEncrypt(cbc::Encryptor<C>),
    CbcDecrypt(cbc::Decryptor<C>),
    Cfb8Encrypt(cfb8::Encryptor<C>),
    Cfb8Decrypt(cfb8::Decryptor<C>),
    Cfb128Encrypt(cfb_mode::BufEncryptor<C>),
    Cfb128Decrypt(cfb_mode::BufDecryptor<C>),
    Ctr(ctr::Ctr128BE<C>),
}

impl<C> Stream<C>
where
    C: BlockEncrypt + BlockDecrypt + BlockCipher + BlockSizeUser<BlockSize = U16> + KeyInit,
{
    fn new(direction: AesDirection, mode: AesMode, key: &[u8], iv: &[u8; 16]) -> Self {
        let cipher = C::new_from_slice(key).expect("the key length was checked");
        let iv = iv.into();
        let encrypt = direction == AesDirection::Encrypt;
        match (mode, encrypt) {
            (AesMode::Ecb, true) => Stream::EcbEncrypt(cipher),
            (AesMode::Ecb, false) => Stream::EcbDecrypt(cipher),
            (AesMode::Cbc, true) => Stream::CbcEncrypt(InnerIvInit::inner_iv_init(cipher, iv)),
            (AesMode::Cbc, false) => Stream::CbcDecrypt(InnerIvInit::inner_iv_init(cipher, iv)),
            (AesMode::Cfb8, true) => Stream::Cfb8Encrypt(InnerIvInit::inner_iv_init(cipher, iv)),
            (AesMode::Cfb8, false) => Stream::Cfb8Decrypt(InnerIvInit::inner_iv_init(cipher, iv)),
            (AesMode::Cfb128, true) => {
                Stream::Cfb128Encrypt(InnerIvInit::inner_iv_init(cipher, iv))
            }
            (AesMode::Cfb128, false) => {
                Stream::Cfb128Decrypt(InnerIvInit::inner_iv_init(cipher, iv))
            }
            (AesMode::Ctr, _) => Stream::Ctr(ctr::Ctr128BE::from_core(InnerIvInit::inner_iv_init(
                cipher, iv,
            ))),
        }
    }
}

impl<C> Chunks for Stream<C>
where
    C: BlockEncrypt + BlockDecrypt + BlockCipher + BlockSizeUser<BlockSize = U16>,
{
    fn apply(&mut self, chunk: &mut [u8]) {
        let blocks = |chunk| InOutBuf::from(chunk).into_chunks::<U16>().0;
        match self {
            Stream::EcbEncrypt(c) => c.encrypt_blocks_inout_mut(blocks(chunk)),
            Stream::EcbDecrypt(c) => c.decrypt_blocks_inout_mut(blocks(chunk)),
            Stream::CbcEncrypt(c) => c.encrypt_blocks_inout_mut(blocks(chunk)),
            Stream::CbcDecrypt(c) => c.decrypt_blocks_inout_mut(blocks(chunk)),
            Stream::Cfb8Encrypt(c) => {
                c.encrypt_blocks_inout_mut(InOutBuf::from(chunk).into_chunks::<U1>().0)
            }
            Stream::Cfb8Decrypt(c) => {
                c.decrypt_blocks_inout_mut(InOutBuf::from(chunk).into_chunks::<U1>().0)
            }
            Stream::Cfb128Encrypt(c) => c.encrypt(chunk),
            Stream::Cfb128Decrypt(c) => c.decrypt(chunk),
            Stream::Ctr(c) => c.apply_keystream(chunk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SP 800-38A F.2.1 (CBC-AES128) and F.5.1 (CTR-AES128), as printed in the standard.
    const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                         30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
    const CBC: &str = "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
                       73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7";
    const CTR: &str = "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
                       5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee";

    fn run(direction: AesDirection, mode: AesMode, iv: &str, input: &str, cut: usize) -> String {
        let key = hex::decode(KEY).unwrap();
        let iv = hex::decode(iv).unwrap().try_into().unwrap();
        let mut r = AesReference::new(direction, mode, &key, Some(iv)).unwrap();
        let mut data = hex::decode(input).unwrap();
        let (a, b) = data.split_at_mut(cut);
        r.apply(a);
        r.apply(b);
        hex::encode(data)
    }

    #[test]
    fn matches_sp800_38a_across_chunks() {
        let iv = "000102030405060708090a0b0c0d0e0f";
        let ctr = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
        for cut in [0, 16, 32, 64] {
            assert_eq!(
                run(AesDirection::Encrypt, AesMode::Cbc, iv, PLAIN, cut),
                CBC
            );
            assert_eq!(
                run(AesDirection::Decrypt, AesMode::Cbc, iv, CBC, cut),
                PLAIN
            );
        }
        for cut in [0, 1, 15, 17, 40, 63] {
            assert_eq!(
                run(AesDirection::Encrypt, AesMode::Ctr, ctr, PLAIN, cut),
                CTR
            );
            assert_eq!(
                run(AesDirection::Decrypt, AesMode::Ctr, ctr, CTR, cut),
                PLAIN
            );
        }
    }

    #[test]
    fn refuses_bad_keys_and_ivs() {
        let e = AesDirection::Encrypt;
        assert!(AesReference::new(e, AesMode::Ctr, &[0; 20], Some([0; 16])).is_err());
        assert!(AesReference::new(e, AesMode::Cbc, &[0; 16], None).is_err());
        assert!(AesReference::new(e, AesMode::Ecb, &[0; 16], Some([0; 16])).is_err());
    }
}
