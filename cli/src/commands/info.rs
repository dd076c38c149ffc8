//! `ucrypto info`: the device's `Hello`, for people or as JSON.
use crate::args::GlobalArgs;
use crate::error::Result;
use crate::output::print_json;
use crate::output::print_line;

pub fn run(global: &GlobalArgs) -> Result<()> {
    let client = crate::device::connect(global)?;
    let info = client.info();
    if global.json {
        return print_json(&serde_json::to_value(info).expect("device info serializes"));
    }
    let caps = &info.capabilities;
    let bits = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
    let lines = [
        format!("port:             {}", info.port),
        format!(
            "chip:             {}{}",
            info.chip.name(),
            if info.virtual_device {
                " (virtual device: software crypto)"
            } else {
                ""
            }
        ),
        format!("device id:        {}", info.device_id_string()),
        format!(
            "firmware:         {}",
            ucrypto::untrusted::for_terminal(&info.firmware_version)
        ),
        format!(
            "protocol:         v{} (schema {})",
            info.protocol_version,
            hex::encode(info.schema)
        ),
        format!("commands:         {}", caps.commands.join(", ")),
        format!("aes key bits:     {}", bits(&caps.aes_key_bits)),
        format!("aes in hardware:  {}", bits(&caps.aes_hardware_key_bits)),
        format!(
            "rsa modulus bits: {} to {}",
            caps.rsa_min_bits, caps.rsa_max_bits
        ),
        format!(
            "entropy:          {} ({})",
            info.entropy.source, info.entropy.state
        ),
        format!("entropy tested:   device: {}", info.entropy.device_tests),
        format!("                  host: {}", info.entropy.host_tests),
        format!("not tested:       {}", info.entropy.not_tested),
        format!(
            "self-test:        rng {}, aes {}, sha256 {}, rsa {}",
            info.self_test.rng, info.self_test.aes, info.self_test.sha256, info.self_test.rsa
        ),
    ];
    print_line(&lines.join("\n"))?;
    for line in info.security.iter().flat_map(|s| s.lines()) {
        print_line(&line)?;
    }
    // Device keys (`ucrypto key list` says the same): only on chips that have them.
    for slot in info.key_slots.iter().flatten() {
        print_line(&format!("key {}", slot.line()))?;
    }
    Ok(())
}
