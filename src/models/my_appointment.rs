//! What a resident's own appointment page shows, read in a few queries, as `desk` reads the
//! desk's: the appointment with its resident, slot, site and vaccine in one query, then the
//! resident's doses, the booking of their next dose if there is one, and why screening deferred
//! this one (`find_joined` alone for the question before cancelling). Read only;
//! `views::resident` formats it.

use diesel::prelude::*;

use super::{
    appointment, screening, vaccination, Appointment, AppointmentStatus, Product, Resident, Site,
    Slot, Vaccination,
};
use crate::db::schema::{appointments, products, residents, sites, slots};
use crate::db::AnyConnection;
use crate::ids::{AppointmentId, ResidentId};

/// An appointment and what its page says about it.
pub struct MyAppointment {
    pub appointment: Appointment,
    pub resident: Resident,
    pub slot: Slot,
    pub site: Site,
    pub product: Product,
    /// The resident's doses, in order.
    pub doses: Vec<Vaccination>,
    /// The active booking of the resident's next dose, when they have one.
    pub next_booked: Option<Appointment>,
    /// Why screening deferred this appointment, when it did.
    pub deferral_reason: Option<String>,
}

/// An appointment with its resident, slot, site and vaccine.
pub type Joined = (Appointment, Resident, Slot, Site, Product);

/// The appointment `id` with its resident, slot, site and vaccine, in one query (what the
/// question before cancelling shows); `None` when there is no such appointment.
pub fn find_joined(c: &mut AnyConnection, id: AppointmentId) -> QueryResult<Option<Joined>> {
    appointments::table
        .inner_join(residents::table)
        .inner_join(slots::table.on(slots::id.eq(appointments::slot_id)))
        .inner_join(sites::table.on(sites::id.eq(appointments::site_id)))
        .inner_join(products::table.on(products::id.eq(appointments::product_id)))
        .filter(appointments::id.eq(id.0))
        .select((
            Appointment::as_select(),
            Resident::as_select(),
            Slot::as_select(),
            Site::as_select(),
            Product::as_select(),
        ))
        .first(c)
        .optional()
}

/// The appointment `id` and what its page needs; `None` when there is no such appointment.
pub fn read(c: &mut AnyConnection, id: AppointmentId) -> QueryResult<Option<MyAppointment>> {
    let found = find_joined(c, id)?;
    let Some((appointment, resident, slot, site, product)) = found else {
        return Ok(None);
    };
    let doses = vaccination::list_for_resident(c, ResidentId(resident.id))?;
    let next = doses.len() as i32 + 1;
    let next_booked = appointment::find_active_for_dose(c, ResidentId(resident.id), next)?;
    let deferral_reason = if appointment.status() == AppointmentStatus::Deferred {
        screening::latest_for_appointment(c, AppointmentId(appointment.id))?
            .filter(|sc| sc.outcome == "deferred")
            .map(|sc| sc.reason)
    } else {
        None
    };
    Ok(Some(MyAppointment {
        appointment,
        resident,
        slot,
        site,
        product,
        doses,
        next_booked,
        deferral_reason,
    }))
}
