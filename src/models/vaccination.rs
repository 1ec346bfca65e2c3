//! Vaccinations: doses given. Staff recording arrives with the clinic pages; this is the record
//! and the model function that writes it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::vaccinations;
use crate::db::AnyConnection;
use crate::domain::eligibility::GivenDose;
use crate::ids::ResidentId;

/// A dose given.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = vaccinations)]
pub struct Vaccination {
    pub id: i64,
    pub resident_id: i64,
    pub appointment_id: Option<i64>,
    pub site_id: i64,
    pub product_id: i64,
    pub dose_number: i32,
    pub lot: String,
    pub given_at: NaiveDateTime,
    pub staff_user_id: Option<i64>,
    pub observation_until: NaiveDateTime,
}

impl GivenDose for Vaccination {
    fn dose_number(&self) -> i32 {
        self.dose_number
    }
    fn product_id(&self) -> i64 {
        self.product_id
    }
    fn given_at(&self) -> NaiveDateTime {
        self.given_at
    }
}

/// A dose to record (the same columns).
pub type NewVaccination = Vaccination;

/// Insert a vaccination record.
pub fn insert(conn: &mut AnyConnection, v: &NewVaccination) -> QueryResult<()> {
    super::insert_into(conn, vaccinations::table, v)
}

/// A resident's doses, in order.
pub fn list_for_resident(
    conn: &mut AnyConnection,
    resident: ResidentId,
) -> QueryResult<Vec<Vaccination>> {
    super::load_all(
        conn,
        vaccinations::table
            .filter(vaccinations::resident_id.eq(resident.0))
            .order(vaccinations::dose_number.asc()),
    )
}

/// The doses of the residents `residents`, each one's in order.
pub fn list_for_residents(
    conn: &mut AnyConnection,
    residents: &[i64],
) -> QueryResult<Vec<Vaccination>> {
    super::load_all(
        conn,
        vaccinations::table
            .filter(vaccinations::resident_id.eq_any(residents))
            .order((vaccinations::resident_id, vaccinations::dose_number.asc())),
    )
}

/// A resident's doses, in order, each with its product and site: the vaccination record (the
/// signed payload names them as stored, the page in its language). Three queries whatever the
/// number of doses.
pub fn list_named_for_resident(
    conn: &mut AnyConnection,
    resident: ResidentId,
) -> QueryResult<Vec<(Vaccination, super::Product, super::Site)>> {
    use crate::db::schema::{products, sites};
    let given = list_for_resident(conn, resident)?;
    let product_ids: Vec<i64> = given.iter().map(|v| v.product_id).collect();
    let site_ids: Vec<i64> = given.iter().map(|v| v.site_id).collect();
    let products: Vec<super::Product> = super::load_all(
        conn,
        products::table.filter(products::id.eq_any(&product_ids)),
    )?;
    let sites: Vec<super::Site> =
        super::load_all(conn, sites::table.filter(sites::id.eq_any(&site_ids)))?;
    Ok(given
        .into_iter()
        .filter_map(|v| {
            let p = products.iter().find(|p| p.id == v.product_id)?.clone();
            let s = sites.iter().find(|s| s.id == v.site_id)?.clone();
            Some((v, p, s))
        })
        .collect())
}

/// One vaccination.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Vaccination>> {
    super::find_one(conn, vaccinations::table.find(id))
}

/// People still in their observation period at a site at `now`, with their residents, the
/// first to leave first.
pub fn list_in_observation(
    conn: &mut AnyConnection,
    site: crate::ids::SiteId,
    now: NaiveDateTime,
) -> QueryResult<Vec<(Vaccination, crate::models::Resident)>> {
    use crate::db::schema::residents;
    vaccinations::table
        .inner_join(residents::table.on(residents::id.eq(vaccinations::resident_id)))
        .filter(vaccinations::site_id.eq(site.0))
        .filter(vaccinations::observation_until.gt(now))
        .filter(vaccinations::given_at.le(now))
        .order(vaccinations::observation_until.asc())
        .select((
            Vaccination::as_select(),
            crate::models::Resident::as_select(),
        ))
        .load(conn)
}

/// How many first doses (of any vaccine) each site has given: `(site, count)`.
pub fn count_first_doses_by_site(conn: &mut AnyConnection) -> QueryResult<Vec<(i64, i64)>> {
    vaccinations::table
        .filter(vaccinations::dose_number.eq(1))
        .group_by(vaccinations::site_id)
        .select((vaccinations::site_id, diesel::dsl::count_star()))
        .load(conn)
}

/// The first doses of `product` whose residents have had no second dose (of any vaccine):
/// `(site, given at)`, one row per resident still owed a second dose.
pub fn list_first_doses_awaiting_second(
    conn: &mut AnyConnection,
    product: crate::ids::ProductId,
) -> QueryResult<Vec<(i64, NaiveDateTime)>> {
    use diesel::dsl::{exists, not};
    let later = diesel::alias!(vaccinations as later);
    // `NOT EXISTS` on the (resident, dose) unique index: PostgreSQL plans it as an anti-join,
    // where `NOT IN` would check each first dose against every second dose once they outgrow
    // `work_mem`.
    let second = later
        .filter(
            later
                .field(vaccinations::resident_id)
                .eq(vaccinations::resident_id),
        )
        .filter(later.field(vaccinations::dose_number).eq(2));
    vaccinations::table
        .filter(vaccinations::dose_number.eq(1))
        .filter(vaccinations::product_id.eq(product.0))
        .filter(not(exists(second)))
        .select((vaccinations::site_id, vaccinations::given_at))
        .load(conn)
}

/// A dose that has a next one in its series, with its product's interval and the address the
/// second-dose messages go to.
#[derive(Debug, Clone, Queryable)]
pub struct SeriesGoingOn {
    /// The vaccination's id.
    pub id: i64,
    pub given_at: NaiveDateTime,
    pub min_interval_days: i32,
    pub max_interval_days: i32,
    pub email: String,
    pub lang: String,
}

/// The doses given after `since` that are not their series' last, of residents who gave an
/// e-mail address: the second-dose messages the mail scheduler queues.
pub fn list_series_going_on(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<SeriesGoingOn>> {
    use crate::db::schema::{products, residents};
    vaccinations::table
        .inner_join(residents::table.on(residents::id.eq(vaccinations::resident_id)))
        .inner_join(products::table.on(products::id.eq(vaccinations::product_id)))
        .filter(vaccinations::dose_number.lt(products::doses_in_series))
        .filter(vaccinations::given_at.gt(since))
        .filter(residents::email.ne(""))
        .select((
            vaccinations::id,
            vaccinations::given_at,
            products::min_interval_days,
            products::max_interval_days,
            residents::email,
            residents::lang,
        ))
        .load(conn)
}
