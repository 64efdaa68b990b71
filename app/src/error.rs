//! The error every server function returns. Its `Display` is what the UI shows, so each
//! message is written for the person at the keyboard; details stay in the server log.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UiError {
    /// Input that breaks a rule; the message names the rule.
    #[error("{0}")]
    Invalid(String),
    /// The same text for an unknown user and a wrong password, so neither is revealed.
    #[error("Wrong username or password.")]
    BadCredentials,
    #[error("That username is taken.")]
    UsernameTaken,
    #[error("Too many attempts. Try again in {0} seconds.")]
    RateLimited(u64),
    /// A Model Set field that breaks a rule: the form shows the message beside the field.
    #[error("{}", .0.message)]
    Field(crate::model_set::FieldError),
    #[error("Please log in first.")]
    NotLoggedIn,
    /// Everyone may read and clone a set; only its owner may change it.
    #[error("Only the owner can change this Model Set.")]
    NotOwner,
    #[error("Not found.")]
    NotFound,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The call itself failed (network, encoding): shown with what went wrong.
    #[error("Request failed: {0}")]
    Transport(String),
}

impl FromServerFnError for UiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        UiError::Transport(value.to_string())
    }
}
