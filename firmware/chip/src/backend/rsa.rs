//! RSA operations on the accelerator: `base^exponent mod M` and `a*b mod M` over little-endian
//! `u32` words, with the Montgomery constants (`R^2 mod M`, `M'`) the engine computed.
//!
//! The accelerator runs in constant time: its `CONSTANT_TIME` register keeps the reset value 1
//! ("without acceleration") and `SEARCH_ENABLE` stays 0, so the time of an exponentiation does not
//! depend on the exponent's bits or length. ESP-IDF clears the first and sets the second for
//! speed, which lets timing reveal a private exponent; we do not trade the key for milliseconds.
//! Both registers are set at start-up and read back before every operation.
use esp_hal::{
    peripherals::RSA,
    rsa::{operand_sizes::*, Rsa, RsaMode, RsaModularExponentiation, RsaModularMultiplication},
    Blocking,
};
use ucrypto_firmware::backend::Modulus;
use ucrypto_firmware::BackendError;

/// Calls `$f::<OpN, N>` for the operand length in words: esp-hal types each operand size. Every
/// length from 512 to 3072 bits in 32-bit steps (the block's step), which covers 1024- to
/// 3072-bit moduli and the halves of their CRT keys; other lengths are `Unsupported`. A pair whose
/// type does not hold that many words does not compile (`InputType = [u32; N]`).
macro_rules! by_length {
    ($len:expr, $f:ident $args:tt) => {
        by_length!(@arms $len, $f $args, [
        16 => Op512, 17 => Op544, 18 => Op576, 19 => Op608,
        20 => Op640, 21 => Op672, 22 => Op704, 23 => Op736,
        24 => Op768, 25 => Op800, 26 => Op832, 27 => Op864,
        28 => Op896, 29 => Op928, 30 => Op960, 31 => Op992,
        32 => Op1024, 33 => Op1056, 34 => Op1088, 35 => Op1120,
        36 => Op1152, 37 => Op1184, 38 => Op1216, 39 => Op1248,
        40 => Op1280, 41 => Op1312, 42 => Op1344, 43 => Op1376,
        44 => Op1408, 45 => Op1440, 46 => Op1472, 47 => Op1504,
        48 => Op1536, 49 => Op1568, 50 => Op1600, 51 => Op1632,
        52 => Op1664, 53 => Op1696, 54 => Op1728, 55 => Op1760,
        56 => Op1792, 57 => Op1824, 58 => Op1856, 59 => Op1888,
        60 => Op1920, 61 => Op1952, 62 => Op1984, 63 => Op2016,
        64 => Op2048, 65 => Op2080, 66 => Op2112, 67 => Op2144,
        68 => Op2176, 69 => Op2208, 70 => Op2240, 71 => Op2272,
        72 => Op2304, 73 => Op2336, 74 => Op2368, 75 => Op2400,
        76 => Op2432, 77 => Op2464, 78 => Op2496, 79 => Op2528,
        80 => Op2560, 81 => Op2592, 82 => Op2624, 83 => Op2656,
        84 => Op2688, 85 => Op2720, 86 => Op2752, 87 => Op2784,
        88 => Op2816, 89 => Op2848, 90 => Op2880, 91 => Op2912,
        92 => Op2944, 93 => Op2976, 94 => Op3008, 95 => Op3040,
        96 => Op3072
        ])
    };
    (@arms $len:expr, $f:ident $args:tt, [$($words:literal => $op:ident),*]) => {
        match $len {
            $($words => $f::<$op, $words> $args,)*
            _ => Err(BackendError::Unsupported),
        }
    };
}

/// Takes the RSA block and sets its timing options.
pub(super) fn start(rsa: RSA<'static>) -> Rsa<'static, Blocking> {
    let mut rsa = Rsa::new(rsa);
    rsa.search_acceleration(false);
    // esp-hal writes its argument to CONSTANT_TIME, where 1 means "without acceleration":
    // `disable_constant_time(true)` is what keeps the operation constant-time.
    rsa.disable_constant_time(true);
    rsa
}

/// Whether the block is in constant-time mode with exponent search off.
fn constant_time() -> bool {
    let regs = RSA::regs();
    regs.constant_time().read().constant_time().bit_is_set()
        && regs.search_enable().read().search_enable().bit_is_clear()
}

pub(super) fn mod_exp(
    rsa: &mut Rsa<'static, Blocking>,
    base: &[u32],
    exponent: &[u32],
    modulus: &Modulus<'_>,
    out: &mut [u32],
) -> Result<(), BackendError> {
    if !constant_time() {
        return Err(BackendError::Hardware);
    }
    by_length!(modulus.words.len(), exp(rsa, base, exponent, modulus, out))
}

pub(super) fn mod_mul(
    rsa: &mut Rsa<'static, Blocking>,
    a: &[u32],
    b: &[u32],
    modulus: &Modulus<'_>,
    out: &mut [u32],
) -> Result<(), BackendError> {
    if !constant_time() {
        return Err(BackendError::Hardware);
    }
    by_length!(modulus.words.len(), mul(rsa, a, b, modulus, out))
}

/// `words` as the fixed-size array esp-hal takes; `Unsupported` if its length is not `N`.
fn fixed<const N: usize>(words: &[u32]) -> Result<&[u32; N], BackendError> {
    words.try_into().map_err(|_| BackendError::Unsupported)
}

fn exp<T, const N: usize>(
    rsa: &mut Rsa<'static, Blocking>,
    base: &[u32],
    exponent: &[u32],
    modulus: &Modulus<'_>,
    out: &mut [u32],
) -> Result<(), BackendError>
where
    T: RsaMode<InputType = [u32; N]>,
{
    // Every length is checked before the first operand reaches the block, so an error never
    // leaves a private exponent in its memory.
    let (base, exponent) = (fixed(base)?, fixed(exponent)?);
    let (m, r) = (fixed(modulus.words)?, fixed(modulus.r_squared)?);
    let out: &mut [u32; N] = out.try_into().map_err(|_| BackendError::Unsupported)?;
    let mut op = RsaModularExponentiation::<T, Blocking>::new(rsa, exponent, m, modulus.m_prime);
    op.start_exponentiation(base, r);
    // Waits for the block, reads Z, then (esp-hal's `clear-crypto-secrets`, on by default)
    // zeroes the X, Y, Z and M memories.
    op.read_results(out);
    Ok(())
}

fn mul<T, const N: usize>(
    rsa: &mut Rsa<'static, Blocking>,
    a: &[u32],
    b: &[u32],
    modulus: &Modulus<'_>,
    out: &mut [u32],
) -> Result<(), BackendError>
where
    T: RsaMode<InputType = [u32; N]>,
{
    let (a, b) = (fixed(a)?, fixed(b)?);
    let (m, r) = (fixed(modulus.words)?, fixed(modulus.r_squared)?);
    let out: &mut [u32; N] = out.try_into().map_err(|_| BackendError::Unsupported)?;
    let mut op = RsaModularMultiplication::<T, Blocking>::new(rsa, a, m, r, modulus.m_prime);
    op.start_modular_multiplication(b);
    op.read_results(out);
    Ok(())
}
