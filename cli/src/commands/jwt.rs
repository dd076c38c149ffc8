//! `ucrypto jwt`: a compact RS256 JSON Web Token (RFC 7519) signed on the device, the Cloud IoT
//! use case of Pycom's example in one command.
use std::time::{SystemTime, UNIX_EPOCH};

use crate::args::{GlobalArgs, JwtArgs};
use crate::error::{Error, Result};
use crate::key_choice::ChosenKey;
use crate::output::print_json;
use crate::output::print_line;
use ucrypto::operations::jwt::{jwt_claims, JWT_HEADER};

pub fn run(global: &GlobalArgs, args: &JwtArgs) -> Result<()> {
    let now = now()?;
    // Bad claims are a usage error before the key is read or a device is opened.
    jwt_claims(&args.claims, args.exp, now)?;
    let chosen = ChosenKey::load(&args.key)?;
    let mut client = crate::device::connect(global)?;
    let key = chosen.resolve(&mut client)?;
    let jwt = client.jwt(&key, &args.claims, args.exp, now)?;
    if global.json {
        let info = client.info();
        return print_json(&serde_json::json!({
            "command": "jwt",
            "token": jwt.token,
            "header": serde_json::from_str::<serde_json::Value>(JWT_HEADER).expect("valid JSON"),
            "claims": serde_json::from_str::<serde_json::Value>(&jwt.claims).expect("valid JSON"),
            "verified": true,
            "key_source": key.source.name(),
            "virtual": info.virtual_device,
            "chip": info.chip.name(),
        }));
    }
    print_line(&jwt.token)
}

fn now() -> Result<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::input("the system clock is before 1970: set it to build a JWT"))
}
