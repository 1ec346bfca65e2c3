//! The statements written per backend, apart from what `on_backend!` expands: the outbox
//! claim (PostgreSQL's `SKIP LOCKED`), a message marked sent with its audit entry (one
//! data-modifying `WITH` on PostgreSQL), and the advisory locks of a booking's contacts.

use diesel::prelude::*;

use super::{prepared, AnyConnection};

/// Claim up to `limit` outbox messages that are due (or whose lease ran out) under `token`.
/// PostgreSQL skips rows another process is claiming at the same moment (`FOR UPDATE SKIP
/// LOCKED`); SQLite has one writer, so its UPDATE is already exclusive.
pub fn claim_outbox(
    conn: &mut AnyConnection,
    token: &str,
    now: chrono::NaiveDateTime,
    lease_until: chrono::NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    // The same statement on both: `$n` or `?n` placeholders, and PostgreSQL's row locks.
    let (p, skip_locked) = match conn {
        AnyConnection::Postgresql(_) => ("$", " FOR UPDATE SKIP LOCKED"),
        AnyConnection::Sqlite(_) => ("?", ""),
    };
    let sql = format!(
        "UPDATE outbox SET status = 'sending', claim_token = {p}1, lease_until = {p}2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE (status = 'pending' AND next_attempt_at <= {p}3) \
         OR (status = 'sending' AND lease_until < {p}3) ORDER BY next_attempt_at LIMIT {p}4{skip_locked})"
    );
    crate::on_backend!(&mut *conn, |c| diesel::sql_query(sql.as_str())
        .bind::<Text, _>(token)
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .execute(c))
}

/// Mark a claimed outbox message sent, with its audit entry (`system`, `mail.sent`, `subject`,
/// `detail`, under `audit_id`): `false`, and nothing written, unless the claim `token` holds it.
/// PostgreSQL: one statement (the `UPDATE` a data-modifying `WITH` part, the `INSERT` made from
/// the row it returns), atomic on its own, so it needs no transaction around it
/// ([`super::Db::single_statement`]): one round trip where `BEGIN`, the update, the insert and `COMMIT`
/// took four, for every message, all through an opening day's booking load. SQLite has no
/// `UPDATE` inside `WITH`: the two statements, in the caller's transaction (the writer's).
pub fn mark_outbox_sent(
    conn: &mut AnyConnection,
    id: i64,
    token: &str,
    now: chrono::NaiveDateTime,
    (audit_id, subject, detail): (i64, &str, &str),
) -> QueryResult<bool> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    const SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = $1, claim_token = NULL, \
        lease_until = NULL WHERE id = $2 AND claim_token = $3 AND status = 'sending'";
    let changed = match conn {
        AnyConnection::Postgresql(c) => {
            let sql = format!(
                "WITH sent AS ({SENT} RETURNING id) \
                 INSERT INTO audit_log (id, created_at, actor, action, subject, detail) \
                 SELECT $4, $1, 'system', 'mail.sent', $5, $6 FROM sent"
            );
            diesel::sql_query(sql)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(id)
                .bind::<Text, _>(token)
                .bind::<BigInt, _>(audit_id)
                .bind::<Text, _>(subject)
                .bind::<Text, _>(detail)
                .execute(c)?
        }
        AnyConnection::Sqlite(c) => {
            let held = diesel::sql_query(SENT.replace('$', "?"))
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(id)
                .bind::<Text, _>(token)
                .execute(c)?;
            if held == 0 {
                return Ok(false);
            }
            diesel::sql_query(
                "INSERT INTO audit_log (id, created_at, actor, action, subject, detail) \
                 VALUES (?, ?, 'system', 'mail.sent', ?, ?)",
            )
            .bind::<BigInt, _>(audit_id)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(subject)
            .bind::<Text, _>(detail)
            .execute(c)?
        }
    };
    Ok(changed == 1)
}

/// Serialise the caller's transaction with every other transaction that names one of `names`,
/// until it ends. PostgreSQL: transaction-level advisory locks on a 64-bit hash of each name,
/// taken in ascending order so two transactions never wait on each other in a cycle, all in one
/// statement (its select list is evaluated left to right). SQLite: nothing to do, since every
/// write transaction goes through the one writer connection.
pub fn lock_names(conn: &mut AnyConnection, names: &[&str]) -> QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(_) => Ok(()),
        AnyConnection::Postgresql(c) => {
            let mut keys: Vec<i64> = names.iter().map(|n| advisory_key(n)).collect();
            keys.sort_unstable();
            keys.dedup();
            if keys.is_empty() {
                return Ok(());
            }
            prepared::AdvisoryLocks(keys).execute(c).map(|_| ())
        }
    }
}

/// The first 8 bytes of SHA-256 of `name`, as a PostgreSQL advisory lock key.
fn advisory_key(name: &str) -> i64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(name.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}
