//! One module per route (a folder for a page with several parts).

pub mod account;
pub mod editor;
pub mod home;
pub mod log_in;
pub mod model_set;
pub mod model_sets;
pub mod models;
pub mod not_found;
pub mod sign_up;
