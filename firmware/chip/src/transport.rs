//! The two serial ports the protocol is served on, as polled [`Port`]s that never wait: UART0 at
//! 115200 8N1 on the pins a devkit's USB-UART bridge uses, and the USB-Serial-JTAG port.
//!
//! UART0's receive FIFO holds 128 bytes (11 ms at 115200 baud), less than an RSA signature takes,
//! so an interrupt moves received bytes into [`UART_RX_BUFFER`] bytes of RAM. The USB port needs
//! none: its host waits (USB flow control) while the FIFO is full.
use core::cell::RefCell;

use critical_section::Mutex;
use esp_hal::{
    gpio::interconnect::{PeripheralInput, PeripheralOutput},
    handler,
    peripherals::{UART0, USB_DEVICE},
    uart::{Config, RxConfig, Uart, UartInterrupt},
    usb::usb_serial_jtag::UsbSerialJtag,
    Blocking,
};
use ucrypto_firmware::link::{ByteRing, Port};
use ucrypto_firmware::PortId;
use zeroize::Zeroize;

/// UART0's line speed (8 data bits, no parity, 1 stop bit).
pub const UART_BAUD: u32 = 115_200;

/// Received UART bytes kept while the main loop is busy: four full frames, 1.4 s of line time,
/// so a host may have about that much in flight towards a UART-connected device.
pub const UART_RX_BUFFER: usize = 16 * 1024;

/// FIFO level that raises the receive interrupt: half the FIFO, leaving 5 ms to take the bytes.
const UART_RX_THRESHOLD: u16 = 64;

/// The UART driver, shared by the main loop and the receive interrupt.
static UART: Mutex<RefCell<Option<Uart<'static, Blocking>>>> = Mutex::new(RefCell::new(None));

/// What the receive interrupt has taken from the FIFO.
static UART_RX: Mutex<RefCell<ByteRing<UART_RX_BUFFER>>> =
    Mutex::new(RefCell::new(ByteRing::new()));

/// UART0 as a [`Port`]; the driver itself lives in [`UART`].
pub struct UartPort;

impl UartPort {
    /// Configures UART0 (115200 8N1) on `tx`/`rx` and starts its receive interrupt.
    pub fn new(
        uart0: UART0<'static>,
        tx: impl PeripheralOutput<'static>,
        rx: impl PeripheralInput<'static>,
    ) -> Self {
        let config = Config::default()
            .with_baudrate(UART_BAUD)
            .with_rx(RxConfig::default().with_fifo_full_threshold(UART_RX_THRESHOLD));
        // The default configuration is valid on every chip; a failure is a build mistake.
        let Ok(uart) = Uart::new(uart0, config) else {
            esp_hal::system::software_reset()
        };
        let mut uart = uart.with_tx(tx).with_rx(rx);
        uart.set_interrupt_handler(uart0_received);
        critical_section::with(|cs| {
            uart.listen(UartInterrupt::RxFifoFull);
            UART.borrow_ref_mut(cs).replace(uart);
        });
        UartPort
    }
}

/// Moves everything in the receive FIFO into the buffer. Always empties the FIFO, dropping what
/// does not fit (the host sent far ahead of the answers), so that the FIFO-full interrupt cannot
/// fire again at once and starve the main loop. Dropped or damaged bytes cost the frames they
/// belong to, which fail their CRC; the host's retry or timeout handles them.
fn drain_fifo(uart: &mut Uart<'static, Blocking>, rx: &mut ByteRing<UART_RX_BUFFER>) {
    let mut chunk = [0u8; 128];
    // A FIFO holds 128 bytes; a few rounds also cover bytes arriving meanwhile and one error
    // (esp-hal clears a reported error, and resets the FIFO after an overflow).
    for _ in 0..4 {
        match uart.read_buffered(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                rx.push(&chunk[..n]);
            }
            Err(_) => {}
        }
    }
    // The bytes may be parts of a key: only the ring (which wipes what it hands out) keeps them.
    chunk.zeroize();
}

#[handler]
fn uart0_received() {
    critical_section::with(|cs| {
        if let Some(uart) = UART.borrow_ref_mut(cs).as_mut() {
            drain_fifo(uart, &mut UART_RX.borrow_ref_mut(cs));
            uart.clear_interrupts(UartInterrupt::RxFifoFull.into());
        }
    });
}

impl Port for UartPort {
    fn read(&mut self, buf: &mut [u8]) -> usize {
        critical_section::with(|cs| {
            let mut rx = UART_RX.borrow_ref_mut(cs);
            // Bytes below the interrupt threshold are still in the FIFO.
            if let Some(uart) = UART.borrow_ref_mut(cs).as_mut() {
                drain_fifo(uart, &mut rx);
            }
            rx.pop(buf)
        })
    }

    fn id(&self) -> PortId {
        PortId::UART0
    }

    fn write(&mut self, data: &[u8]) -> usize {
        critical_section::with(|cs| match UART.borrow_ref_mut(cs).as_mut() {
            // `write` would wait for room in the FIFO; it is only called when there is some.
            Some(uart) if uart.write_ready() => uart.write(data).unwrap_or(0),
            _ => 0,
        })
    }
}

/// The USB-Serial-JTAG port (the chip's own USB connector) as a [`Port`].
pub struct UsbPort {
    usb: UsbSerialJtag<'static, Blocking>,
}

impl UsbPort {
    pub fn new(usb_device: USB_DEVICE<'static>) -> Self {
        Self {
            usb: UsbSerialJtag::new(usb_device),
        }
    }
}

impl Port for UsbPort {
    fn id(&self) -> PortId {
        PortId::USB_SERIAL_JTAG
    }

    fn read(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            match self.usb.read_byte() {
                Ok(byte) => {
                    buf[n] = byte;
                    n += 1;
                }
                Err(_) => break,
            }
        }
        n
    }

    /// Fills the 64-byte IN FIFO as far as it has room and hands it to the USB host. Never
    /// waits: esp-hal's blocking `write` spins forever when no host reads the port (a board
    /// powered through its UART bridge), which would freeze UART0 too.
    fn write(&mut self, data: &[u8]) -> usize {
        let mut n = 0;
        for &byte in data {
            if self.usb.write_byte_nb(byte).is_err() {
                break;
            }
            n += 1;
        }
        if n > 0 {
            // Marks the bytes as a packet ready for the host; `WouldBlock` only means the host
            // has not taken an earlier one yet.
            let _ = self.usb.flush_tx_nb();
        }
        n
    }
}
