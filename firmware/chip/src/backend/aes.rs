//! One AES block on the accelerator. The ESP32-C3/C6 block does 128- and 256-bit keys; a 192-bit
//! key is `Unsupported` here and the engine runs it in software (as `Hello` reports).
use esp_hal::aes::Aes;
use ucrypto_firmware::backend::AesKey;
use ucrypto_firmware::BackendError;
use zeroize::Zeroize;

pub(super) fn encrypt_block(
    aes: &mut Aes<'static>,
    key: &AesKey,
    block: &mut [u8; 16],
) -> Result<(), BackendError> {
    process(aes, key, block, Aes::encrypt)
}

pub(super) fn decrypt_block(
    aes: &mut Aes<'static>,
    key: &AesKey,
    block: &mut [u8; 16],
) -> Result<(), BackendError> {
    process(aes, key, block, Aes::decrypt)
}

/// esp-hal takes the key by value (as its `Key`, which wipes itself when dropped) and clears the
/// key registers after the block (`clear-crypto-secrets`, on by default); the copy made here is
/// wiped too.
fn process(
    aes: &mut Aes<'static>,
    key: &AesKey,
    block: &mut [u8; 16],
    run: fn(&mut Aes<'static>, &mut [u8; 16], esp_hal::aes::Key),
) -> Result<(), BackendError> {
    match key {
        AesKey::Aes128(bytes) => {
            let mut copy = *bytes;
            run(aes, block, copy.into());
            copy.zeroize();
        }
        AesKey::Aes256(bytes) => {
            let mut copy = *bytes;
            run(aes, block, copy.into());
            copy.zeroize();
        }
        AesKey::Aes192(_) => return Err(BackendError::Unsupported),
    }
    Ok(())
}
