//! `dosewise check` on `exception_moves`: what an exception did to each booking it displaced
//! still shows on the appointment (see the invariants in the parent module's doc).

use diesel::prelude::*;

use super::{each_row, IdCount, Violation};
use crate::db::AnyConnection;

/// What `exception_moves` says against the appointments it names (see the module doc).
pub(super) fn exception_moves(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    each_row(
        c,
        out,
        "SELECT m.appointment_id AS id, m.exception_id AS n FROM exception_moves m \
         JOIN appointments a ON a.id = m.appointment_id \
         WHERE m.to_slot_id IS NULL AND a.status <> 'cancelled' ORDER BY m.appointment_id",
        "an exception's cancellation holds",
        |w: &IdCount| {
            format!(
                "appointment id={}: exception id={} cancelled it, but it is not cancelled",
                w.id, w.n
            )
        },
    )?;
    each_row(
        c,
        out,
        "SELECT m.appointment_id AS id, a.slot_id AS n FROM exception_moves m \
         JOIN appointments a ON a.id = m.appointment_id \
         WHERE m.to_slot_id IS NOT NULL AND a.status <> 'cancelled' \
         GROUP BY m.appointment_id, a.slot_id \
         HAVING SUM(CASE WHEN m.to_slot_id = a.slot_id THEN 1 ELSE 0 END) = 0 \
            AND COUNT(*) >= (SELECT COUNT(*) FROM audit_log l WHERE l.action = 'appointment.move' \
                AND l.subject = 'appointment ' || CAST(m.appointment_id AS TEXT)) \
         ORDER BY m.appointment_id",
        "an exception's move holds",
        |w: &IdCount| {
            format!(
                "appointment id={}: on slot id={}, none of the slots exceptions moved it to, \
                 and moved by no one since",
                w.id, w.n
            )
        },
    )
}
