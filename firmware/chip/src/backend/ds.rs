//! The Digital Signature peripheral with its key from the HMAC peripheral: HMAC in downstream
//! mode derives the DS key from an eFuse key block of purpose `HMAC_DOWN_DIGITAL_SIGNATURE`, then
//! the DS block decrypts the parameter block, checks it and computes `X ^ Y mod M`.
//!
//! Read against ESP-IDF's `components/esp_hal_security/hmac_hal.c` (`hmac_hal_start`,
//! `hmac_hal_configure`, `hmac_hal_clean`), `esp32c3/include/hal/hmac_ll.h`, `ds_hal.c`,
//! `esp32c3/include/hal/ds_ll.h` and the sequence of `test_apps/crypto/main/ds/test_ds.c`
//! (`esp_ds_start_sign` / `esp_ds_finish_sign` on the HAL); `esp_security/src/esp_ds.c` does the
//! same through ROM functions. esp-hal's `hmac` driver only serves the upstream (user) mode, so
//! the downstream sequence is written here on the PAC's registers.
use esp_hal::peripherals::{DS, HMAC};
use ucrypto_firmware::backend::key_hardware::{DsBlock, DsError};

/// `EFUSE_KEY_PURPOSE_HMAC_DOWN_DIGITAL_SIGNATURE` (`hmac_ll.h`).
const PURPOSE_DS: u8 = 7;

/// Bytes of each of `Y`, `M` and `Rb` in the ciphertext: the chip's largest modulus, 3072 bits
/// (`SOC_DS_SIGNATURE_MAX_BIT_LEN`), although the peripheral's memories hold 4096 bits.
const NUM_BYTES: usize = 384;
/// The rest of the ciphertext: `MD`, `M'`, `L` and the padding, into `DS_C_BOX_MEM`.
const BOX_BYTES: usize = 48;

/// The DS block's clock on and its reset released (`ds_ll_enable_bus_clock`; esp-hal has no DS
/// driver to do it). Unlike ESP-IDF's `ds_ll_reset_register` the reset is not pulsed: on the C3
/// the DS reset also holds the AES, SHA and RSA blocks (ESP-IDF's C3 `aes_ll.h`, `sha_ll.h` and
/// `mpi_ll.h` release it with each of them), which esp-hal's drivers own and have configured.
/// The register is shared with those blocks, so it is changed in a critical section.
pub fn enable_clock() {
    critical_section::with(|_| {
        #[cfg(feature = "esp32c3")]
        {
            let system = esp_hal::peripherals::SYSTEM::regs();
            system
                .perip_clk_en1()
                .modify(|_, w| w.crypto_ds_clk_en().set_bit());
            system
                .perip_rst_en1()
                .modify(|_, w| w.crypto_ds_rst().clear_bit());
        }
        #[cfg(feature = "esp32c6")]
        {
            let pcr = esp_hal::peripherals::PCR::regs();
            pcr.ds_conf()
                .modify(|_, w| w.ds_clk_en().set_bit().ds_rst_en().clear_bit());
        }
    });
}

fn hmac_wait_idle() {
    while HMAC::regs().query_busy().read().bits() != 0 {}
}

fn ds_wait_idle() {
    while DS::regs().query_busy().read().bits() != 0 {}
}

/// Words of `bytes`, little-endian (the DS memories take the block's bytes in order).
fn words(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Signs `message` (`L + 1` little-endian words) with the DS key of `KEY<slot>`.
pub fn sign(slot: u8, block: &DsBlock, message: &[u32], out: &mut [u32]) -> Result<(), DsError> {
    let len = block.rsa_length as usize + 1;
    let c = block.ciphertext();
    if slot > 5
        || c.len() != 3 * NUM_BYTES + BOX_BYTES
        || len * 4 > NUM_BYTES
        || message.len() != len
        || out.len() != len
    {
        return Err(DsError::Hardware);
    }
    let hmac = HMAC::regs();
    let ds = DS::regs();

    // hmac_hal_start, hmac_hal_configure(HMAC_OUTPUT_DS, slot).
    hmac_wait_idle();
    hmac.set_start().write(|w| unsafe { w.bits(1) });
    hmac_wait_idle();
    hmac.set_para_purpose()
        .write(|w| unsafe { w.bits(u32::from(PURPOSE_DS)) });
    hmac.set_para_key()
        .write(|w| unsafe { w.bits(u32::from(slot)) });
    hmac.set_para_finish().write(|w| unsafe { w.bits(1) });
    hmac_wait_idle();
    if hmac.query_error().read().bits() != 0 {
        // hmac_ll_calc_finish: end the configuration the HMAC block refused.
        hmac.set_result_finish().write(|w| unsafe { w.bits(2) });
        return Err(DsError::InvalidKey);
    }
    hmac_wait_idle();

    // ds_hal_start: the DS block takes the key from the HMAC block.
    ds.set_start().write(|w| unsafe { w.bits(1) });
    ds_wait_idle();
    if ds.query_key_wrong().read().bits() != 0 {
        finish();
        return Err(DsError::InvalidKey);
    }

    // ds_ll_write_private_key_params: Y, M, Rb at the chip's largest size, then the box.
    let (y, rest) = c.split_at(NUM_BYTES);
    let (m, rest) = rest.split_at(NUM_BYTES);
    let (rb, boxed) = rest.split_at(NUM_BYTES);
    for (i, w) in words(y).enumerate() {
        ds.y_mem(i).write(|r| unsafe { r.bits(w) });
    }
    for (i, w) in words(m).enumerate() {
        ds.m_mem(i).write(|r| unsafe { r.bits(w) });
    }
    for (i, w) in words(rb).enumerate() {
        ds.rb_mem(i).write(|r| unsafe { r.bits(w) });
    }
    for (i, w) in words(boxed).enumerate() {
        ds.box_mem(i).write(|r| unsafe { r.bits(w) });
    }
    for (i, w) in words(&block.iv).enumerate() {
        ds.iv_mem(i).write(|r| unsafe { r.bits(w) });
    }
    for (i, &w) in message.iter().enumerate() {
        ds.x_mem(i).write(|r| unsafe { r.bits(w) });
    }

    // ds_ll_start_sign (DS_SET_CONTINUE, named SET_ME in ESP-IDF), then wait.
    ds.set_continue().write(|w| unsafe { w.bits(1) });
    ds_wait_idle();

    // ds_hal_read_result: Z only when MD matched (padding failures still produce Z on silicon,
    // but the engine discards them).
    let check = ds.query_check().read();
    let result = if check.md_error().bit_is_set() {
        Err(DsError::Digest)
    } else if check.padding_bad().bit_is_set() {
        Err(DsError::Padding)
    } else {
        for (i, o) in out.iter_mut().enumerate() {
            *o = ds.z_mem(i).read().bits();
        }
        Ok(())
    };
    finish();
    result
}

/// hmac_hal_clean then ds_hal_finish: the HMAC block forgets the DS key and the DS block clears
/// its memories.
fn finish() {
    let hmac = HMAC::regs();
    hmac_wait_idle();
    hmac.set_invalidate_ds().write(|w| unsafe { w.bits(1) });
    hmac.set_invalidate_jtag().write(|w| unsafe { w.bits(1) });
    DS::regs().set_finish().write(|w| unsafe { w.bits(1) });
    ds_wait_idle();
}
