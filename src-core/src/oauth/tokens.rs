//! `Tokens`: what one connection keeps in the keychain (access token,
//! refresh token, a client secret given on the command line, and the
//! account's label: a GitHub login or a Gmail address is personal data,
//! kept out of the database), as one JSON entry so a refresh replaces all of
//! it at once. Values travel as `Redacted`; this module is the only place
//! they are serialised.

use std::time::Duration;

use serde_json::{Value, json};

use crate::telemetry::Redacted;

/// The secrets of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    /// Sent as `Authorization: Bearer` to the API.
    pub access: Redacted<String>,
    /// Spent to get a new access token (single-use where the provider rotates them).
    pub refresh: Option<Redacted<String>>,
    /// A client secret given with `--client-secret`, kept for refreshes.
    pub client_secret: Option<Redacted<String>>,
    /// The account's login (GitHub) or email (Google), for listings; a
    /// refresh carries it over.
    pub account: Option<Redacted<String>>,
}

/// What a token endpoint granted.
#[derive(Debug)]
pub struct Granted {
    /// The tokens.
    pub tokens: Tokens,
    /// How long the access token lasts, if it expires.
    pub expires_in: Option<Duration>,
    /// The scopes granted, when the endpoint said.
    pub scopes: Option<Vec<String>>,
}

/// The keychain entry could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("the keychain entry is not a Gatehouse token record")]
pub struct BadRecord;

impl Tokens {
    /// The keychain entry's text.
    pub fn to_record(&self) -> Redacted<String> {
        let opt = |v: &Option<Redacted<String>>| v.as_ref().map(|s| s.expose().clone());
        Redacted::new(
            json!({
                "v": 1,
                "access_token": self.access.expose(),
                "refresh_token": opt(&self.refresh),
                "client_secret": opt(&self.client_secret),
                "account": opt(&self.account),
            })
            .to_string(),
        )
    }

    /// Reads a keychain entry written by `to_record`.
    pub fn from_record(record: &Redacted<String>) -> Result<Tokens, BadRecord> {
        let v: Value = serde_json::from_str(record.expose()).map_err(|_| BadRecord)?;
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| Redacted::new(s.to_string()))
        };
        Ok(Tokens {
            access: field("access_token").ok_or(BadRecord)?,
            refresh: field("refresh_token"),
            client_secret: field("client_secret"),
            account: field("account"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_never_prints_its_values() {
        let t = Tokens {
            access: Redacted::new("ghu_access".into()),
            refresh: Some(Redacted::new("ghr_refresh".into())),
            client_secret: None,
            account: Some(Redacted::new("ann@example.com".into())),
        };
        assert_eq!(Tokens::from_record(&t.to_record()).unwrap(), t);
        let shown = format!("{t:?} {}", t.to_record());
        assert!(
            !shown.contains("ghu_access")
                && !shown.contains("ghr_refresh")
                && !shown.contains("ann@"),
            "{shown}"
        );
        assert!(Tokens::from_record(&Redacted::new("{}".into())).is_err());
        assert!(Tokens::from_record(&Redacted::new("not json".into())).is_err());
    }
}
