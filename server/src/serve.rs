//! Starting and stopping the server.

use std::net::SocketAddr;
use std::sync::Arc;

use app::backend::SharedBackend;
use axum::serve::ListenerExt;
use leptos::prelude::LeptosOptions;
use tower_sessions::ExpiredDeletion;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::http::gateway::KeyLimiter;
use crate::http::{self, AppState, SessionSettings};
use crate::model_sets::ModelSets;
use crate::routing::Routing;
use crate::storage::sessions::StorageSessionStore;
use crate::storage::{self, SharedStorage};

/// Records read at start-up to warm the routing estimates.
const SEED_RECORDS: i64 = 20_000;
/// Eval scores read at start-up to warm the routing's eval estimates: the latest ones of the
/// last [`SEED_EVAL_HOURS`] hours, up to this many (the estimates halve every half hour, so
/// older ones would weigh next to nothing).
const SEED_EVALS: i64 = 10_000;
const SEED_EVAL_HOURS: i64 = 24;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("database {url}: {source}")]
    Storage { url: String, source: storage::StorageError },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("site root {0}: missing pkg/setpoint.js; build it with scripts/build-site")]
    NoSite(String),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Providers(String),
}

/// Opens the database named by the config, migrating it.
pub async fn open_storage(config: &Config) -> Result<SharedStorage, ServeError> {
    storage::connect(&config.database_url)
        .await
        .map_err(|source| ServeError::Storage {
            url: redact(&config.database_url),
            source,
        })
}

/// Hides a password in a database URL before it is printed.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

pub async fn run(config: Config, demo: bool) -> Result<(), ServeError> {
    let site_root = config.site_root.to_string_lossy().to_string();
    if !config.site_root.join("pkg/setpoint.js").is_file() {
        return Err(ServeError::NoSite(site_root));
    }
    let storage = open_storage(&config).await?;
    let storage_error = |source| ServeError::Storage {
        url: redact(&config.database_url),
        source,
    };
    // Before anything writes rollups: hours already in the per-set table are left alone, so
    // the backfill must not see this server's own new rows as old ones.
    crate::metrics::rollup::backfill_set_hours(&storage)
        .await
        .map_err(storage_error)?;

    let timeouts = config.gateway.timeouts;
    let (providers, served_catalog) =
        crate::providers::build(&config.providers, &config.catalog, timeouts).map_err(ServeError::Providers)?;
    crate::catalog::sync(&storage, &served_catalog)
        .await
        .map_err(storage_error)?;
    let catalog = crate::catalog::index(&served_catalog);
    let seeded = match demo {
        true => Some(crate::demo::seed(&storage, &catalog).await.map_err(storage_error)?),
        false => None,
    };
    let (metrics, metrics_writers) = crate::metrics::start(storage.clone());
    let routing = Arc::new(Routing::new(&catalog));
    // What the last run learned: its most recent records, so routing does not start blind;
    // with a demo history made just now, its last hours too.
    let mut records = match storage.list_request_records(SEED_RECORDS).await {
        Ok(records) => records,
        Err(e) => {
            tracing::warn!(error = %e, "could not read recent records; routing starts from priors");
            Vec::new()
        }
    };
    if let Some(seeded) = &seeded {
        if !seeded.recent.is_empty() {
            records.extend(seeded.recent.iter().cloned());
            records.sort_by_key(|r| r.at);
        }
    }
    let now = crate::clock::now_ms();
    routing.seed(&records, now);
    drop(records);
    // Eval scores come back too: a set that requires or maximises one has no plan without
    // them, and routes uniformly until new evals are scored.
    let mut scores = match storage
        .recent_eval_scores(now - SEED_EVAL_HOURS * 3_600_000, SEED_EVALS)
        .await
    {
        Ok(scores) => scores,
        Err(e) => {
            tracing::warn!(error = %e, "could not read recent eval scores; routing waits for new ones");
            Vec::new()
        }
    };
    if let Some(seeded) = &seeded {
        // The history's latest results are stored as well, and read above: each once.
        let stored: std::collections::HashSet<(&str, &str)> = scores
            .iter()
            .map(|r| (r.request_id.as_str(), r.metric.as_str()))
            .collect();
        let fresh: Vec<_> = seeded
            .recent_evals
            .iter()
            .filter(|r| !stored.contains(&(r.request_id.as_str(), r.metric.as_str())))
            .cloned()
            .collect();
        scores.extend(fresh);
        scores.sort_by_key(|r| r.scored_at);
    }
    routing.seed_evals(&scores, now);
    drop(scores);
    tokio::spawn(routing.clone().replan_forever());
    let providers = Arc::new(providers);
    let evals = crate::evals::Evals::start(
        config.evals.clone(),
        storage.clone(),
        &catalog,
        providers.clone(),
        routing.clone(),
    );
    let key_limiter = Arc::new(KeyLimiter::new(config.gateway.requests_per_minute_per_key));
    let try_limiter = Arc::new(KeyLimiter::new(config.gateway.requests_per_minute_per_key));

    let accounts = Arc::new(Accounts::new(storage.clone(), config.login_limits));
    let catalog_for_demo = catalog.clone();
    let model_sets = Arc::new(ModelSets::new(storage.clone(), catalog.clone()));
    let backend: SharedBackend = Arc::new(http::pages::PagesBackend {
        accounts: accounts.clone(),
        model_sets: model_sets.clone(),
        storage: storage.clone(),
        routing: routing.clone(),
        catalog: catalog.clone(),
    });
    let leptos_options = LeptosOptions::builder()
        .output_name("setpoint")
        .site_root(site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build();
    let state = AppState::new(http::Shared {
        leptos_options,
        routes: Arc::new(http::pages::routes()),
        storage: storage.clone(),
        catalog,
        providers,
        routing: routing.clone(),
        metrics,
        evals: evals.sink.clone(),
        key_limiter: key_limiter.clone(),
        try_limiter: try_limiter.clone(),
        max_body_bytes: config.gateway.max_body_bytes,
        accounts: accounts.clone(),
        model_sets,
        backend,
    });
    let router = http::router(
        state,
        SessionSettings {
            secure_cookies: config.secure_cookies,
            days: config.session_days,
        },
    );

    // Housekeeping: expired sessions and idle rate-limit buckets.
    let sweeper = StorageSessionStore::new(storage.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(http::SESSION_SWEEP);
        loop {
            tick.tick().await;
            if let Err(e) = sweeper.delete_expired().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
        }
    });
    let watcher = accounts.clone();
    tokio::spawn(async move { watcher.watch_revocations().await });
    let limiter_owner = accounts.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter_owner.limiter().forget_idle();
            key_limiter.forget_idle();
            try_limiter.forget_idle();
        }
    });

    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let local = listener.local_addr()?;
    // Without TCP_NODELAY, small responses on kept-alive connections wait ~40 ms for
    // Nagle's algorithm and delayed ACKs.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
    });
    // Tells the demo traffic to stop as the server starts shutting down: its requests in
    // flight would otherwise hold the graceful shutdown up.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let traffic = match seeded {
        Some(seeded) => {
            start_demo_traffic(
                &storage,
                &catalog_for_demo,
                accounts.clone(),
                seeded.account_id,
                local,
                stop_rx,
            )
            .await
        }
        None => None,
    };
    tracing::info!(addr = %local, database = %redact(&config.database_url), "Setpoint listening on http://{local}");
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .await?;
    if let Some(traffic) = traffic {
        traffic.stopped().await;
    }
    // Every handler (and so every metrics and eval sink) is gone: the writers store what is
    // queued.
    metrics_writers.finished().await;
    evals.finished().await;
    tracing::info!("stopped");
    Ok(())
}

/// Starts the demo's live traffic; a failure is logged and the server runs without it.
async fn start_demo_traffic(
    storage: &SharedStorage,
    catalog: &crate::catalog::Catalog,
    accounts: Arc<Accounts>,
    account_id: i64,
    addr: SocketAddr,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<crate::demo::traffic::Traffic> {
    let targets = match crate::demo::targets(storage, catalog).await {
        Ok(targets) => targets,
        Err(e) => {
            tracing::warn!(error = %e, "no demo traffic: could not read the demo sets");
            return None;
        }
    };
    match crate::demo::traffic::start(accounts, account_id, targets, addr, stop).await {
        Ok(traffic) => Some(traffic),
        Err(e) => {
            tracing::warn!(error = %e, "no demo traffic: could not make its key");
            None
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
