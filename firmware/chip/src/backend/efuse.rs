//! The eFuse controller's register sequences for device keys: read `BLOCK0` and a key block,
//! program `BLOCK0` bits or a key block with its Reed–Solomon check bytes, reload and check.
//!
//! Read against ESP-IDF's `components/hal/esp32c3/efuse_hal.c` (and `esp32c6/efuse_hal.c`),
//! `hal/esp32c3/include/hal/efuse_ll.h` and `components/efuse/esp32c3/esp_efuse_utility.c`
//! (`esp_efuse_utility_burn_chip_opt`: one block per program command, retried up to three times
//! when the read-back differs or a coding error appears). Which bits to burn, and the check
//! bytes, come from the engine crate, where they are tested.
//!
//! The same two sequences serve the device's trust state: `read_block0` returns all six words
//! the engine reads the security bits from (`WR_DIS`, and `RD_REPEAT_DATA0..4` with
//! `DIS_USB_JTAG`, `DIS_PAD_JTAG`, `SPI_BOOT_CRYPT_CNT`, `SECURE_BOOT_EN`, `DIS_DOWNLOAD_MODE`,
//! `ENABLE_SECURITY_DOWNLOAD`, as ESP-IDF's `efuse_ll_get_*` read them from the same registers),
//! and the provisioning lock is one `program_block0` of bit 183 (`RD_REPEAT_DATA4` bit 23), as
//! `esp_efuse_write_field_bit` burns a single `BLOCK0` bit.
use esp_hal::peripherals::EFUSE;
use ucrypto_firmware::backend::key_hardware::{BLOCK0_WORDS, KEY_WORDS};
use ucrypto_firmware::backend::reed_solomon;
use ucrypto_firmware::BackendError;
use zeroize::Zeroize;

/// `EFUSE_CONF.OP_CODE` values (`efuse_ll.h`: `EFUSE_WRITE_OP_CODE`, `EFUSE_READ_OP_CODE`).
const WRITE_OP_CODE: u16 = 0x5A5A;
const READ_OP_CODE: u16 = 0x5AA5;

/// eFuse block of `KEY<slot>`: `BLOCK4..BLOCK9`.
const fn key_block(slot: u8) -> u8 {
    4 + slot
}

/// `esp_efuse_utility_burn_chip_opt` tries a block at most three times.
const BURN_ATTEMPTS: usize = 3;

/// `BLOCK0` as the controller reads it: `RD_WR_DIS` then `RD_REPEAT_DATA0..4`, six consecutive
/// registers.
pub fn read_block0() -> [u32; BLOCK0_WORDS] {
    let base = EFUSE::regs().rd_wr_dis().as_ptr() as *const u32;
    // SAFETY: RD_WR_DIS (0x2C) and RD_REPEAT_DATA0..4 (0x30..0x40) are consecutive read-only
    // registers of the eFuse block on both chips (PAC register block layout).
    core::array::from_fn(|i| unsafe { base.add(i).read_volatile() })
}

/// `KEY<slot>` as software reads it (`RD_KEY<slot>_DATA0..7`); zeros when read-protected, and
/// for a slot the chip does not have.
pub fn read_key(slot: u8) -> [u32; KEY_WORDS] {
    if slot > 5 {
        return [0; KEY_WORDS];
    }
    let base = EFUSE::regs().rd_key0_data0().as_ptr() as *const u32;
    let first = usize::from(slot) * KEY_WORDS;
    // SAFETY: RD_KEY0_DATA0..RD_KEY5_DATA7 are 48 consecutive read-only registers (PAC layout);
    // `first + 7 < 48` because `slot <= 5`.
    core::array::from_fn(|i| unsafe { base.add(first + i).read_volatile() })
}

/// Burns the one bits of `bits` into `BLOCK0` (`EFUSE_PGM_DATA0..5`; `BLOCK0` has no
/// Reed–Solomon bytes, the controller stores it with repetition coding).
pub fn program_block0(bits: &[u32; BLOCK0_WORDS]) -> Result<(), BackendError> {
    let mut data = [0u32; 8];
    data[..BLOCK0_WORDS].copy_from_slice(bits);
    burn(0, &data, [0; 3], || {
        let now = read_block0();
        now.iter().zip(bits).all(|(r, b)| r & b == *b)
    })
}

/// Burns `key` into `KEY<slot>` with the engine's Reed–Solomon check bytes
/// (`EFUSE_PGM_CHECK_VALUE0..2`). The block must not be read-protected yet: the key is read back
/// to check the burn (the engine burns the key block before the `BLOCK0` bits that protect it,
/// as ESP-IDF burns blocks from the highest to `BLOCK0`).
pub fn program_key(slot: u8, key: &[u32; KEY_WORDS]) -> Result<(), BackendError> {
    if slot > 5 {
        return Err(BackendError::Unsupported);
    }
    let mut bytes = [0u8; 32];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(key) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let mut rs = reed_solomon::check_bytes(&bytes);
    bytes.zeroize();
    let check = core::array::from_fn(|i| {
        u32::from_le_bytes([rs[4 * i], rs[4 * i + 1], rs[4 * i + 2], rs[4 * i + 3]])
    });
    rs.zeroize();
    // The program registers are cleared after each attempt (`program`); the copies here are
    // wiped as the engine wipes its own.
    let result = burn(key_block(slot), key, check, || {
        let mut now = read_key(slot);
        let same = now == *key;
        now.zeroize();
        same
    });
    let mut check = check;
    check.zeroize();
    result
}

/// One block's burn as `esp_efuse_utility_burn_chip_opt` does it: load the program registers,
/// program, reload, check coding errors and the read-back, retry.
fn burn(
    block: u8,
    data: &[u32; 8],
    check: [u32; 3],
    written: impl Fn() -> bool,
) -> Result<(), BackendError> {
    let error_before = coding_error(block);
    for _ in 0..BURN_ATTEMPTS {
        load_program_registers(data, check);
        program(block);
        // ESP-IDF reads up to five times before it concludes the block has no coding error.
        let mut error_after = false;
        for _ in 0..5 {
            reload();
            error_after = coding_error(block);
            if error_after {
                break;
            }
        }
        let new_error = error_after && !error_before;
        if written() && !new_error {
            return Ok(());
        }
    }
    Err(BackendError::Hardware)
}

/// `EFUSE_PGM_DATA0..7` and `EFUSE_PGM_CHECK_VALUE0..2`: eleven consecutive registers.
fn load_program_registers(data: &[u32; 8], check: [u32; 3]) {
    let base = EFUSE::regs().pgm_data0().as_ptr();
    for (i, word) in data.iter().chain(check.iter()).enumerate() {
        // SAFETY: PGM_DATA0..7 (0x00..0x1C) and PGM_CHECK_VALUE0..2 (0x20..0x28) are consecutive
        // write registers (PAC layout); `i < 11`.
        unsafe { base.add(i).write_volatile(*word) };
    }
}

/// `efuse_hal_set_timing`: the same values on the C3 and the C6 whatever the APB clock (ESP-IDF
/// ignores its `apb_freq_hz` argument on both).
fn set_timing() {
    let efuse = EFUSE::regs();
    efuse
        .dac_conf()
        .modify(|_, w| unsafe { w.dac_num().bits(0xFF).dac_clk_div().bits(0x28) });
    efuse
        .wr_tim_conf1()
        .modify(|_, w| unsafe { w.pwr_on_num().bits(0x3000) });
    efuse
        .wr_tim_conf2()
        .modify(|_, w| unsafe { w.pwr_off_num().bits(0x190) });
}

/// `efuse_hal_program`: write op code, program command with the block number, wait, clear the
/// program registers (`ets_efuse_clear_program_registers`), reload.
fn program(block: u8) {
    let efuse = EFUSE::regs();
    set_timing();
    efuse
        .conf()
        .modify(|_, w| unsafe { w.op_code().bits(WRITE_OP_CODE) });
    efuse
        .cmd()
        .write(|w| unsafe { w.blk_num().bits(block).pgm_cmd().set_bit() });
    while efuse.cmd().read().pgm_cmd().bit_is_set() {}
    load_program_registers(&[0; 8], [0; 3]);
    reload();
}

/// `efuse_hal_read`: the controller copies the eFuses into the read registers.
fn reload() {
    let efuse = EFUSE::regs();
    set_timing();
    efuse
        .conf()
        .modify(|_, w| unsafe { w.op_code().bits(READ_OP_CODE) });
    efuse.cmd().write(|w| w.read_cmd().set_bit());
    // Read twice: ESP-IDF notes a hardware erratum on the eFuse clock.
    while efuse.cmd().read().read_cmd().bit_is_set() {}
    while efuse.cmd().read().read_cmd().bit_is_set() {}
}

/// `efuse_hal_is_coding_error_in_block`: `BLOCK0` through `RD_REPEAT_ERR0..4`, key blocks
/// through `RD_RS_ERR0..1` (whose nibble order differs on the C3).
fn coding_error(block: u8) -> bool {
    let efuse = EFUSE::regs();
    if block == 0 {
        let base = efuse.rd_repeat_err0().as_ptr() as *const u32;
        // SAFETY: RD_REPEAT_ERR0..4 are five consecutive read-only registers (PAC layout).
        return (0..5).any(|i| unsafe { base.add(i).read_volatile() } != 0);
    }
    let rs_err = |index: u8| {
        if index == 0 {
            efuse.rd_rs_err0().read().bits()
        } else {
            efuse.rd_rs_err1().read().bits()
        }
    };
    // A nibble per block: bit 3 "fail", bits 0..2 the number of corrected bytes.
    let nibble = |reg: u32, n: u8| (reg >> (4 * u32::from(n))) & 0xf;
    if cfg!(feature = "esp32c3") {
        let fail = nibble(rs_err(block / 8), block % 8) & 0x8;
        let count = nibble(rs_err((block - 1) / 8), (block - 1) % 8) & 0x7;
        fail != 0 || count != 0
    } else {
        let b = block - 1;
        nibble(rs_err(b / 8), b % 8) & 0x8 != 0
    }
}
