//! Functions compiled and linked for RISC-V by test_ct_check.py to show that .ci/ct-check.py
//! tells constant-time code from code that branches on data, divides it, or indexes memory with
//! it, in a real compiler's output, and follows calls. Not part of the firmware.
#![no_std]
#![no_main]

/// Constant time: a mask blend through an opaque mask (as `subtle` does); only the loop branches.
#[no_mangle]
#[inline(never)]
pub fn ct_fixture_select(a: &mut [u32], b: &[u32], choice: u8) {
    let mask = 0u32.wrapping_sub(u32::from(core::hint::black_box(choice)));
    for (x, &y) in a.iter_mut().zip(b) {
        *x ^= mask & (*x ^ y);
    }
}

/// Branches on the secret argument (`choice`, in a4).
#[no_mangle]
#[inline(never)]
pub fn ct_fixture_branchy_select(a: &mut [u32], b: &[u32], choice: u8) {
    for (x, &y) in a.iter_mut().zip(b) {
        if choice != 0 {
            *x = y;
        }
    }
}

/// Branches on loaded data: stops at the first non-zero word.
#[no_mangle]
#[inline(never)]
pub fn ct_fixture_first_nonzero(a: &[u32]) -> usize {
    a.iter().position(|&w| w != 0).unwrap_or(a.len())
}

/// Calls a function that branches on loaded data: clean itself, fails through its callee.
#[no_mangle]
#[inline(never)]
pub fn ct_fixture_calls_branchy(a: &[u32]) -> usize {
    ct_fixture_first_nonzero(a).wrapping_add(1)
}

/// `%` on a secret `u64`: a call to the `__umoddi3` helper on the 32-bit target.
#[no_mangle]
#[inline(never)]
pub fn ct_fixture_u64_remainder(a: &[u64], m: u64) -> u64 {
    a.first().map_or(0, |&x| x % core::hint::black_box(m | 1))
}

/// `/` on a secret `u32`: a division instruction with a secret operand.
#[no_mangle]
#[inline(never)]
pub fn ct_fixture_divide(a: &[u32], d: u32) -> u32 {
    a.first().map_or(0, |&x| x / core::hint::black_box(d | 1))
}

/// A table look-up at a secret index.
#[no_mangle]
#[inline(never)]
pub fn ct_fixture_table(a: &[u8], table: &[u8; 256]) -> u8 {
    a.first().map_or(0, |&x| table[usize::from(x)])
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
