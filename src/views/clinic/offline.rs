//! What the desk keeps of its day to work offline: today's list as JSON (the rows of the day's
//! page: names, masked ID numbers, codes, slots, screening state; never a full ID number).

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{json, Value};

use super::TodayPage;

/// Today's list of `page` for `user`; `ends` is the UTC instant the city's day ends, after
/// which the desk drops its copy.
pub fn offline_list(page: &TodayPage, user: i64, day: NaiveDate, ends: NaiveDateTime) -> Value {
    let rows: Vec<Value> = page
        .slots
        .iter()
        .flat_map(|b| {
            b.rows.iter().map(move |r| {
                json!({
                    "code": r.code,
                    "code_shown": r.code_shown,
                    "name": r.name,
                    "masked_id": r.masked_id,
                    "slot": b.id,
                    "time": b.time,
                    "product": b.product,
                    "dose": r.dose,
                    "status": r.status,
                    "status_label": r.status_label,
                    "reason": r.reason,
                })
            })
        })
        .collect();
    json!({
        "site": page.site_id,
        "site_name": page.site_name,
        "user": user.to_string(),
        "day": day.format("%Y-%m-%d").to_string(),
        "until": ends.and_utc().timestamp_millis(),
        "rows": rows,
    })
}
