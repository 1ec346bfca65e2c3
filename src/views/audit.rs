//! The audit trail as the bureau reads it: ids in entries (`site 12`, `user 7`,
//! `appointment 9`, `product 3`, `town 5`) replaced by names, the town each entry concerns, and
//! the page with its filters and paging.

use askama::Template;
use chrono_tz::Tz;

use crate::models::audit::{AuditEntry, Mentioned, Names};
use crate::views::layout::Layout;

/// The words before an id that name something.
const KINDS: [&str; 5] = ["site", "user", "appointment", "product", "town"];

/// Each (kind, id) an entry's text mentions.
fn mentions(text: &str) -> Vec<(&str, i64)> {
    let words: Vec<&str> = text.split(' ').collect();
    words
        .windows(2)
        .filter(|w| KINDS.contains(&w[0]))
        .filter_map(|w| w[1].parse::<i64>().ok().map(|id| (w[0], id)))
        .collect()
}

/// The ids that `entries` mention, by kind.
pub fn mentioned(entries: &[AuditEntry]) -> Mentioned {
    let mut m = Mentioned::default();
    for e in entries {
        for (kind, id) in mentions(&e.subject).into_iter().chain(mentions(&e.detail)) {
            let list = match kind {
                "site" => &mut m.sites,
                "user" => &mut m.users,
                "appointment" => &mut m.appointments,
                "product" => &mut m.products,
                _ => &mut m.towns,
            };
            list.push(id);
        }
        m.towns.extend(e.town_id);
    }
    for list in [
        &mut m.sites,
        &mut m.users,
        &mut m.appointments,
        &mut m.products,
        &mut m.towns,
    ] {
        list.sort_unstable();
        list.dedup();
    }
    m
}

/// `text` with each mentioned id that has a name replaced by it.
pub fn describe(text: &str, n: &Names) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let name = i
            .checked_sub(1)
            .and_then(|p| {
                let id = w.parse::<i64>().ok()?;
                match words[p] {
                    "site" => n.sites.get(&id),
                    "user" => n.users.get(&id),
                    "appointment" => n.appointments.get(&id),
                    "product" => n.products.get(&id),
                    "town" => n.towns.get(&id),
                    _ => None,
                }
            })
            .map(String::as_str);
        out.push(name.unwrap_or(w));
    }
    out.join(" ")
}

/// An entry as shown: time in the city, names instead of ids.
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub town: String,
}

/// The rows of `entries`.
pub fn rows(entries: Vec<AuditEntry>, n: &Names, tz: Tz) -> Vec<AuditRow> {
    entries
        .into_iter()
        .map(|e| AuditRow {
            at: crate::views::local(tz, e.created_at)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            subject: describe(&e.subject, n),
            detail: describe(&e.detail, n),
            town: e
                .town_id
                .and_then(|t| n.towns.get(&t).cloned())
                .unwrap_or_default(),
            actor: e.actor,
            action: e.action,
        })
        .collect()
}

/// The audit page: filters, one page of entries, links to the pages around it and the export.
#[derive(Template)]
#[template(path = "bureau/audit.html")]
pub struct AuditPage {
    pub ctx: Layout,
    pub rows: Vec<AuditRow>,
    /// Every action recorded, for the kind filter.
    pub actions: Vec<String>,
    /// (id, name) of each town.
    pub towns: Vec<(String, String)>,
    pub from: String,
    pub to: String,
    pub town: String,
    pub kind: String,
    pub user: String,
    /// The 1-based page number.
    pub page: u32,
    /// Links to the previous and next page, when there are such pages.
    pub prev: Option<String>,
    pub next: Option<String>,
    /// The export of the same filters.
    pub export: String,
}
