//! Configuration: built-in defaults (`default.toml`), then a TOML file, then `SETPOINT_*`
//! environment variables, then command-line flags; later layers win.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use app::catalog::CatalogModel;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::providers::{ProviderConfig, Timeouts};
use crate::storage::{is_postgres_url, is_sqlite_url};

const DEFAULT_CONFIG: &str = include_str!("default.toml");
/// Read from the working directory when no file is named.
const LOCAL_CONFIG: &str = "setpoint.toml";
/// Environment variables read as configuration (after the `SETPOINT_` prefix).
const ENV_KEYS: [&str; 6] = [
    "addr",
    "database_url",
    "site_root",
    "secure_cookies",
    "log",
    "session_days",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub addr: SocketAddr,
    pub database_url: String,
    pub site_root: PathBuf,
    pub secure_cookies: bool,
    pub log: String,
    pub session_days: u32,
    pub login_limits: LoginLimits,
    pub gateway: GatewaySettings,
    pub providers: BTreeMap<String, ProviderConfig>,
    pub catalog: Vec<CatalogModel>,
    #[serde(default)]
    pub evals: crate::evals::EvalConfig,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: usize,
    /// Per API key; past it, 429 with Retry-After.
    pub requests_per_minute_per_key: u32,
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginLimits {
    pub per_username_per_minute: u32,
    pub per_address_per_minute: u32,
}

/// Values given as command-line flags; `None` leaves the lower layers' value.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_root: Option<PathBuf>,
}

/// One line saying what is wrong and where; `main` prints it and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0}: not found")]
    MissingFile(PathBuf),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// `file`: an explicitly named config file (which then must exist).
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULT_CONFIG));
        match file {
            Some(path) if !path.is_file() => return Err(ConfigError::MissingFile(path.to_path_buf())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(LOCAL_CONFIG).is_file() => figment = figment.merge(Toml::file_exact(LOCAL_CONFIG)),
            None => {}
        }
        let config: Config = figment
            .merge(Env::prefixed("SETPOINT_").only(&ENV_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Invalid(one_line(&e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.database_url;
        if !is_sqlite_url(url) && !is_postgres_url(url) {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(ConfigError::Invalid(format!(
                "database_url: unsupported scheme {scheme:?}; use sqlite://PATH or postgres://USER@HOST/DB"
            )));
        }
        if self.session_days == 0 {
            return Err(ConfigError::Invalid("session_days: must be at least 1".into()));
        }
        let limits = self.login_limits;
        if limits.per_username_per_minute == 0 || limits.per_address_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "login_limits: limits must be at least 1 per minute".into(),
            ));
        }
        let gateway = self.gateway;
        if gateway.max_body_bytes == 0 || gateway.requests_per_minute_per_key == 0 {
            return Err(ConfigError::Invalid(
                "gateway: max_body_bytes and requests_per_minute_per_key must be at least 1".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for model in &self.catalog {
            if !self.providers.contains_key(&model.provider) {
                return Err(ConfigError::Invalid(format!(
                    "catalog: model {:?} names provider {:?}, which is not under [providers]",
                    model.id, model.provider
                )));
            }
            if !model.id.contains('/') {
                return Err(ConfigError::Invalid(format!(
                    "catalog: model id {:?} must be provider/model",
                    model.id
                )));
            }
            if !seen.insert(&model.id) {
                return Err(ConfigError::Invalid(format!(
                    "catalog: model id {:?} appears twice",
                    model.id
                )));
            }
        }
        Ok(())
    }
}

/// "key: what is wrong in/from where", on one line, from figment's error.
fn one_line(e: &figment::Error) -> String {
    let key = e.path.join(".").to_lowercase();
    let place = match &e.metadata {
        Some(meta) => match &meta.source {
            Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
            _ if meta.name.contains("environment") => format!(" (from SETPOINT_{})", key.to_uppercase()),
            _ => format!(" (in {})", meta.name),
        },
        None => String::new(),
    };
    let what = e.kind.to_string().replace('\n', " ");
    if key.is_empty() {
        format!("{what}{place}")
    } else {
        format!("{key}: {what}{place}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_ship_a_catalog_the_simulator_can_serve() {
        let config: Config = Figment::new()
            .merge(Toml::string(DEFAULT_CONFIG))
            .extract()
            .expect("default.toml parses");
        config.validate().expect("defaults are valid");
        assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        assert!(config.database_url.starts_with("sqlite://"));
        assert!(config.catalog.len() >= 5);
        assert!(
            config.catalog.iter().all(|m| m.simulation.is_some()),
            "every demo model has a profile"
        );
    }

    #[test]
    fn unsupported_database_scheme_is_named() {
        let mut config: Config = Figment::new()
            .merge(Toml::string(DEFAULT_CONFIG))
            .extract()
            .expect("defaults");
        config.database_url = "mysql://x".into();
        let err = config.validate().expect_err("mysql is refused").to_string();
        assert!(err.contains("database_url") && err.contains("mysql"), "{err}");
    }
}
