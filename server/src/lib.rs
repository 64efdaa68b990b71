//! The `setpoint` server: web app, gateway, accounts, storage.
//!
//! A gateway request flows one way: [`http`] (the request; the key checked by [`accounts`]) →
//! [`model_sets`] (the `@owner/slug` it names) → [`routing`] (which model) → [`providers`]
//! (the answer) → [`metrics`] (one record, written in batches) → [`storage`].
//! [`catalog`] lists the models and their prices. [`cli`] parses the command line, [`config`]
//! loads settings, [`serve`] starts it all ([`demo`] seeds demo data; [`clock`] tells the time).

pub mod accounts;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod evals;
pub mod hash_map;
pub mod http;
pub mod metrics;
pub mod model_sets;
pub mod monitoring;
pub mod providers;
pub mod routing;
pub mod serve;
pub mod storage;
