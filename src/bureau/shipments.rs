//! Recording a received shipment: the lots as typed, the checks, and one transaction that writes
//! the shipment, its lots and the doses into central stock.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::{field, BureauError};
use crate::db::{AnyConnection, Db};
use crate::ids::{new_id, ProductId};
use crate::models::shipment::{self, Shipment, ShipmentLot};
use crate::models::stock::{self, Movement};
use crate::models::{audit, lot, product, slot};

/// One lot as typed: `NUMBER, YYYY-MM-DD, DOSES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotInput {
    pub lot_number: String,
    pub expires_on: NaiveDate,
    pub doses: i32,
}

/// Parse the lots field: one lot per line, `number, expiry date, doses`.
pub fn parse_lots(text: &str) -> Result<Vec<LotInput>, BureauError> {
    use crate::domain::{parse_date, parse_lot_number, text};
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let lot = |key: &'static str| BureauError::Lot { line, key };
        let raw = text::clean(raw).ok_or(lot(text::CHARS))?;
        if raw.is_empty() {
            continue;
        }
        let parts: Vec<&str> = raw.split([',', '，']).map(str::trim).collect();
        let [number, expiry, doses] = parts[..] else {
            return Err(lot("err.lot.format"));
        };
        let number = parse_lot_number(number, "lots").map_err(|e| lot(e.key))?;
        let expires_on = parse_date(expiry, "lots").map_err(|_| lot("err.lot.expiry"))?;
        let doses: i32 = doses
            .parse()
            .ok()
            .filter(|d| *d > 0)
            .ok_or(lot("err.lot.doses"))?;
        if out.iter().any(|l: &LotInput| l.lot_number == number) {
            return Err(lot("err.lot.duplicate"));
        }
        out.push(LotInput {
            lot_number: number,
            expires_on,
            doses,
        });
    }
    if out.is_empty() {
        return Err(field("lots", "err.lot.none"));
    }
    Ok(out)
}

/// A shipment as recorded on the page.
#[derive(Debug, Clone)]
pub struct ShipmentInput {
    pub product_id: i64,
    pub doses: i32,
    pub received_on: NaiveDate,
    pub next_expected_on: NaiveDate,
    pub next_latest_on: NaiveDate,
    pub lots: Vec<LotInput>,
}

/// Record a received shipment: the shipment, its lots, and the doses into central stock through
/// the ledger, with an audit entry, in one transaction.
pub fn record_shipment(
    db: &Db,
    input: ShipmentInput,
    today: NaiveDate,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, BureauError> {
    if input.received_on > today {
        return Err(field("received_on", "err.shipment.future"));
    }
    if input.next_expected_on <= input.received_on {
        return Err(field("next_expected_on", "err.shipment.expected_order"));
    }
    if input.next_latest_on < input.next_expected_on {
        return Err(field("next_latest_on", "err.shipment.latest_order"));
    }
    if input.next_latest_on > input.received_on + Duration::days(366)
        || input.received_on < today - Duration::days(366)
    {
        return Err(field("next_latest_on", "err.shipment.too_far"));
    }
    if let Some(i) = input
        .lots
        .iter()
        .position(|l| l.expires_on <= input.received_on)
    {
        return Err(BureauError::Lot {
            line: i + 1,
            key: "err.lot.expired",
        });
    }
    let total: i64 = input.lots.iter().map(|l| i64::from(l.doses)).sum();
    if total != i64::from(input.doses) {
        return Err(field("lots", "err.lot.sum"));
    }
    {
        let mut c = db.read.get()?;
        product::find(&mut c, ProductId(input.product_id))?
            .ok_or(field("product_id", "err.shipment.product"))?;
        if !product_is_given(&mut c, ProductId(input.product_id))? {
            return Err(field("product_id", "err.shipment.no_site"));
        }
        for l in &input.lots {
            if lot::find_by_number(&mut c, ProductId(input.product_id), &l.lot_number)?.is_some() {
                return Err(field("lots", "err.lot.known"));
            }
        }
    }
    let actor = actor.to_string();
    db.transaction(move |c| -> Result<i64, BureauError> {
        let id = new_id();
        shipment::insert(
            c,
            &Shipment {
                id,
                product_id: input.product_id,
                doses: input.doses,
                received_on: input.received_on,
                next_expected_on: input.next_expected_on,
                next_latest_on: input.next_latest_on,
                status: "received".into(),
                recorded_by: actor.clone(),
                created_at: now,
            },
        )?;
        for l in &input.lots {
            lot::insert(
                c,
                &ShipmentLot {
                    id: new_id(),
                    shipment_id: Some(id),
                    product_id: input.product_id,
                    lot_number: l.lot_number.clone(),
                    expires_on: l.expires_on,
                    doses: l.doses,
                },
            )?;
            stock::record(
                c,
                &Movement {
                    id: new_id(),
                    site_id: None,
                    product_id: input.product_id,
                    delta: l.doses,
                    kind: "received".into(),
                    reason: format!("shipment {id}"),
                    actor: actor.clone(),
                    lot: Some(l.lot_number.clone()),
                    created_at: now,
                },
            )?;
        }
        audit::record(
            c,
            now,
            &actor,
            "shipment.record",
            &format!("shipment {id}"),
            &format!(
                "{} doses of product {}, next expected {} (latest {})",
                input.doses, input.product_id, input.next_expected_on, input.next_latest_on
            ),
        )?;
        Ok(id)
    })
}

/// Whether any site gives the product (has slots or stock of it).
fn product_is_given(c: &mut AnyConnection, product: ProductId) -> Result<bool, BureauError> {
    Ok(slot::count_for_product(c, product)? + stock::count_balances_for_product(c, product)? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lots_are_one_per_line_and_each_mistake_names_its_line() {
        let lots = parse_lots("A1, 2031-01-31, 600\n\n B-2，2031-02-28，400 ").unwrap();
        assert_eq!(lots.len(), 2);
        assert_eq!(lots[1].lot_number, "B-2");
        assert_eq!(lots[1].doses, 400);
        // Each mistake, and the line and message it is refused with.
        for (text, want) in [
            ("A1, 2031-01-31", (1, "err.lot.format")),
            (
                "A1, 2031-01-31, 5\nA<b>, 2031-01-31, 5",
                (2, "err.lot.number"),
            ),
            ("A1, 2031-02-30, 5", (1, "err.lot.expiry")),
            ("A1, 2101-01-01, 5", (1, "err.lot.expiry")),
            ("A1, -262143-01-01, 5", (1, "err.lot.expiry")),
            (
                "A1, 2031-01-31, 5\nA\u{0}2, 2031-01-31, 5",
                (2, "err.text.chars"),
            ),
            ("A\u{202E}1, 2031-01-31, 5", (1, "err.text.chars")),
            ("A1, 2031-01-31, -5", (1, "err.lot.doses")),
            (
                "A1, 2031-01-31, 5\nA1, 2031-01-31, 5",
                (2, "err.lot.duplicate"),
            ),
        ] {
            match parse_lots(text) {
                Err(BureauError::Lot { line, key }) => assert_eq!((line, key), want, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert!(matches!(
            parse_lots("  \n"),
            Err(BureauError::Field { field: "lots", .. })
        ));
    }
}
