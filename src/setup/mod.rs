//! City set-up, the administrator's work: towns, vaccine products, sites with the products they
//! give and their weekly template, exceptions to the template, staff accounts, and the CSV
//! import of towns and sites. No HTTP here.
//!
//! Slots are published from each site's template (`plan_slots`, pure; `publish_site`, one
//! transaction) for the days ahead, in the city's time zone, stored as UTC. Publishing again
//! never duplicates a slot (inserts skip an existing `(site, product, start)`), never changes a
//! slot that has bookings, and withdraws or reshapes only unbooked future slots that the template
//! no longer describes. Exceptions are the one way seats of a booked slot change: the booked
//! appointments that no longer fit are moved to the nearest equivalent seat
//! (`booking::relocate`), or cancelled and put first on the town's waiting list when there is
//! none, in the same transaction; each resident is mailed the reason and the new time (or the
//! cancellation) through the outbox, and the audit log records each change (actor `system`).

mod change;
mod csv;
mod error;
mod exceptions;
mod products;
mod publish;
mod sites;
mod towns;
mod users;

pub use crate::domain::city::hm;
pub use csv::{import_csv, parse_csv_rows, ImportReport, EXAMPLE_CSV};
pub use error::{invalid, FieldErrors, SetupError};
pub use exceptions::*;
pub use products::*;
pub use publish::*;
pub use sites::*;
pub use towns::*;
pub use users::*;
