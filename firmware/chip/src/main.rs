//! The ucrypto firmware for the ESP32-C3 and ESP32-C6: the engine of the virtual device, on the
//! chip's AES, SHA, RSA and TRNG blocks, served on UART0 and on USB-Serial-JTAG.
//!
//! Memory: the engine, the two links and the UART receive buffer are statics (about 48 KiB, see
//! docs/firmware.md), so the stack only holds call frames. Nothing is allocated. A panic resets the chip without printing:
//! after start-up nothing but protocol frames goes out on either port.
#![no_std]
#![no_main]

#[cfg(not(any(feature = "esp32c3", feature = "esp32c6")))]
compile_error!("enable one chip feature: esp32c3 (the default) or esp32c6");
#[cfg(all(feature = "esp32c3", feature = "esp32c6"))]
compile_error!("enable only one chip feature: build with --no-default-features for esp32c6");

use core::panic::PanicInfo;

use esp_hal::{
    clock::CpuClock,
    main,
    time::{Duration, Instant},
    timer::timg::{MwdtStage, TimerGroup},
};
use static_cell::{ConstStaticCell, StaticCell};
use ucrypto_firmware::link::Link;
use ucrypto_firmware::Engine;

mod backend;
mod transport;

use backend::{Accelerators, CryptoPeripherals};
use transport::{UartPort, UsbPort};

// The application descriptor the ESP-IDF second-stage bootloader and espflash read.
esp_bootloader_esp_idf::esp_app_desc!();

/// A watchdog bite resets the chip if the main loop stops: a hung accelerator, say. The longest
/// request without RSA steps, a 4096-bit CRT signature (two 2048-bit halves on the accelerator)
/// and its check in software, should take well under a second (not yet measured on a board). Key
/// generation runs for many seconds (about 16 s for 3072 bits, estimated in docs/keys.md), so the
/// RSA backend also feeds the watchdog after each completed operation: a hung accelerator still
/// bites.
const WATCHDOG_TIMEOUT: Duration = Duration::from_secs(10);

/// A panic resets the chip and prints nothing: the host sees a timeout or a disconnect, never a
/// wrong result and never text between frames.
#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    esp_hal::system::software_reset()
}

static ENGINE: StaticCell<Engine<Accelerators>> = StaticCell::new();
static UART_LINK: ConstStaticCell<Link> = ConstStaticCell::new(Link::new());
static USB_LINK: ConstStaticCell<Link> = ConstStaticCell::new(Link::new());

fn now_ms() -> u64 {
    Instant::now().duration_since_epoch().as_millis()
}

#[main]
fn main() -> ! {
    let p = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));

    let mut watchdog = TimerGroup::new(p.TIMG0).wdt;
    watchdog.set_timeout(MwdtStage::Stage0, WATCHDOG_TIMEOUT);
    watchdog.enable();

    // The ports first: bytes sent during the self-tests wait in the UART's buffer (and in the
    // USB host). The pins are the ones the devkits wire to their USB-UART bridge.
    #[cfg(feature = "esp32c3")]
    let (tx, rx) = (p.GPIO21, p.GPIO20);
    #[cfg(feature = "esp32c6")]
    let (tx, rx) = (p.GPIO16, p.GPIO17);
    let mut uart = UartPort::new(p.UART0, tx, rx);
    let mut usb = UsbPort::new(p.USB_DEVICE);

    let mut accelerators = Accelerators::new(CryptoPeripherals {
        rng: p.RNG,
        adc1: p.ADC1,
        aes: p.AES,
        sha: p.SHA,
        rsa: p.RSA,
        hmac: p.HMAC,
        flash: p.FLASH,
        watchdog,
    });
    // Runs the start-up known-answer tests; `Hello` reports them and a failed block is refused.
    let app_sha256 = accelerators.app_image_digest();
    let engine = ENGINE.init_with(|| Engine::new(accelerators));
    // `Hello` names the image that runs, so a station can leave a board that runs its image.
    engine.set_app_sha256(app_sha256);
    let uart_link = UART_LINK.take();
    let usb_link = USB_LINK.take();

    loop {
        engine.tick(now_ms());
        uart_link.poll(&mut uart, engine, now_ms);
        // `SetBaud` (or its fallback) takes effect once the answer before it is out.
        if engine.line_baud() != uart.baud() && !uart_link.is_sending() {
            uart.set_baud(engine.line_baud());
        }
        usb_link.poll(&mut usb, engine, now_ms);
        engine.backend_mut().feed_watchdog();
    }
}
