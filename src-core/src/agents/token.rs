//! Agent tokens: 256 random bits, shown once, stored only as a SHA-256 hash.
//! A token is looked up by its hash, so the secret itself is never compared
//! or kept; the `gth_` prefix lets secret scanners (ours too) recognise it.

use sha2::{Digest, Sha256};

use crate::telemetry::Redacted;

/// Prefix of every Gatehouse agent token.
pub const PREFIX: &str = "gth_";

/// A new token: `gth_` and 64 hex digits.
pub fn generate() -> Result<Redacted<String>, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(Redacted::new(format!("{PREFIX}{}", hex::encode(bytes))))
}

/// The stored form of a token: hex SHA-256 of its text. A 256-bit random
/// secret needs no slow hash: there is no dictionary to try.
pub fn hash(token: &Redacted<String>) -> String {
    hex::encode(Sha256::digest(token.expose().trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(a.expose().starts_with("gth_"));
        assert_eq!(a.expose().len(), 4 + 64);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a).len(), 64);
    }

    #[test]
    fn surrounding_whitespace_from_a_pasted_token_is_ignored() {
        let t = Redacted::new("gth_abc".to_string());
        let padded = Redacted::new(" gth_abc\n".to_string());
        assert_eq!(hash(&t), hash(&padded));
    }
}
