//! `ucrypto key`: make, list and read device keys. Making one burns eFuses, so `generate` and
//! `import` do nothing without `--burn`, and say what they would do.
use std::time::Instant;

use ucrypto_protocol::DEFAULT_KEY_BITS;

use crate::args::{GlobalArgs, KeyGenerateArgs, KeyImportArgs, KeyPublicArgs};
use crate::confirm::{confirm_burn, Decision};
use crate::error::{Error, Result};
use crate::output::{add_device_fields, commit_with_json, print_json};
use crate::output::{print_line, Format, Output};
use ucrypto::device_keys::public_format::{self, PublicFormat};
use ucrypto::device_keys::{self, efuse_block, plan_slot, MadeKey, NewKey, SlotChoice, DS_PURPOSE};
use ucrypto::key_file::{self, DeviceKey};
use ucrypto::transport::Transport;
use ucrypto::Client;

pub fn generate(global: &GlobalArgs, args: &KeyGenerateArgs) -> Result<()> {
    let mut client = crate::device::connect(global)?;
    let bits = usize::from(args.bits);
    let slot = plan_slot(client.info(), args.slot, bits, true)?;
    if args.bits < DEFAULT_KEY_BITS && !global.json {
        eprintln!("warning: a {bits}-bit key is for tests: use 2048 or 3072 bits in production");
    }
    let what = format!("generate a {bits}-bit RSA key on the device");
    let made = burn(
        global,
        &mut client,
        args.slot,
        slot,
        &what,
        args.burn,
        |client| {
            Ok(device_keys::make(
                client,
                args.slot,
                NewKey::Generate { bits: args.bits },
            )?)
        },
    )?;
    report("key generate", global, &client, made)
}

pub fn import(global: &GlobalArgs, args: &KeyImportArgs) -> Result<()> {
    let key = key_file::read_private(&args.key, args.pass.as_ref())?;
    let device_key = DeviceKey::new(&key)?;
    drop(key);
    if !global.json {
        eprintln!(
            "warning: importing is weaker than `ucrypto key generate`: this key crossed the link \
             and exists off the chip (in {}); whoever has that file can sign as the device",
            args.key.display()
        );
    }
    let mut client = crate::device::connect(global)?;
    let slot = plan_slot(client.info(), args.slot, device_key.bits(), false)?;
    let what = format!(
        "store the {}-bit RSA key of {} on the device",
        device_key.bits(),
        args.key.display()
    );
    let made = burn(
        global,
        &mut client,
        args.slot,
        slot,
        &what,
        args.burn,
        |client| {
            Ok(device_keys::make(
                client,
                args.slot,
                NewKey::Import(&device_key),
            )?)
        },
    )?;
    report("key import", global, &client, made)
}

/// Describes the burn, asks for it to be confirmed, and runs `act` only then; `None` for a dry
/// run (already reported).
fn burn<T: Transport>(
    global: &GlobalArgs,
    client: &mut Client<T>,
    choice: SlotChoice,
    slot: u8,
    what: &str,
    confirmed: bool,
    act: impl FnOnce(&mut Client<T>) -> Result<MadeKey>,
) -> Result<Option<(MadeKey, f64)>> {
    let info = client.info();
    let id = info.device_id_string();
    let plan = format!(
        "{what} {} {id} and burn eFuse {} (slot {slot}{}): key purpose {DS_PURPOSE} \
         (HMAC_DOWN_DIGITAL_SIGNATURE), read- and write-protected; irreversible",
        info.chip.name(),
        efuse_block(slot),
        if choice == SlotChoice::Any {
            ", the highest free one of slots 2-5"
        } else {
            ""
        }
    );
    if confirm_burn(confirmed, &id, &plan)? == Decision::DryRun {
        if global.json {
            let mut json = serde_json::json!({
                "dry_run": true,
                "slot": slot,
                "efuse_block": efuse_block(slot),
                "key_purpose": DS_PURPOSE,
                "irreversible": true,
                "plan": plan,
            });
            add_device_fields(&mut json, info);
            print_json(&json)?;
        } else {
            print_line(&format!(
                "dry run: would {plan}. Nothing was done: add --burn to do it."
            ))?;
        }
        return Ok(None);
    }
    if !global.json {
        eprintln!(
            "ucrypto: burning eFuse {} (slot {slot})...",
            efuse_block(slot)
        );
    }
    let started = Instant::now();
    let made = act(client)?;
    Ok(Some((made, started.elapsed().as_secs_f64())))
}

fn report<T: Transport>(
    command: &str,
    global: &GlobalArgs,
    client: &Client<T>,
    made: Option<(MadeKey, f64)>,
) -> Result<()> {
    let Some((made, seconds)) = made else {
        return Ok(());
    };
    let public = &made.public;
    if global.json {
        let pem = public_format::encode(public, PublicFormat::Pem)?;
        let mut json = serde_json::json!({
            "command": command,
            "slot": public.slot,
            "efuse_block": efuse_block(public.slot),
            "bits": public.bits(),
            "spki_sha256": public.fingerprint(),
            "public_key_pem": String::from_utf8_lossy(&pem),
            "seconds": seconds,
            "verified": made.test_signature_verified,
        });
        add_device_fields(&mut json, client.info());
        return print_json(&json);
    }
    print_line(&format!(
        "slot {} ({}): {}-bit device key, SPKI SHA-256 {} ({seconds:.1} s; test signature verified)",
        public.slot,
        efuse_block(public.slot),
        public.bits(),
        public.fingerprint()
    ))
}

pub fn list(global: &GlobalArgs) -> Result<()> {
    let client = crate::device::connect(global)?;
    let info = client.info();
    device_keys::slots(info)?;
    let slots = info.key_slots.clone().unwrap_or_default();
    if global.json {
        let mut json = serde_json::json!({ "command": "key list", "slots": slots });
        add_device_fields(&mut json, info);
        return print_json(&json);
    }
    for slot in &slots {
        print_line(&slot.line())?;
    }
    Ok(())
}

pub fn public(global: &GlobalArgs, args: &KeyPublicArgs) -> Result<()> {
    if global.json && PublicFormat::from(args.format) == PublicFormat::Der && args.output.is_none()
    {
        return Err(Error::input(
            "DER bytes cannot go in JSON: use --format pem or jwk, or -o FILE",
        ));
    }
    let mut client = crate::device::connect(global)?;
    let public = device_keys::read_public(&mut client, args.slot)?;
    let mut output = Output::create(args.output.as_deref(), Format::Raw)?;
    output.write(&public_format::encode(&public, args.format.into())?)?;
    if !global.json {
        return output.commit();
    }
    let mut json = serde_json::json!({
        "command": "key public",
        "slot": public.slot,
        "bits": public.bits(),
        "spki_sha256": public.fingerprint(),
        "format": PublicFormat::from(args.format),
        "verified": true,
    });
    add_device_fields(&mut json, client.info());
    commit_with_json(output, json, "public_key")
}
