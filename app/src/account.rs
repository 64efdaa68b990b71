//! Accounts and API keys as the UI sees them, and the input rules for both.

use serde::{Deserialize, Serialize};

/// Usernames appear in Model Set slugs (`@owner/name`), so they follow slug rules.
pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
/// Argon2 hashes any length, but an unbounded field is an easy way to burn server CPU.
pub const PASSWORD_MAX: usize = 128;
pub const KEY_NAME_MAX: usize = 64;

/// The signed-in account, as shown in the header and account page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
}

/// An API key as listed: never the secret, only the prefix that identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Returned once, when a key is created: the only time the secret leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub key: ApiKeyInfo,
    pub secret: String,
}

/// Checks a username against the slug rules; the message is shown to the user as is.
pub fn validate_username(username: &str) -> Result<(), String> {
    let len = username.chars().count();
    if len < USERNAME_MIN {
        return Err(format!("Username must be at least {USERNAME_MIN} characters."));
    }
    if len > USERNAME_MAX {
        return Err(format!("Username must be at most {USERNAME_MAX} characters."));
    }
    let first_ok = username
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let all_ok = username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !first_ok || !all_ok {
        return Err(
            "Username may use lowercase letters, digits, '-' and '_', and must start with a letter or digit."
                .to_string(),
        );
    }
    Ok(())
}

pub fn validate_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(format!("Password must be at least {PASSWORD_MIN} characters."));
    }
    if len > PASSWORD_MAX {
        return Err(format!("Password must be at most {PASSWORD_MAX} characters."));
    }
    Ok(())
}

/// Returns the trimmed name to store.
pub fn validate_key_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Give the key a name.".to_string());
    }
    if name.chars().count() > KEY_NAME_MAX {
        return Err(format!("Key name must be at most {KEY_NAME_MAX} characters."));
    }
    if name.chars().any(char::is_control) {
        return Err("Key name may not contain control characters.".to_string());
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_slug_rules() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("a-1_b").is_ok());
        assert!(validate_username("ab").is_err());
        assert!(validate_username(&"a".repeat(USERNAME_MAX + 1)).is_err());
        assert!(validate_username("Alice").is_err());
        assert!(validate_username("-alice").is_err());
        assert!(validate_username("al ice").is_err());
        assert!(validate_username("alicé").is_err());
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
        assert!(validate_password(&"x".repeat(PASSWORD_MAX)).is_ok());
        assert!(validate_password(&"x".repeat(PASSWORD_MAX + 1)).is_err());
    }

    #[test]
    fn key_names_are_trimmed_and_bounded() {
        assert_eq!(validate_key_name("  ci  ").as_deref(), Ok("ci"));
        assert!(validate_key_name("   ").is_err());
        assert!(validate_key_name(&"k".repeat(KEY_NAME_MAX + 1)).is_err());
        assert!(validate_key_name("a\nb").is_err());
    }
}
