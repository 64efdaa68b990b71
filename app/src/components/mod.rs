//! Pieces shared by several pages.

pub mod form;
pub mod header;
pub mod local_time;
pub mod snippet;
pub mod verdict;
