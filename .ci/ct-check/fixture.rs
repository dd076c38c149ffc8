//! Functions compiled for RISC-V by test_ct_check.py to show that .ci/ct-check.py tells
//! constant-time code from code that branches on data in a real compiler's output. Not linked
//! into anything.
#![no_std]

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

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
