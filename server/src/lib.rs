//! The `setpoint` server: web app, gateway, accounts, storage.
//!
//! Data flows one way: [`http`] (request, auth) → [`accounts`] → [`storage`].
//! [`cli`] parses the command line, [`config`] loads settings, [`serve`] starts it all.

pub mod accounts;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod http;
pub mod metrics;
pub mod model_sets;
pub mod providers;
pub mod routing;
pub mod serve;
pub mod storage;
