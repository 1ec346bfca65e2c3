//! Staff and bureau users, and their login sessions (stored so that logout ends them).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{sessions, users};
use crate::db::AnyConnection;
use crate::ids::UserId;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Clinic staff at one site.
    Clinic,
    /// The health bureau.
    Bureau,
    /// Administrators: city set-up, and everything the others may do.
    Admin,
}

impl Role {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinic => "clinic",
            Role::Bureau => "bureau",
            Role::Admin => "admin",
        }
    }

    /// Parse the stored or typed text.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "clinic" => Some(Role::Clinic),
            "bureau" => Some(Role::Bureau),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this role may act as `needed` (an admin may act as anyone).
    pub fn allows(self, needed: Role) -> bool {
        self == needed || self == Role::Admin
    }
}

/// A user.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub site_id: Option<i64>,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

impl User {
    /// The parsed role (an unknown stored role allows nothing beyond clinic).
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Clinic)
    }
}

/// A user to insert (the same columns).
pub type NewUser = User;

/// A login session; the cookie carries the token, the table only its hash.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// Insert a user.
pub fn insert(conn: &mut AnyConnection, u: &NewUser) -> QueryResult<()> {
    super::insert_into(conn, users::table, u)
}

/// The active user with this name.
pub fn find_active_by_username(
    conn: &mut AnyConnection,
    username: &str,
) -> QueryResult<Option<User>> {
    super::find_one(
        conn,
        users::table
            .filter(users::username.eq(username))
            .filter(users::active.eq(true)),
    )
}

/// How many users exist.
pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Start a session.
pub fn insert_session(conn: &mut AnyConnection, s: &Session) -> QueryResult<()> {
    super::insert_into(conn, sessions::table, s)
}

/// The user behind a live session: not expired, not revoked, the user still active.
pub fn find_session_user(
    conn: &mut AnyConnection,
    session_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<User>> {
    super::find_one(
        conn,
        sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(session_hash))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .filter(users::active.eq(true)),
    )
}

/// End a session (logout); the token can never be used again.
pub fn revoke_session(
    conn: &mut AnyConnection,
    session_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_hash))
        .set(sessions::revoked_at.eq(Some(now)))
        .execute(conn)
        .map(|_| ())
}

/// One user.
pub fn find(conn: &mut AnyConnection, id: UserId) -> QueryResult<Option<User>> {
    super::find_one(conn, users::table.find(id.0))
}

/// Every user by name (the admin's list).
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<User>> {
    super::load_all(conn, users::table.order(users::username.asc()))
}

/// Activate or deactivate a user; false if it does not exist.
pub fn set_active(conn: &mut AnyConnection, id: UserId, active: bool) -> QueryResult<bool> {
    super::update_one(conn, users::table.find(id.0), users::active.eq(active))
}

/// Replace a user's password hash; false if it does not exist.
pub fn set_password(conn: &mut AnyConnection, id: UserId, hash: &str) -> QueryResult<bool> {
    super::update_one(conn, users::table.find(id.0), users::password_hash.eq(hash))
}

/// End every live session of a user at once.
pub fn revoke_all_sessions(
    conn: &mut AnyConnection,
    id: UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(id.0))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(Some(now)))
    .execute(conn)
}

/// The user with this name, active or not.
pub fn find_by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    super::find_one(conn, users::table.filter(users::username.eq(username)))
}
