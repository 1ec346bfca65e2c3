//! Towns: their codes, eligible population and contact addresses; deleting one nothing uses.

use chrono::NaiveDateTime;

use super::change::{audited, create_or_update, Entry};
use super::error::{code_taken, invalid, SetupError};
use crate::db::Db;
use crate::domain::city::{Code, Eligible};
use crate::ids::{new_id, TownId};
use crate::models::{site, town, NewTown};

/// A valid town.
#[derive(Debug, Clone)]
pub struct TownInput {
    pub code: Code,
    pub name: String,
    /// The English name, if any.
    pub name_en: Option<String>,
    pub eligible: Eligible,
    pub contact_emails: String,
    pub active: bool,
}

/// Create (`id` None) or update a town, with an audit entry. Returns its id.
pub fn save_town(
    db: &Db,
    id: Option<i64>,
    input: TownInput,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, SetupError> {
    audited(db, actor, now, move |c, _| {
        let row = NewTown {
            id: id.unwrap_or_else(new_id),
            code: input.code.as_str().to_string(),
            name: input.name.clone(),
            eligible: input.eligible.get(),
            contact_emails: input.contact_emails.clone(),
            active: input.active,
            name_en: input.name_en.clone(),
        };
        if let Some(other) = town::find_by_code(c, &row.code)? {
            if other.id != row.id {
                return Err(invalid("code", "err.setup.code_taken"));
            }
        }
        let actions = ("towns.create", "towns.update");
        let action = create_or_update(c, id, &row, town::insert, town::update, actions)?;
        let entry = Entry {
            action,
            subject: format!("town {}", row.code),
            detail: format!(
                "{}; eligible {}; contacts {}; {}",
                row.name,
                row.eligible,
                row.contact_emails,
                if row.active { "active" } else { "inactive" }
            ),
        };
        Ok((entry, row.id))
    })
    .map_err(code_taken)
}

/// Delete a town that nothing refers to; a town with sites can only be deactivated.
pub fn delete_town(db: &Db, id: i64, actor: &str, now: NaiveDateTime) -> Result<(), SetupError> {
    audited(db, actor, now, move |c, _| {
        let t = town::find(c, TownId(id))?.ok_or(SetupError::NotFound)?;
        if site::count_for_town(c, TownId(id))? > 0 {
            return Err(SetupError::Refused("err.setup.town_has_sites"));
        }
        if town::count_waiting_and_notices(c, TownId(id))? > 0 {
            return Err(SetupError::Refused("err.setup.town_in_use"));
        }
        town::delete(c, TownId(id))?;
        let entry = Entry {
            action: "towns.delete",
            subject: format!("town {}", t.code),
            detail: t.name,
        };
        Ok((entry, ()))
    })
}
