//! Vaccine products: their series, intervals, ages and pack size; interval changes after doses
//! were given need a reason and are kept in `product_changes`.

use chrono::NaiveDateTime;

use super::change::{audited, create_or_update, Entry};
use super::error::{code_taken, invalid, SetupError};
use crate::db::Db;
use crate::domain::city::{AgeRange, Code, DoseCount, Interval, PackSize};
use crate::ids::{new_id, ProductId};
use crate::models::product_change::{self, ProductChange};
use crate::models::{product, NewProduct};

/// A valid product, and the reason given for a change (may be empty).
#[derive(Debug, Clone)]
pub struct ProductInput {
    pub code: Code,
    pub name: String,
    /// The English name, if any.
    pub name_en: Option<String>,
    pub manufacturer: String,
    pub doses_in_series: DoseCount,
    pub interval: Interval,
    pub ages: AgeRange,
    pub pack_size: PackSize,
    pub reason: String,
}

/// Create or update a product. Once a dose of it has been given, its interval changes only
/// with a reason, recorded in `product_changes`; the interval is read when a next dose is
/// booked, so the change applies only to doses not yet given.
pub fn save_product(
    db: &Db,
    id: Option<i64>,
    input: ProductInput,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, SetupError> {
    audited(db, actor, now, move |c, actor| {
        let row = NewProduct {
            id: id.unwrap_or_else(new_id),
            code: input.code.as_str().to_string(),
            name: input.name.clone(),
            manufacturer: input.manufacturer.clone(),
            doses_in_series: input.doses_in_series.get(),
            min_interval_days: input.interval.min(),
            max_interval_days: input.interval.max(),
            min_age_years: input.ages.min(),
            max_age_years: input.ages.max(),
            pack_size: input.pack_size.get(),
            name_en: input.name_en.clone(),
        };
        let mut detail = format!(
            "{} ({}); {} doses, {}-{} days apart, ages {}-{}, packs of {}",
            row.name,
            row.manufacturer,
            row.doses_in_series,
            row.min_interval_days,
            row.max_interval_days,
            row.min_age_years,
            row.max_age_years,
            row.pack_size
        );
        match id {
            Some(pid) => {
                let old = product::find(c, ProductId(pid))?.ok_or(SetupError::NotFound)?;
                let interval_changed = old.min_interval_days != row.min_interval_days
                    || old.max_interval_days != row.max_interval_days;
                if interval_changed && product::has_been_given(c, ProductId(pid))? {
                    if input.reason.is_empty() {
                        return Err(invalid("reason", "err.setup.interval_reason"));
                    }
                    product_change::insert(
                        c,
                        &ProductChange {
                            id: new_id(),
                            product_id: pid,
                            old_min_interval_days: old.min_interval_days,
                            old_max_interval_days: old.max_interval_days,
                            new_min_interval_days: row.min_interval_days,
                            new_max_interval_days: row.max_interval_days,
                            reason: input.reason.clone(),
                            changed_by: actor.to_string(),
                            changed_at: now,
                        },
                    )?;
                }
                if interval_changed {
                    detail.push_str(&format!(
                        "; interval was {}-{} days",
                        old.min_interval_days, old.max_interval_days
                    ));
                    if !input.reason.is_empty() {
                        detail.push_str(&format!("; reason: {}", input.reason));
                    }
                }
            }
            None => {
                if let Some(other) = product::find_id_by_code(c, &row.code)? {
                    if other != row.id {
                        return Err(invalid("code", "err.setup.code_taken"));
                    }
                }
            }
        }
        let actions = ("products.create", "products.update");
        let action = create_or_update(c, id, &row, product::insert, product::update, actions)?;
        let entry = Entry {
            action,
            subject: format!("product {}", row.code),
            detail,
        };
        Ok((entry, row.id))
    })
    .map_err(code_taken)
}
