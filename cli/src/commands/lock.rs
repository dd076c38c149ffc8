//! `ucrypto lock`: the provisioning lock (an eFuse bit: irreversible). Confirmed like a key
//! burn: nothing without `--burn`, and at a terminal the device id typed back.
use crate::args::{GlobalArgs, LockArgs};
use crate::confirm::{confirm_burn, Decision};
use crate::error::Result;
use crate::output::{add_device_fields, print_json, print_line};
use ucrypto::device_keys::lock::{check_lockable, locked, warnings, LOCK_BIT};

pub fn run(global: &GlobalArgs, args: &LockArgs) -> Result<()> {
    let mut client = crate::device::connect(global)?;
    let info = client.info().clone();
    check_lockable(&info)?;
    let id = info.device_id_string();
    let already = locked(&info);
    let warnings = warnings(&info);
    if !global.json {
        for line in &warnings {
            eprintln!("warning: {line}");
        }
    }
    let plan = format!(
        "lock {} {id} for provisioning: burn eFuse {LOCK_BIT}; the device then refuses every \
         key generation, key import and certificate write, and keeps signing with its keys; \
         irreversible",
        info.chip.name()
    );
    if !already && confirm_burn(args.burn, &id, &plan)? == Decision::DryRun {
        if global.json {
            let mut json = serde_json::json!({
                "command": "lock",
                "dry_run": true,
                "irreversible": true,
                "plan": plan,
                "warnings": warnings,
            });
            add_device_fields(&mut json, &info);
            return print_json(&json);
        }
        return print_line(&format!(
            "dry run: would {plan}. Nothing was done: add --burn to do it."
        ));
    }
    if !already {
        client.lock()?;
    }
    if global.json {
        let mut json = serde_json::json!({
            "command": "lock",
            "locked": true,
            "was_locked": already,
            "warnings": warnings,
        });
        add_device_fields(&mut json, client.info());
        return print_json(&json);
    }
    print_line(&if already {
        format!("{id}: already locked (nothing burned)")
    } else {
        format!("{id}: locked (provisioning lock burned; the device keeps signing)")
    })
}
