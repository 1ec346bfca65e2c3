//! The household page: every member's doses and appointments, the form that adds a member, and
//! the one that books several members together; and the page that finds a household.

use askama::Template;

use super::FormErrors;
use crate::views::layout::Layout;

/// One member, as the household page shows them (the ID number masked).
pub struct MemberRow {
    /// The resident's id: the value of their checkbox.
    pub id: String,
    pub name: String,
    pub masked_id: String,
    /// Each dose given, in words.
    pub doses: Vec<String>,
    /// Each appointment still ahead or held, in words.
    pub appointments: Vec<String>,
    /// What comes next for them, in words.
    pub next: String,
    /// Whether they can be chosen for a booking together.
    pub bookable: bool,
    /// Whether their box is ticked (the form again after a refusal).
    pub chosen: bool,
}

/// One slot offered for a booking together.
pub struct SlotChoice {
    pub id: String,
    pub time: String,
    pub product: String,
    pub label: String,
    /// It takes no booking: no seat left, closed, no dose to promise, not open yet or being
    /// drawn (the label says which).
    pub full: bool,
    pub chosen: bool,
}

/// A site in the site list.
pub struct SiteChoice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

/// The typed values of the add-a-member form, kept on errors (the ID number only in the answer
/// to the same POST, and only when another field is wrong).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct MemberForm {
    pub name: String,
    pub id_number: String,
    pub csrf: String,
}

/// `GET /household`.
#[derive(Template)]
#[template(path = "resident/household.html")]
pub struct HouseholdPage {
    pub ctx: Layout,
    pub members: Vec<MemberRow>,
    /// "n of max members".
    pub count: String,
    pub can_add: bool,
    pub form: MemberForm,
    pub errors: FormErrors,
    /// Why the last action was refused (nothing was done).
    pub refusal: Option<String>,
    /// What the last action did.
    pub notice: Option<String>,
    pub sites: Vec<SiteChoice>,
    pub site_id: String,
    /// The day shown, `YYYY-MM-DD`, and in words.
    pub date: String,
    pub day: String,
    pub slots: Vec<SlotChoice>,
    pub any_bookable: bool,
}

/// `GET /household/find`: a booking code of any member and that member's ID number.
#[derive(Template)]
#[template(path = "resident/household_find.html")]
pub struct HouseholdFindPage {
    pub ctx: Layout,
    pub code: String,
    pub errors: FormErrors,
    pub refusal: Option<String>,
}
