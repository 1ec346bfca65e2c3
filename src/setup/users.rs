//! Staff, bureau and admin accounts: creating one, activating or deactivating, new passwords.

use chrono::NaiveDateTime;

use super::change::{audited, Entry};
use super::error::{code_taken, invalid, SetupError};
use crate::db::Db;
use crate::domain::city::{Password, Username};
use crate::ids::{new_id, SiteId, UserId};
use crate::models::{audit, site, user, NewUser, Role};

/// A valid new user (a clinic user has a site, others none).
#[derive(Debug, Clone)]
pub struct UserInput {
    pub username: Username,
    pub role: Role,
    pub site_id: Option<i64>,
    pub password: Password,
}

/// Who creates an account: an administrator on the users page, or `dosewise create-user`. The
/// rule is the same; the audit entry says which.
#[derive(Debug, Clone, Copy)]
pub enum CreatedBy<'a> {
    /// The administrator with this username.
    Admin(&'a str),
    /// The command line (the city's first admin).
    Cli,
}

/// Create a staff, bureau or admin user (Argon2id password), with an audit entry. The site must
/// exist and the username be free (field errors `site_id` and `username` otherwise).
pub fn create_user(
    db: &Db,
    input: UserInput,
    by: CreatedBy<'_>,
    now: NaiveDateTime,
) -> Result<i64, SetupError> {
    let hash = crate::security::hash_password(input.password.expose()).map_err(SetupError::Hash)?;
    let actor = match by {
        CreatedBy::Admin(name) => Some(name.to_string()),
        CreatedBy::Cli => None,
    };
    db.transaction(move |c| {
        if let Some(sid) = input.site_id {
            site::find(c, SiteId(sid))?.ok_or_else(|| invalid("site_id", "err.setup.user_site"))?;
        }
        if user::find_by_username(c, input.username.as_str())?.is_some() {
            return Err(invalid("username", "err.setup.username_taken"));
        }
        let id = new_id();
        user::insert(
            c,
            &NewUser {
                id,
                username: input.username.as_str().to_string(),
                password_hash: hash,
                role: input.role.as_str().into(),
                site_id: input.site_id,
                active: true,
                created_at: now,
            },
        )?;
        match &actor {
            Some(actor) => audit::record(
                c,
                now,
                actor,
                "users.create",
                &format!("user {}", input.username.as_str()),
                &format!(
                    "role {}{}",
                    input.role.as_str(),
                    input
                        .site_id
                        .map(|s| format!(", site {s}"))
                        .unwrap_or_default()
                ),
            )?,
            None => audit::record(
                c,
                now,
                "cli",
                "create-user",
                input.username.as_str(),
                input.role.as_str(),
            )?,
        }
        Ok(id)
    })
    .map_err(code_taken)
}

/// Activate or deactivate a user; deactivating ends their sessions at once. An admin cannot
/// deactivate themselves (the city would lose its last way in).
pub fn set_user_active(
    db: &Db,
    id: i64,
    active: bool,
    actor_id: i64,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), SetupError> {
    if id == actor_id && !active {
        return Err(SetupError::Refused("err.setup.self"));
    }
    audited(db, actor, now, move |c, _| {
        let u = user::find(c, UserId(id))?.ok_or(SetupError::NotFound)?;
        user::set_active(c, UserId(id), active)?;
        let ended = if active {
            0
        } else {
            user::revoke_all_sessions(c, UserId(id), now)?
        };
        let entry = Entry {
            action: if active {
                "users.activate"
            } else {
                "users.deactivate"
            },
            subject: format!("user {}", u.username),
            detail: format!("{ended} sessions ended"),
        };
        Ok((entry, ()))
    })
}

/// Set a new password for a user and end their sessions.
pub fn reset_password(
    db: &Db,
    id: i64,
    password: &Password,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), SetupError> {
    let hash = crate::security::hash_password(password.expose()).map_err(SetupError::Hash)?;
    audited(db, actor, now, move |c, _| {
        let u = user::find(c, UserId(id))?.ok_or(SetupError::NotFound)?;
        user::set_password(c, UserId(id), &hash)?;
        let ended = user::revoke_all_sessions(c, UserId(id), now)?;
        let entry = Entry {
            action: "users.password",
            subject: format!("user {}", u.username),
            detail: format!("password reset; {ended} sessions ended"),
        };
        Ok((entry, ()))
    })
}
