//! The set-up checklist's counts: how many towns, products, sites, templates, future slots and
//! users the city has so far (one count per table, no rule).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;

/// The set-up checklist on the admin's start page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub towns: i64,
    pub products: i64,
    pub sites: i64,
    pub templates: i64,
    pub future_slots: i64,
    pub users: i64,
}

/// Count what the city has so far.
pub fn count(c: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<Progress> {
    use crate::db::schema::{products, site_templates, sites, slots, towns, users};
    Ok(Progress {
        towns: towns::table.count().get_result(c)?,
        products: products::table.count().get_result(c)?,
        sites: sites::table.count().get_result(c)?,
        templates: site_templates::table.count().get_result(c)?,
        future_slots: slots::table
            .filter(slots::starts_at.gt(now))
            .count()
            .get_result(c)?,
        users: users::table.count().get_result(c)?,
    })
}
