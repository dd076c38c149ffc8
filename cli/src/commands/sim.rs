//! `ucrypto sim`: serve a virtual device on a pseudo-terminal until interrupted.
use std::io::Write;

use ucrypto_firmware::backend::software::Seed;

use crate::args::{GlobalArgs, SimArgs};
use crate::error::Result;
use ucrypto_sim::virtual_flash::VirtualFlash;
use ucrypto_sim::PtyDevice;

pub fn run(global: &GlobalArgs, args: &SimArgs) -> Result<()> {
    let seed = match args.seed {
        Some(n) => Seed::Fixed(n),
        None => ucrypto::host_seed(),
    };
    let mut device = PtyDevice::open(args.chip.into(), seed)?;
    if let Some(baud) = global.baud {
        device = device.pace(baud);
    }
    if let Some(limit) = args.line_limit {
        if global.baud.is_none() {
            return Err(crate::error::Error::input(
                "--line-limit needs --baud: it limits a UART's rate, and an unpaced virtual device is USB",
            ));
        }
        device = device.with_line_limit(limit);
    }
    if let Some(spec) = args.faults {
        device = device.with_faults(spec);
    }
    if args.efuse.is_some() || args.flash.is_some() {
        device = device.with_key_files(args.efuse.clone(), args.flash.clone())?;
    }
    // The ROM loader writes through to the same file, opened after the key files (which
    // create it, and replace it whole on each save) and before the path is printed.
    let rom_flash = match (&args.flash, args.download_mode) {
        (Some(path), true) => Some(VirtualFlash::open(path)?),
        (None, true) => Some(VirtualFlash::in_memory()),
        (_, false) => None,
    };
    let mut out = std::io::stdout().lock();
    // The path first, alone on its line, flushed: scripts read it and connect.
    let _ = writeln!(out, "{}", device.path()).and_then(|_| out.flush());
    drop(out);
    if let Some(flash) = rom_flash {
        if !global.json {
            eprintln!(
                "ucrypto sim: virtual {} in ROM download mode on {}; Ctrl-C to stop",
                ucrypto_protocol::Chip::from(args.chip).name(),
                device.path()
            );
        }
        let options = ucrypto_sim::download_mode::DownloadOptions {
            damage_block: args.damage_block,
            refuse_ram_load: args.refuse_ram_load,
            baud: global.baud,
        };
        return Ok(ucrypto_sim::download_mode::serve(
            device,
            args.chip.into(),
            flash,
            options,
        )?);
    }
    if !global.json {
        eprintln!(
            "ucrypto sim: virtual {} on {} (software crypto{}{}); Ctrl-C to stop",
            ucrypto_protocol::Chip::from(args.chip).name(),
            device.path(),
            match global.baud {
                Some(baud) => format!(", line paced at {baud} baud 8N1 both ways"),
                None => String::new(),
            },
            if args.seed.is_some() {
                ", fixed seed: not random"
            } else {
                ""
            }
        );
    }
    Ok(device.serve()?)
}
