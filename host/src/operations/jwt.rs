//! Compact RS256 JSON Web Tokens (RFC 7519) signed on the device.
use std::io::Read;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::operations::sign::SigningKey;
use crate::progress::NoProgress;
use crate::transport::Transport;

/// The JOSE header, fixed: RS256 is the only algorithm the device signs with.
pub const JWT_HEADER: &str = r#"{"alg":"RS256","typ":"JWT"}"#;

/// A token and the claims it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwt {
    /// `header.claims.signature`, each base64url without padding.
    pub token: String,
    /// The claims as signed (JSON), with `iat` and `exp` added.
    pub claims: String,
}

impl<T: Transport> Client<T> {
    /// A JWT over `claims` (a JSON object) with `iat` = `now` unless the claims give it, and
    /// `exp` = `iat` + `exp` when asked, signed on the device and checked with the public key.
    pub fn jwt(
        &mut self,
        key: &SigningKey,
        claims: &str,
        exp: Option<u64>,
        now: u64,
    ) -> Result<Jwt> {
        let claims = jwt_claims(claims, exp, now)?;
        key.check_device(self)?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(JWT_HEADER),
            URL_SAFE_NO_PAD.encode(&claims)
        );
        let mut message: &[u8] = signing_input.as_bytes();
        let signed = key.sign_stream(self, &mut message as &mut dyn Read, None, &mut NoProgress)?;
        Ok(Jwt {
            token: format!(
                "{signing_input}.{}",
                URL_SAFE_NO_PAD.encode(&signed.signature)
            ),
            claims,
        })
    }
}

/// The claims with `iat` (unless given) and `exp` (when asked) added.
pub fn jwt_claims(claims: &str, exp: Option<u64>, now: u64) -> Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iat_and_exp_are_added_and_a_given_iat_is_kept() {
        let p: serde_json::Value =
            serde_json::from_str(&jwt_claims(r#"{"aud":"x"}"#, Some(60), 1000).unwrap()).unwrap();
        assert_eq!(p, serde_json::json!({"aud": "x", "iat": 1000, "exp": 1060}));
        let p: serde_json::Value =
            serde_json::from_str(&jwt_claims(r#"{"iat":5}"#, Some(10), 1000).unwrap()).unwrap();
        assert_eq!(p, serde_json::json!({"iat": 5, "exp": 15}));
        let p: serde_json::Value =
            serde_json::from_str(&jwt_claims("{}", None, 7).unwrap()).unwrap();
        assert_eq!(p, serde_json::json!({"iat": 7}));
    }

    #[test]
    fn claims_that_are_not_an_object_are_refused() {
        assert!(jwt_claims("[1]", None, 0).is_err());
        assert!(jwt_claims("{", None, 0).is_err());
        assert!(jwt_claims(r#"{"iat":"soon"}"#, None, 0).is_err());
    }
}
