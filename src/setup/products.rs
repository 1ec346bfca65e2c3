//! Vaccine products: their series, intervals, ages and pack size; interval changes after doses
//! were given need a reason and are kept in `product_changes`.

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::error::{code_taken, invalid, FieldErrors, SetupError};
use crate::db::Db;
use crate::domain::city::{parse_code, parse_int, parse_text};
use crate::domain::{PlainText, TextRule};
use crate::ids::{new_id, ProductId};
use crate::models::product_change::{self, ProductChange};
use crate::models::{audit, product, NewProduct};

/// The product form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProductForm {
    pub code: String,
    pub name: String,
    pub manufacturer: String,
    pub doses_in_series: String,
    pub min_interval_days: String,
    pub max_interval_days: String,
    pub min_age_years: String,
    pub max_age_years: String,
    pub pack_size: String,
    pub reason: String,
    pub csrf: String,
}

/// A valid product, and the reason given for a change (may be empty).
#[derive(Debug, Clone)]
pub struct ProductInput {
    pub code: String,
    pub name: String,
    pub manufacturer: String,
    pub doses_in_series: i32,
    pub min_interval_days: i32,
    pub max_interval_days: i32,
    pub min_age_years: i32,
    pub max_age_years: i32,
    pub pack_size: i32,
    pub reason: String,
}

/// Parse the product form, collecting every error.
pub fn parse_product(f: &ProductForm) -> Result<ProductInput, SetupError> {
    let mut check = FieldErrors::default();
    let mut num = |raw: &str, field: &'static str, key: &'static str, min: i64, max: i64| {
        let v = parse_int(raw, min, max);
        if v.is_none() {
            check.add(field, key);
        }
        v.and_then(|v| i32::try_from(v).ok()).unwrap_or_default()
    };
    let doses = num(
        &f.doses_in_series,
        "doses_in_series",
        "err.setup.doses",
        1,
        5,
    );
    let min = num(
        &f.min_interval_days,
        "min_interval_days",
        "err.setup.days",
        0,
        365,
    );
    let max = num(
        &f.max_interval_days,
        "max_interval_days",
        "err.setup.days",
        0,
        365,
    );
    let min_age = num(&f.min_age_years, "min_age_years", "err.setup.age", 0, 120);
    let max_age = num(&f.max_age_years, "max_age_years", "err.setup.age", 0, 120);
    let pack = num(&f.pack_size, "pack_size", "err.setup.pack", 1, 1000);
    let code = check.read("code", parse_code(&f.code, "err.setup.code"));
    let name = check.read("name", parse_text(&f.name, 60, "err.setup.name"));
    let manufacturer = check.read(
        "manufacturer",
        parse_text(&f.manufacturer, 80, "err.setup.name"),
    );
    if max < min {
        check.add("max_interval_days", "err.setup.interval_order");
    }
    if max_age < min_age {
        check.add("max_age_years", "err.setup.age_order");
    }
    let reason = check
        .read(
            "reason",
            PlainText::parse(&f.reason, TextRule::line("reason", 200))
                .map_err(|e| e.or_key("err.setup.reason").key),
        )
        .map(PlainText::into_string)
        .unwrap_or_default();
    check.done(|| ProductInput {
        code: code.unwrap_or_default(),
        name: name.unwrap_or_default(),
        manufacturer: manufacturer.unwrap_or_default(),
        doses_in_series: doses,
        min_interval_days: min,
        max_interval_days: max,
        min_age_years: min_age,
        max_age_years: max_age,
        pack_size: pack,
        reason,
    })
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
    let actor = actor.to_string();
    db.transaction(move |c| {
        let row = NewProduct {
            id: id.unwrap_or_else(new_id),
            code: input.code.clone(),
            name: input.name.clone(),
            manufacturer: input.manufacturer.clone(),
            doses_in_series: input.doses_in_series,
            min_interval_days: input.min_interval_days,
            max_interval_days: input.max_interval_days,
            min_age_years: input.min_age_years,
            max_age_years: input.max_age_years,
            pack_size: input.pack_size,
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
        let action = match id {
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
                            changed_by: actor.clone(),
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
                product::update(c, &row)?;
                "products.update"
            }
            None => {
                if let Some(other) = product::find_id_by_code(c, &row.code)? {
                    if other != row.id {
                        return Err(invalid("code", "err.setup.code_taken"));
                    }
                }
                product::insert(c, &row)?;
                "products.create"
            }
        };
        audit::record(
            c,
            now,
            &actor,
            action,
            &format!("product {}", row.code),
            &detail,
        )?;
        Ok(row.id)
    })
    .map_err(code_taken)
}
