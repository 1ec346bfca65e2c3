//! Towns: their codes, eligible population and contact addresses; deleting one nothing uses.

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::error::{code_taken, invalid, FieldErrors, SetupError};
use crate::db::Db;
use crate::domain::city::{checkbox, parse_code, parse_emails, parse_int, parse_text};
use crate::ids::{new_id, TownId};
use crate::models::{audit, site, town, NewTown};

/// The town form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct TownForm {
    pub code: String,
    pub name: String,
    pub eligible: String,
    pub contact_emails: String,
    pub active: String,
    pub csrf: String,
}

/// A valid town.
#[derive(Debug, Clone)]
pub struct TownInput {
    pub code: String,
    pub name: String,
    pub eligible: i64,
    pub contact_emails: String,
    pub active: bool,
}

/// Parse the town form, collecting every error.
pub fn parse_town(f: &TownForm, new: bool) -> Result<TownInput, SetupError> {
    let mut check = FieldErrors::default();
    let code = check.read("code", parse_code(&f.code, "err.setup.code"));
    let name = check.read("name", parse_text(&f.name, 60, "err.setup.name"));
    let eligible = parse_int(&f.eligible, 0, 100_000_000);
    if eligible.is_none() {
        check.add("eligible", "err.setup.eligible");
    }
    let emails = check.read(
        "contact_emails",
        parse_emails(&f.contact_emails, "err.setup.emails"),
    );
    check.done(|| TownInput {
        code: code.unwrap_or_default(),
        name: name.unwrap_or_default(),
        eligible: eligible.unwrap_or_default(),
        contact_emails: emails.unwrap_or_default(),
        active: new || checkbox(&f.active),
    })
}

/// Create (`id` None) or update a town, with an audit entry. Returns its id.
pub fn save_town(
    db: &Db,
    id: Option<i64>,
    input: TownInput,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, SetupError> {
    let actor = actor.to_string();
    db.transaction(move |c| {
        let row = NewTown {
            id: id.unwrap_or_else(new_id),
            code: input.code.clone(),
            name: input.name.clone(),
            eligible: input.eligible,
            contact_emails: input.contact_emails.clone(),
            active: input.active,
        };
        if let Some(other) = town::find_by_code(c, &row.code)? {
            if other.id != row.id {
                return Err(invalid("code", "err.setup.code_taken"));
            }
        }
        let action = match id {
            Some(_) => {
                if !town::update(c, &row)? {
                    return Err(SetupError::NotFound);
                }
                "towns.update"
            }
            None => {
                town::insert(c, &row)?;
                "towns.create"
            }
        };
        audit::record(
            c,
            now,
            &actor,
            action,
            &format!("town {}", row.code),
            &format!(
                "{}; eligible {}; contacts {}; {}",
                row.name,
                row.eligible,
                row.contact_emails,
                if row.active { "active" } else { "inactive" }
            ),
        )?;
        Ok(row.id)
    })
    .map_err(code_taken)
}

/// Delete a town that nothing refers to; a town with sites can only be deactivated.
pub fn delete_town(db: &Db, id: i64, actor: &str, now: NaiveDateTime) -> Result<(), SetupError> {
    let actor = actor.to_string();
    db.transaction(move |c| {
        let t = town::find(c, TownId(id))?.ok_or(SetupError::NotFound)?;
        if site::count_for_town(c, TownId(id))? > 0 {
            return Err(SetupError::Refused("err.setup.town_has_sites"));
        }
        if town::count_waiting_and_notices(c, TownId(id))? > 0 {
            return Err(SetupError::Refused("err.setup.town_in_use"));
        }
        town::delete(c, TownId(id))?;
        audit::record(
            c,
            now,
            &actor,
            "towns.delete",
            &format!("town {}", t.code),
            &t.name,
        )?;
        Ok(())
    })
}
