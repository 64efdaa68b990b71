//! Setpoint's shared crate: the types both the browser and the server speak, the pages,
//! and the server functions behind them (their bodies compile only with `ssr`).
//!
//! Module map:
//! - [`account`], [`catalog`], [`model_set`]: plain serde types and the validation rules
//!   that both sides apply (the server's check is the one that counts).
//! - [`monitoring`]: the series the monitoring charts draw.
//! - [`format`], [`charts`]: numbers for people (units, honest precision) and the charts
//!   drawn from them, plotters series to SVG strings, the same on the server and in WASM.
//! - [`engine`]: the routing engine's pure maths (estimates, plan, verdict, projection,
//!   alias draws), shared by the server's router and the browser's projections.
//! - [`error`]: the one error type server functions return to the UI.
//! - [`evals`]: the LLM-judge metrics a set can ask for, and what judging costs.
//! - [`api`]: server functions, called by pages over HTTP from the browser.
//! - [`backend`] (ssr only): the narrow trait the server implements for those functions.
//! - [`views`]: what the registry, set and models pages receive.
//! - [`auth`]: the sign-in state the pages share.
//! - [`chat`]: the set page's "Try it" stream as the browser reads it, and its summary.
//! - [`pages`], [`components`], [`shell`]: the Leptos UI.
// Deep view types (the set page) overflow the default query depth in the hydrate build.
#![recursion_limit = "256"]

pub mod account;
pub mod api;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod catalog;
pub mod charts;
pub mod chat;
pub mod components;
pub mod describe;
pub mod engine;
pub mod error;
pub mod evals;
pub mod format;
pub mod model_set;
pub mod monitoring;
pub mod pages;
pub mod shell;
pub mod time_fmt;
pub mod views;

pub use shell::{shell, App};
