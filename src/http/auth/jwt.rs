//! JWT verification as agno's `JWTValidator` does it (PyJWT underneath): the token's segments,
//! its header, the one allowed algorithm, the signature (the `jsonwebtoken` crate's crypto),
//! then `iat`, `nbf`, `exp` (with the leeway), `sub` and `jti`, then the audience and the
//! issuer. Each failure carries PyJWT's message, which agno puts in its 401 bodies. No message
//! ever includes the token.

use super::config::JwtSettings;
use super::jwks::KeySource;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// agno: 401 `Token has expired`.
    Expired,
    /// agno: 401 `Invalid token audience - token not valid for this AgentOS instance`.
    Audience(String),
    /// agno: 401 `Invalid token: <PyJWT's message>`.
    Invalid(String),
    /// The keys could not be fetched (JWKS URL unreachable and nothing cached): 503.
    Unavailable,
}

impl TokenError {
    fn invalid(message: impl Into<String>) -> TokenError {
        TokenError::Invalid(message.into())
    }
}

/// A verified token's claims.
pub(crate) type Claims = Map<String, Value>;

/// Verifies tokens with the configured keys.
pub(crate) struct JwtVerifier {
    pub(crate) settings: JwtSettings,
    pub(crate) keys: KeySource,
}

/// The parts of a token, decoded.
struct Parts<'t> {
    signing_input: &'t str,
    header: Map<String, Value>,
    payload: Vec<u8>,
    signature: &'t str,
}

fn b64(segment: &str, name: &str) -> Result<Vec<u8>, TokenError> {
    // PyJWT pads and decodes urlsafe base64; a stray `=` is accepted as padding.
    URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| TokenError::invalid(format!("Invalid {name} padding")))
}

/// PyJWT's `_load`: segments, base64, the header as a JSON object.
fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    let not_enough = || TokenError::invalid("Not enough segments");
    let (signing_input, signature) = token.rsplit_once('.').ok_or_else(not_enough)?;
    let (header, payload) = signing_input.split_once('.').ok_or_else(not_enough)?;
    let header = b64(header, "header")?;
    let header: Value = serde_json::from_slice(&header)
        .map_err(|e| TokenError::invalid(format!("Invalid header string: {e}")))?;
    let Value::Object(header) = header else {
        return Err(TokenError::invalid(
            "Invalid header string: must be a json object",
        ));
    };
    let payload = b64(payload, "payload")?;
    b64(signature, "crypto")?;
    if header.get("kid").is_some_and(|k| !k.is_string()) {
        return Err(TokenError::invalid(
            "Key ID header parameter must be a string",
        ));
    }
    Ok(Parts {
        signing_input,
        header,
        payload,
        signature,
    })
}

/// PyJWT's `int(claim)`: integers, floats (truncated), booleans and numeric strings.
fn int_claim(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl JwtVerifier {
    /// The token's claims if it verifies, else why not (PyJWT's and agno's order of checks).
    pub(crate) async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let parts = split(token)?;
        // agno looks the key up first (the JWKS by `kid`, then the static keys) and lets PyJWT
        // check the algorithm against each.
        let kid = parts.header.get("kid").and_then(Value::as_str);
        let keys = self
            .keys
            .keys_for(kid)
            .await
            .map_err(|_| TokenError::Unavailable)?;
        if keys.is_empty() {
            return Err(TokenError::invalid("No verification keys configured"));
        }
        let alg = match parts.header.get("alg") {
            None => return Err(TokenError::invalid("Algorithm not specified")),
            Some(Value::String(alg)) => alg.as_str(),
            Some(_) => "",
        };
        if alg.is_empty() || alg != self.settings.algorithm_name {
            return Err(TokenError::invalid(
                "The specified alg value is not allowed",
            ));
        }
        let mut verified = false;
        for key in keys.iter() {
            if verify_signature(&parts, key, self.settings.algorithm) {
                verified = true;
                break;
            }
        }
        if !verified {
            return Err(TokenError::invalid("Signature verification failed"));
        }
        let payload: Value = serde_json::from_slice(&parts.payload)
            .map_err(|e| TokenError::invalid(format!("Invalid payload string: {e}")))?;
        let Value::Object(claims) = payload else {
            return Err(TokenError::invalid(
                "Invalid payload string: must be a json object",
            ));
        };
        self.check_claims(&claims)?;
        Ok(claims)
    }

    /// PyJWT's registered claims, then agno's audience and issuer checks.
    fn check_claims(&self, claims: &Claims) -> Result<(), TokenError> {
        let now = chrono::Utc::now().timestamp();
        let leeway = self.settings.leeway_secs;
        if let Some(iat) = claims.get("iat") {
            let iat = int_claim(iat)
                .ok_or_else(|| TokenError::invalid("Issued At claim (iat) must be an integer."))?;
            if iat > now + leeway {
                return Err(TokenError::invalid("The token is not yet valid (iat)"));
            }
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = int_claim(nbf)
                .ok_or_else(|| TokenError::invalid("Not Before claim (nbf) must be an integer."))?;
            if nbf > now + leeway {
                return Err(TokenError::invalid("The token is not yet valid (nbf)"));
            }
        }
        if let Some(exp) = claims.get("exp") {
            let exp = int_claim(exp).ok_or_else(|| {
                TokenError::invalid("Expiration Time claim (exp) must be an integer.")
            })?;
            if exp <= now - leeway {
                return Err(TokenError::Expired);
            }
        }
        if claims.get("sub").is_some_and(|s| !s.is_string()) {
            return Err(TokenError::invalid("Subject must be a string"));
        }
        if claims.get("jti").is_some_and(|s| !s.is_string()) {
            return Err(TokenError::invalid("JWT ID must be a string"));
        }
        if let Some(expected) = &self.settings.audience {
            let claim = &self.settings.audience_claim;
            let got = match claims.get(claim) {
                None | Some(Value::Null) => {
                    return Err(TokenError::invalid(format!(
                        "Token is missing the \"{claim}\" claim. Audience verification requires \
                         this claim to be present in the token."
                    )));
                }
                Some(Value::Array(items)) => items.clone(),
                Some(one) => vec![one.clone()],
            };
            if !got.iter().any(|a| a.as_str() == Some(expected)) {
                return Err(TokenError::Audience(format!(
                    "Invalid audience. Expected one of: ['{expected}'], got: {}",
                    py_list(&got)
                )));
            }
        }
        if let Some(issuer) = &self.settings.issuer {
            let claim = &self.settings.issuer_claim;
            match claims.get(claim) {
                None | Some(Value::Null) => {
                    return Err(TokenError::invalid(format!(
                        "Token is missing the \"{claim}\" claim. Issuer verification requires \
                         this claim to be present in the token."
                    )));
                }
                Some(got) if got.as_str() != Some(issuer) => {
                    let got = got.as_str().map_or_else(|| got.to_string(), str::to_owned);
                    return Err(TokenError::invalid(format!(
                        "Invalid issuer. Expected: {issuer}, got: {got}"
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// A JSON list as Python prints it (`['a', 'b']`), for agno's audience message (logged only).
fn py_list(items: &[Value]) -> String {
    let shown: Vec<String> = items
        .iter()
        .map(|v| match v.as_str() {
            Some(s) => format!("'{s}'"),
            None => v.to_string(),
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

fn verify_signature(parts: &Parts, key: &DecodingKey, alg: Algorithm) -> bool {
    jsonwebtoken::crypto::verify(parts.signature, parts.signing_input.as_bytes(), key, alg)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_get_pyjwt_messages() {
        let msg = |t: &str| match split(t) {
            Err(TokenError::Invalid(m)) => m,
            other => panic!("{t}: {:?}", other.map(|_| ())),
        };
        assert_eq!(msg("abc"), "Not enough segments");
        assert_eq!(msg("a.b"), "Not enough segments");
        assert_eq!(msg("!!.e30.x"), "Invalid header padding");
        let header = URL_SAFE_NO_PAD.encode("[1]");
        assert_eq!(
            msg(&format!("{header}.e30.eA")),
            "Invalid header string: must be a json object"
        );
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":1}"#);
        assert_eq!(
            msg(&format!("{header}.e30.eA")),
            "Key ID header parameter must be a string"
        );
    }

    #[test]
    fn numeric_claims_read_as_python_ints() {
        assert_eq!(int_claim(&serde_json::json!(5)), Some(5));
        assert_eq!(int_claim(&serde_json::json!(5.9)), Some(5));
        assert_eq!(int_claim(&serde_json::json!("7")), Some(7));
        assert_eq!(int_claim(&serde_json::json!([1])), None);
    }
}
