//! Finding the device: serial ports with their USB ids, and auto-detection of the one board.
use serde::Serialize;
use serialport::SerialPortType;

use crate::error::TransportError;

/// USB ids of the ports an ESP32 board shows up as.
pub const KNOWN_USB_IDS: [(u16, u16, &str); 4] = [
    (0x303a, 0x1001, "Espressif USB-Serial-JTAG"),
    (0x10c4, 0xea60, "Silicon Labs CP210x"),
    (0x1a86, 0x7523, "WCH CH340"),
    (0x0403, 0x6001, "FTDI FT232"),
];

#[derive(Debug, Clone, Serialize)]
pub struct PortInfo {
    pub path: String,
    /// `303a:1001`, or empty for a port that is not USB.
    pub usb_id: String,
    pub product: Option<String>,
    pub manufacturer: Option<String>,
    pub serial_number: Option<String>,
    /// A VID:PID an ESP32 board uses.
    pub known: bool,
}

/// Every serial port the system lists.
pub fn list() -> Vec<PortInfo> {
    let ports = serialport::available_ports().unwrap_or_default();
    let mut out: Vec<PortInfo> = ports
        .into_iter()
        .map(|p| match p.port_type {
            SerialPortType::UsbPort(usb) => PortInfo {
                path: p.port_name,
                usb_id: format!("{:04x}:{:04x}", usb.vid, usb.pid),
                known: KNOWN_USB_IDS
                    .iter()
                    .any(|(vid, pid, _)| (*vid, *pid) == (usb.vid, usb.pid)),
                product: usb.product,
                manufacturer: usb.manufacturer,
                serial_number: usb.serial_number,
            },
            _ => PortInfo {
                path: p.port_name,
                usb_id: String::new(),
                product: None,
                manufacturer: None,
                serial_number: None,
                known: false,
            },
        })
        .collect();
    out.sort_by(|a, b| b.known.cmp(&a.known).then(a.path.cmp(&b.path)));
    out
}

/// The one attached board with a known USB id; none or several is an error that lists them.
pub fn auto_detect() -> Result<String, TransportError> {
    let all = list();
    let known: Vec<&PortInfo> = all.iter().filter(|p| p.known).collect();
    match known.as_slice() {
        [one] => Ok(one.path.clone()),
        [] => {
            let others: Vec<String> = all.iter().map(|p| p.path.clone()).collect();
            Err(TransportError::NoDevice(if others.is_empty() {
                String::new()
            } else {
                format!(" among {}", others.join(", "))
            }))
        }
        several => Err(TransportError::SeveralDevices(
            several
                .iter()
                .map(|p| format!("{} [{}]", p.path, p.usb_id))
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}
