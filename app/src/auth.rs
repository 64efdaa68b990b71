//! The sign-in state every page shares, provided once by the app root. Its own module, below
//! both the shell and the pages, so neither imports the other.

use leptos::prelude::*;

use crate::account::UserInfo;
use crate::api::accounts::{current_user, LogIn, LogOut, SignUp};
use crate::error::UiError;

/// Sign-in state shared by the header and the pages. The user is refetched whenever one
/// of the actions that change it completes.
#[derive(Clone, Copy)]
pub struct Auth {
    pub sign_up: ServerAction<SignUp>,
    pub log_in: ServerAction<LogIn>,
    pub log_out: ServerAction<LogOut>,
    pub user: Resource<Result<Option<UserInfo>, UiError>>,
}

impl Auth {
    pub fn create() -> Self {
        let sign_up = ServerAction::<SignUp>::new();
        let log_in = ServerAction::<LogIn>::new();
        let log_out = ServerAction::<LogOut>::new();
        let user = Resource::new(
            move || (sign_up.version().get(), log_in.version().get(), log_out.version().get()),
            |_| current_user(),
        );
        Auth {
            sign_up,
            log_in,
            log_out,
            user,
        }
    }
}
