//! The bureau's shipment workflow: record a shipment with its lots; build the lex-v1 instance
//! from the database; plan it (and split each town's share across its sites); adjust a town's
//! share against the optimal plan; approve it in one transaction (stock ledger, seats held for
//! second doses, notices to towns). No HTTP here.
//!
//! Instances are built as `vax-alloc-instance/1` documents and go through the same parser as the
//! `plan-allocation` CLI, so what the page plans, an analyst can re-run from the downloaded JSON.

mod approve;
mod instance;
mod plan;
mod shipments;

use std::collections::HashMap;

use crate::db::{AnyConnection, StorageError};
use crate::i18n::Keyed;
use crate::models::{town, Town};

pub use approve::approve;
pub use instance::{build_instance, StoredInstance};
pub use plan::{
    adjust, load_plan, make_plan, optimal_plan, Adjustment, LevelTotals, LoadedPlan, SiteLine,
    StoredPlan, TownLine,
};
pub use shipments::{parse_lots, record_shipment, LotInput, ShipmentInput};

/// Why a bureau action was refused. `Field` errors name the form field and a catalogue key.
#[derive(Debug, thiserror::Error)]
pub enum BureauError {
    #[error("{field}: {key}")]
    Field {
        field: &'static str,
        key: &'static str,
    },
    #[error("lots line {line}: {key}")]
    Lot { line: usize, key: &'static str },
    #[error("not found")]
    NotFound,
    #[error("the plan is approved already")]
    AlreadyApproved,
    #[error("another plan for this shipment is approved")]
    OtherApproved,
    /// The stored plan's shares do not add up (a town's sites get more or less than its share,
    /// or the shares exceed the shipment's lots): it is not carried out.
    #[error("the plan's shares do not add up at the sites")]
    Unplaced,
    /// The plan kept changing under an adjustment (others adjusting it at the same moment).
    #[error("the plan changed while it was being adjusted")]
    Changed,
    #[error("the instance could not be planned: {0}")]
    Instance(String),
    /// The database failed; not the request's fault.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

crate::db::storage_error_from!(BureauError);

impl Keyed for BureauError {
    /// The catalogue key of the message shown to the bureau.
    fn key(&self) -> &'static str {
        match self {
            BureauError::Field { key, .. } | BureauError::Lot { key, .. } => key,
            BureauError::NotFound => "err.not_found",
            BureauError::AlreadyApproved => "err.plan.approved",
            BureauError::OtherApproved => "err.plan.other_approved",
            BureauError::Unplaced => "err.plan.unplaced",
            BureauError::Changed => "err.plan.changed",
            BureauError::Instance(_) => "err.plan.instance",
            BureauError::Storage(_) => "err.internal",
        }
    }
}

impl BureauError {
    /// Whether this is the system's fault rather than the request's.
    pub fn is_internal(&self) -> bool {
        matches!(self, BureauError::Storage(_))
    }
}

/// A refusal that names a form field and a catalogue key.
fn field(field: &'static str, key: &'static str) -> BureauError {
    BureauError::Field { field, key }
}

/// Towns by id, for pages.
pub fn towns_by_id(c: &mut AnyConnection) -> Result<HashMap<i64, Town>, BureauError> {
    Ok(town::list_active(c)?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}
