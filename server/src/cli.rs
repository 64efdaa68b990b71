//! The command line: `setpoint [serve]` runs the server; `account` and `key` manage
//! accounts and API keys on the same database, also while the server runs; `evals status`
//! shows the eval queue.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::accounts::{AccountError, Accounts};
use crate::config::{Config, Overrides};
use crate::serve::{self, ServeError};

const ENV_HELP: &str = "\
Configuration is read from built-in defaults, then a TOML file (--config, SETPOINT_CONFIG,
or ./setpoint.toml), then environment variables, then flags:
  SETPOINT_ADDR            listen address            (default 127.0.0.1:3000)
  SETPOINT_DATABASE_URL    sqlite://PATH or postgres://USER@HOST/DB
                                                     (default sqlite://data/setpoint.db)
  SETPOINT_SITE_ROOT       built browser bundle      (default target/site)
  SETPOINT_SECURE_COOKIES  true behind HTTPS         (default false)
  SETPOINT_LOG             log filter                (default info)
  SETPOINT_SESSION_DAYS    session inactivity limit  (default 14)";

#[derive(Debug, Parser)]
#[command(name = "setpoint", version, about = "Setpoint: an LLM gateway that routes each request across a Model Set to hold the behaviour its owner asks for.", after_help = ENV_HELP)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE", env = "SETPOINT_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (overrides config and SETPOINT_DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web app and the gateway (the default).
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Look at the evals.
    #[command(subcommand)]
    Evals(EvalsCommand),
}

#[derive(Debug, Subcommand)]
enum EvalsCommand {
    /// The eval queue: jobs waiting, running and retrying, the age of the oldest queued
    /// request, and the evals that failed in the last hour.
    Status,
}

#[derive(Debug, Args, Default)]
struct ServeArgs {
    /// Listen address, e.g. 127.0.0.1:3000.
    #[arg(long, value_name = "ADDR")]
    addr: Option<SocketAddr>,
    /// Directory holding the built browser bundle.
    #[arg(long, value_name = "DIR")]
    site_root: Option<PathBuf>,
    /// Seed demo data on first start: a `demo` account (no login) owning a few Model Sets.
    #[arg(long, env = "SETPOINT_DEMO")]
    demo: bool,
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account; the password is read from the first line of standard input.
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required: passwords never go in arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Set an existing account's password, read from the first line of standard input (e.g.
    /// to log in as the demo's `demo` account, which has none).
    Password {
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required: passwords never go in arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create a key and print its secret (shown this once).
    Create {
        #[arg(long, value_name = "USERNAME")]
        account: String,
        #[arg(long)]
        name: String,
    },
    /// List an account's keys.
    List {
        #[arg(long, value_name = "USERNAME")]
        account: String,
    },
    /// Revoke a key, chosen by id, prefix or name.
    Revoke {
        #[arg(long, value_name = "USERNAME")]
        account: String,
        #[command(flatten)]
        which: KeySelector,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct KeySelector {
    #[arg(long)]
    id: Option<i64>,
    /// The prefix shown in listings, e.g. sk-sp-AbCdEfGh.
    #[arg(long)]
    prefix: Option<String>,
    #[arg(long)]
    name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("{0}")]
    Usage(String),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        Some(Command::Serve(args)) => Some(args),
        None => None,
        _ => None,
    };
    let overrides = Overrides {
        addr: serve_args.and_then(|a| a.addr),
        database_url: cli.database_url.clone(),
        site_root: serve_args.and_then(|a| a.site_root.clone()),
    };
    let config = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("setpoint: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config.log);

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("setpoint: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("setpoint: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr so that commands like `key create` keep stdout for their output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn dispatch(command: Option<Command>, config: Config) -> Result<(), CliError> {
    let command = match command {
        None => return Ok(serve::run(config, false).await?),
        Some(Command::Serve(args)) => return Ok(serve::run(config, args.demo).await?),
        Some(command) => command,
    };
    let storage = serve::open_storage(&config).await?;
    let accounts = Accounts::new(storage.clone(), config.login_limits);
    match command {
        Command::Account(AccountCommand::Create { username, .. }) => {
            let password = read_password()?;
            let account = accounts.create_account(&username, &password).await?;
            println!("created account {} (id {})", account.username, account.id);
        }
        Command::Account(AccountCommand::Password { username, .. }) => {
            let password = read_password()?;
            let account = accounts.set_password(&username, &password).await?;
            println!("set the password of {} (id {})", account.username, account.id);
        }
        Command::Evals(EvalsCommand::Status) => {
            let now = crate::clock::now_ms();
            let stats = storage.eval_queue_stats(now, now - 3_600_000).await?;
            for line in status_lines(&stats, now) {
                println!("{line}");
            }
        }
        Command::Key(KeyCommand::Create { account, name }) => {
            let owner = accounts.account_by_username(&account).await?;
            let created = accounts.create_key(owner.id, &name).await?;
            eprintln!(
                "created key {:?} ({}) for {}; the secret below is shown only now:",
                created.key.name, created.key.prefix, owner.username
            );
            println!("{}", created.secret);
        }
        Command::Key(KeyCommand::List { account }) => {
            let owner = accounts.account_by_username(&account).await?;
            println!("{:<6} {:<16} {:<24} {:<10} name", "id", "prefix", "created", "status");
            for key in accounts.list_keys(owner.id).await? {
                let status = if key.revoked_at.is_some() { "revoked" } else { "active" };
                println!(
                    "{:<6} {:<16} {:<24} {:<10} {}",
                    key.id,
                    key.prefix,
                    app::time_fmt::format_utc(key.created_at),
                    status,
                    key.name
                );
            }
        }
        Command::Key(KeyCommand::Revoke { account, which }) => {
            let owner = accounts.account_by_username(&account).await?;
            let keys = accounts.list_keys(owner.id).await?;
            let matching: Vec<_> = keys
                .iter()
                .filter(|k| {
                    which.id.is_some_and(|id| id == k.id)
                        || which.prefix.as_deref().is_some_and(|p| p == k.prefix)
                        || which.name.as_deref().is_some_and(|n| n == k.name)
                })
                .filter(|k| k.revoked_at.is_none())
                .collect();
            let key = match matching.as_slice() {
                [one] => *one,
                [] => {
                    return Err(CliError::Usage(format!(
                        "{} has no active key matching that",
                        owner.username
                    )))
                }
                many => {
                    return Err(CliError::Usage(format!(
                        "{} active keys match; choose one with --id ({})",
                        many.len(),
                        many.iter().map(|k| k.id.to_string()).collect::<Vec<_>>().join(", ")
                    )))
                }
            };
            accounts.revoke_key(owner.id, key.id).await?;
            println!("revoked key {} ({}) of {}", key.id, key.prefix, owner.username);
        }
        Command::Serve(_) => unreachable!("handled above"),
    }
    Ok(())
}

/// `evals status`, a line per figure.
fn status_lines(stats: &crate::storage::EvalQueueStats, now: i64) -> Vec<String> {
    let oldest = match stats.oldest_request_at {
        Some(at) => format!("{} s", (now - at).max(0) / 1000),
        None => "none queued".into(),
    };
    vec![
        format!("waiting: {}", stats.waiting),
        format!("running: {}", stats.running),
        format!("retrying: {}", stats.retrying),
        format!("oldest queued request age: {oldest}"),
        format!("failed in the last hour: {}", stats.failed_since),
    ]
}

/// The first line of standard input, without its line ending.
fn read_password() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Usage(format!("reading the password from standard input: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(CliError::Usage("no password on standard input".into()));
    }
    Ok(password)
}
