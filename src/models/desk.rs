//! What the clinic desk's pages show, read in a few queries: one per kind of row, never one per
//! row. Read only; the desk's writes are in `booking::clinic`, the formatting in `views::clinic`.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryResult;

use super::adverse_event::{self, AdverseEvent};
use super::lot::{self, Lot};
use super::{
    appointment, product, resident, screening, site, slot, stock, vaccination, Appointment,
    AppointmentStatus, Product, Resident, Site, Slot, StockBalance, Vaccination,
};
use crate::db::AnyConnection;
use crate::ids::{ProductId, ResidentId, SiteId, SlotId};

/// A site's day: its slots and appointments, stock and the people in observation with their
/// reactions.
pub struct DeskDay {
    pub site: Site,
    pub slots: Vec<Slot>,
    pub appointments: Vec<(Appointment, Resident)>,
    /// Why screening deferred each deferred appointment, by appointment id.
    pub deferral_reasons: HashMap<i64, String>,
    pub products: Vec<Product>,
    pub balances: Vec<StockBalance>,
    /// Unexpired lots in stock with their doses.
    pub lots: Vec<(Lot, i64)>,
    pub observing: Vec<(Vaccination, Resident)>,
    /// The reactions recorded for the doses in observation, by vaccination id.
    pub observing_reactions: HashMap<i64, Vec<AdverseEvent>>,
}

/// The site's day between `from` and `to` (`today` for lot expiry, `now` for observation);
/// `None` when the site does not exist.
pub fn day(
    c: &mut AnyConnection,
    site_id: SiteId,
    (from, to): (NaiveDateTime, NaiveDateTime),
    today: NaiveDate,
    now: NaiveDateTime,
) -> QueryResult<Option<DeskDay>> {
    let Some(site) = site::find(c, site_id)? else {
        return Ok(None);
    };
    let appointments = appointment::list_for_site_between(c, site_id, from, to)?;
    let deferred: Vec<i64> = appointments
        .iter()
        .filter(|(a, _)| a.status() == AppointmentStatus::Deferred)
        .map(|(a, _)| a.id)
        .collect();
    let observing = vaccination::list_in_observation(c, site_id, now)?;
    let ids: Vec<i64> = observing.iter().map(|(v, _)| v.id).collect();
    let mut observing_reactions: HashMap<i64, Vec<AdverseEvent>> = HashMap::new();
    for e in adverse_event::list_for_vaccinations(c, &ids)? {
        observing_reactions
            .entry(e.vaccination_id)
            .or_default()
            .push(e);
    }
    Ok(Some(DeskDay {
        site,
        slots: slot::list_for_site_between(c, site_id, from, to)?,
        deferral_reasons: screening::deferral_reasons(c, &deferred)?,
        appointments,
        products: product::list(c)?,
        balances: stock::balances_for_site(c, site_id)?,
        lots: lot::in_stock_at_site(c, site_id, Some(today))?,
        observing,
        observing_reactions,
    }))
}

/// An appointment as the check-in page shows it.
pub struct CheckinRecord {
    pub appointment: Appointment,
    pub resident: Resident,
    pub site: Site,
    pub slot: Slot,
    pub products: Vec<Product>,
    /// The resident's doses, in order, each with its reactions.
    pub history: Vec<(Vaccination, Vec<AdverseEvent>)>,
    /// Unexpired lots in stock at the appointment's site.
    pub lots: Vec<(Lot, i64)>,
}

/// What the check-in page shows of an appointment (`None` when its resident, site or slot is
/// gone); the reactions of all the resident's doses come in one query.
pub fn checkin(
    c: &mut AnyConnection,
    a: Appointment,
    today: NaiveDate,
) -> QueryResult<Option<CheckinRecord>> {
    let (Some(resident), Some(site), Some(slot)) = (
        resident::find(c, ResidentId(a.resident_id))?,
        site::find(c, SiteId(a.site_id))?,
        slot::find(c, SlotId(a.slot_id))?,
    ) else {
        return Ok(None);
    };
    let products = product::list(c)?;
    let doses = vaccination::list_for_resident(c, ResidentId(resident.id))?;
    let ids: Vec<i64> = doses.iter().map(|v| v.id).collect();
    let mut reactions: HashMap<i64, Vec<AdverseEvent>> = HashMap::new();
    for e in adverse_event::list_for_vaccinations(c, &ids)? {
        reactions.entry(e.vaccination_id).or_default().push(e);
    }
    let history = doses
        .into_iter()
        .map(|v| {
            let r = reactions.remove(&v.id).unwrap_or_default();
            (v, r)
        })
        .collect();
    let lots = lot::in_stock_at_site(c, SiteId(a.site_id), Some(today))?;
    Ok(Some(CheckinRecord {
        appointment: a,
        resident,
        site,
        slot,
        products,
        history,
        lots,
    }))
}

/// A site with its slots of a day and the products.
pub struct SiteSlots {
    pub site: Site,
    pub slots: Vec<Slot>,
    pub products: Vec<Product>,
}

/// The walk-in page's site, today's slots and the products; `None` when the site does not exist.
pub fn walk_in(
    c: &mut AnyConnection,
    site_id: SiteId,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Option<SiteSlots>> {
    let Some(site) = site::find(c, site_id)? else {
        return Ok(None);
    };
    Ok(Some(SiteSlots {
        site,
        slots: slot::list_for_site_between(c, site_id, from, to)?,
        products: product::list(c)?,
    }))
}

/// A site with the lots it holds (and their doses) and the products.
pub struct SiteLots {
    pub site: Site,
    pub lots: Vec<(Lot, i64)>,
    pub products: Vec<Product>,
}

/// The wastage page's site, every lot it holds (expired ones too: an expired vial is the
/// commonest wastage) and the products; `None` when the site does not exist.
pub fn wastage(c: &mut AnyConnection, site_id: SiteId) -> QueryResult<Option<SiteLots>> {
    let Some(site) = site::find(c, site_id)? else {
        return Ok(None);
    };
    Ok(Some(SiteLots {
        site,
        lots: lot::in_stock_at_site(c, site_id, None)?,
        products: product::list(c)?,
    }))
}

/// A dose with its resident, product and the reactions recorded so far.
pub struct DoseRecord {
    pub vaccination: Vaccination,
    pub resident: Resident,
    pub product: Product,
    pub reactions: Vec<AdverseEvent>,
}

/// A dose as the reaction page shows it; `None` when it (or its resident or product) is gone.
pub fn dose(c: &mut AnyConnection, vaccination_id: i64) -> QueryResult<Option<DoseRecord>> {
    let Some(v) = vaccination::find(c, vaccination_id)? else {
        return Ok(None);
    };
    let (Some(resident), Some(product)) = (
        resident::find(c, ResidentId(v.resident_id))?,
        product::find(c, ProductId(v.product_id))?,
    ) else {
        return Ok(None);
    };
    let reactions = adverse_event::list_for_vaccinations(c, &[v.id])?;
    Ok(Some(DoseRecord {
        vaccination: v,
        resident,
        product,
        reactions,
    }))
}
