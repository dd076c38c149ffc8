//! `ucrypto ports`: serial ports that may be a device.
use crate::args::GlobalArgs;
use crate::error::Result;
use crate::output::print_json;
use crate::output::print_line;
use ucrypto::ports::{list, KNOWN_USB_IDS};

pub fn run(global: &GlobalArgs) -> Result<()> {
    let ports = list();
    if global.json {
        return print_json(&serde_json::json!({ "ports": ports }));
    }
    if ports.is_empty() {
        let known: Vec<String> = KNOWN_USB_IDS
            .iter()
            .map(|(vid, pid, name)| format!("{vid:04x}:{pid:04x} {name}"))
            .collect();
        eprintln!(
            "no serial ports found; an ESP32 shows up as one of: {}",
            known.join(", ")
        );
        return Ok(());
    }
    for p in ports {
        let mut line = format!("{:<20} {:<10}", p.path, p.usb_id);
        for field in [&p.manufacturer, &p.product].into_iter().flatten() {
            line.push(' ');
            line.push_str(field);
        }
        if let Some(serial) = &p.serial_number {
            line.push_str(&format!(" (serial {serial})"));
        }
        if p.known {
            line.push_str("  [ESP32 candidate]");
        }
        print_line(&line)?;
    }
    Ok(())
}
