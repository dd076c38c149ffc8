//! `ucrypto jwt`: a compact RS256 JSON Web Token (RFC 7519) signed on the device, the Cloud IoT
//! use case of Pycom's example in one command.
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::args::{GlobalArgs, JwtArgs};
use crate::commands::print_json;
use crate::commands::sign::ChosenKey;
use crate::error::{Error, Result};
use crate::output::print_line;

/// The JOSE header, fixed: RS256 is the only algorithm the device signs with.
const HEADER: &str = r#"{"alg":"RS256","typ":"JWT"}"#;

pub fn run(global: &GlobalArgs, args: &JwtArgs) -> Result<()> {
    let payload = payload(&args.claims, args.exp, now()?)?;
    let chosen = ChosenKey::load(&args.key)?;
    let mut client = crate::connect(global)?;
    let key = chosen.resolve(&mut client)?;
    key.check_device(&client)?;

    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(&payload)
    );
    let signed = key.sign_stream(&mut client, &mut signing_input.as_bytes(), None)?;
    let token = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(&signed.signature)
    );
    if global.json {
        let info = client.info();
        return print_json(&serde_json::json!({
            "command": "jwt",
            "token": token,
            "header": serde_json::from_str::<serde_json::Value>(HEADER).expect("valid JSON"),
            "claims": serde_json::from_str::<serde_json::Value>(&payload).expect("valid JSON"),
            "verified": true,
            "key_source": key.source.name(),
            "virtual": info.virtual_device,
            "chip": info.chip.name(),
        }));
    }
    print_line(&token)
}

/// The claims with `iat` (unless given) and `exp` (when asked) added.
pub fn payload(claims: &str, exp: Option<u64>, now: u64) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(claims)
        .map_err(|e| Error::input(format!("--claims is not valid JSON: {e}")))?;
    let serde_json::Value::Object(mut map) = value else {
        return Err(Error::input(
            "--claims must be a JSON object, e.g. '{\"aud\":\"my-project\"}'",
        ));
    };
    let iat = match map.get("iat") {
        None => {
            map.insert("iat".into(), now.into());
            now
        }
        Some(given) => given.as_u64().ok_or_else(|| {
            Error::input("the claim iat must be a whole number of seconds since 1970")
        })?,
    };
    if let Some(seconds) = exp {
        let exp = iat
            .checked_add(seconds)
            .ok_or_else(|| Error::input("--exp is too large"))?;
        map.insert("exp".into(), exp.into());
    }
    Ok(serde_json::Value::Object(map).to_string())
}

fn now() -> Result<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::input("the system clock is before 1970: set it to build a JWT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iat_and_exp_are_added_and_a_given_iat_is_kept() {
        let p: serde_json::Value =
            serde_json::from_str(&payload(r#"{"aud":"x"}"#, Some(60), 1000).unwrap()).unwrap();
        assert_eq!(p, serde_json::json!({"aud": "x", "iat": 1000, "exp": 1060}));
        let p: serde_json::Value =
            serde_json::from_str(&payload(r#"{"iat":5}"#, Some(10), 1000).unwrap()).unwrap();
        assert_eq!(p, serde_json::json!({"iat": 5, "exp": 15}));
        let p: serde_json::Value = serde_json::from_str(&payload("{}", None, 7).unwrap()).unwrap();
        assert_eq!(p, serde_json::json!({"iat": 7}));
    }

    #[test]
    fn claims_that_are_not_an_object_are_refused() {
        assert!(payload("[1]", None, 0).is_err());
        assert!(payload("{", None, 0).is_err());
        assert!(payload(r#"{"iat":"soon"}"#, None, 0).is_err());
    }
}
