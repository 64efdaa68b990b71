//! One module per route.

pub mod account;
pub mod home;
pub mod log_in;
pub mod model_sets;
pub mod not_found;
pub mod sign_up;
