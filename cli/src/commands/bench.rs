//! `ucrypto bench sign`: signatures per second on the connected device, for
//! `docs/performance.md`. Each signature is checked on the host, as `ucrypto sign` does.
use std::time::Instant;

use crate::args::{BenchSignArgs, GlobalArgs};
use crate::commands::print_json;
use crate::commands::sign::SigningKey;
use crate::error::{Error, Result};
use crate::output::print_line;

pub fn sign(global: &GlobalArgs, args: &BenchSignArgs) -> Result<()> {
    if args.count == 0 {
        return Err(Error::input("--count must be at least 1"));
    }
    let key = SigningKey::load(&args.key)?;
    let mut client = crate::connect(global)?;
    key.check_device(&client)?;
    // One signature first, so connection set-up is not measured.
    key.sign_digest(&mut client, [0; 32])?;
    let start = Instant::now();
    for i in 1..=args.count {
        let mut digest = [0u8; 32];
        digest[..4].copy_from_slice(&i.to_be_bytes());
        key.sign_digest(&mut client, digest)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate = f64::from(args.count) / seconds;
    let info = client.info();
    if global.json {
        return print_json(&serde_json::json!({
            "command": "bench sign",
            "key_bits": key.device.bits(),
            "signatures": args.count,
            "seconds": seconds,
            "signatures_per_second": rate,
            "chip": info.chip.name(),
            "virtual": info.virtual_device,
            "port": info.port,
        }));
    }
    print_line(&format!(
        "{} signatures with a {}-bit key on {}{} via {}: {seconds:.2} s, {rate:.1} signatures/s",
        args.count,
        key.device.bits(),
        info.chip.name(),
        if info.virtual_device {
            " (virtual)"
        } else {
            ""
        },
        info.port
    ))
}
