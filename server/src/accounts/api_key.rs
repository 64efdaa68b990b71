//! API key secrets: `sk-sp-` followed by 43 URL-safe base64 characters (256 random bits).
//!
//! Only SHA-256 of the secret is stored. A slow hash (argon2) would add tens of
//! milliseconds to every gateway request for no gain: the secret has full entropy, so a
//! leaked hash cannot be brute-forced either way.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SECRET_PREFIX: &str = "sk-sp-";
const RANDOM_BYTES: usize = 32;
/// 32 bytes in unpadded base64.
const BODY_LEN: usize = 43;
/// How much of the secret is kept to identify a key in listings ("sk-sp-AbCdEfGh").
const SHOWN_LEN: usize = SECRET_PREFIX.len() + 8;

/// A freshly generated key: the secret goes to the user once; prefix and hash are stored.
pub struct NewSecret {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate() -> NewSecret {
    let mut bytes = [0u8; RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    NewSecret {
        prefix: secret[..SHOWN_LEN].to_string(),
        hash: hash(&secret),
        secret,
    }
}

pub fn hash(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(secret.as_bytes()) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// Whether `candidate` has the shape of one of our secrets; anything else is refused
/// before touching the database.
pub fn is_well_formed(candidate: &str) -> bool {
    candidate.strip_prefix(SECRET_PREFIX).is_some_and(|body| {
        body.len() == BODY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_well_formed_unique_and_hashed() {
        let a = generate();
        let b = generate();
        assert!(is_well_formed(&a.secret), "{}", a.secret);
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(a.prefix.len(), SHOWN_LEN);
        assert_eq!(a.hash, hash(&a.secret));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.secret[SECRET_PREFIX.len()..]));
    }

    #[test]
    fn malformed_candidates_are_refused() {
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("sk-sp-short"));
        assert!(!is_well_formed(&format!("sk-xx-{}", "a".repeat(BODY_LEN))));
        assert!(!is_well_formed(&format!(
            "{SECRET_PREFIX}{}!",
            "a".repeat(BODY_LEN - 1)
        )));
        assert!(is_well_formed(&format!("{SECRET_PREFIX}{}", "a".repeat(BODY_LEN))));
    }
}
