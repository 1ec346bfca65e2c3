//! One file per table: the record (`Queryable`), the insert form (`Insertable`) and named query
//! functions that take `&mut AnyConnection` and return `QueryResult`. HTTP meaning is added only
//! in handlers; business rules live in `booking/`.

pub mod adverse_event;
pub mod appointment;
pub mod audit;
pub mod desk;
pub mod lot;
pub mod product;
pub mod readiness;
pub mod resident;
pub mod screening;
pub mod secret;
pub mod shipment;
pub mod site;
pub mod slot;
pub mod stock;
pub mod town;
pub mod user;
pub mod vaccination;
pub mod waiting;

// City set-up (issue 6).
pub mod exception;
pub mod product_change;
pub mod setup_progress;
pub mod site_product;
pub mod template;

// Fair release (issue 9).
pub mod draw;
pub mod draw_entry;

pub use appointment::{Appointment, AppointmentStatus, NewAppointment};
pub use product::{NewProduct, Product};
pub use resident::{NewResident, Resident};
pub use site::{NewSite, Site};
pub use slot::{NewSlot, Slot};
pub use stock::StockBalance;
pub use town::{NewTown, Town};
pub use user::{NewUser, Role, Session, User};
pub use vaccination::{NewVaccination, Vaccination};
