//! The audit log: who changed what, when and why.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::prepared::{self, Fixed, FixedSql, Part, Values};
use crate::db::schema::{appointments, audit_log, products, sites, towns, users};
use crate::db::AnyConnection;
use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::QuerySource;

/// One audit entry.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub created_at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    /// The town the entry concerns (None: city-wide).
    pub town_id: Option<i64>,
}

/// What an entry says: who did what to what, and the detail.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: &'a str,
}

/// Write an entry in the caller's transaction.
pub fn record(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> QueryResult<()> {
    let entry = Entry {
        actor,
        action,
        subject,
        detail,
    };
    write(conn, now, entry, None)
}

/// One entry, about a town or city-wide.
fn write(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    e: Entry<'_>,
    town_id: Option<i64>,
) -> QueryResult<()> {
    let entry = AuditEntry {
        id: crate::ids::new_id(),
        created_at: now,
        actor: e.actor.to_string(),
        action: e.action.to_string(),
        subject: e.subject.to_string(),
        detail: e.detail.to_string(),
        town_id,
    };
    super::insert_into(conn, audit_log::table, &entry)
}

/// The newest entries first.
pub fn recent(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    super::load_all(
        conn,
        audit_log::table
            .order(audit_log::created_at.desc())
            .limit(limit),
    )
}

/// Write an entry about something at a site, naming the site's town, in the caller's
/// transaction: one `INSERT … SELECT`, no read before it.
pub fn record_at_site(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    e: Entry<'_>,
    site_id: i64,
) -> QueryResult<()> {
    at_site(now, e, site_id).run(conn).map(|_| ())
}

/// The `INSERT` of [`record_at_site`], not yet run (a part of `run_together`).
pub(crate) fn at_site(now: NaiveDateTime, e: Entry<'_>, site_id: i64) -> Fixed<AtSite<'_>> {
    Fixed(AtSite {
        id: crate::ids::new_id(),
        now,
        e,
        site_id,
        audit: audit_log::table.from_clause(),
        sites: sites::table.from_clause(),
    })
}

/// `INSERT INTO audit_log (…) SELECT $1, …, town_id FROM sites WHERE id = $7`, kept prepared:
/// every booking writes one.
pub(crate) struct AtSite<'a> {
    id: i64,
    now: NaiveDateTime,
    e: Entry<'a>,
    site_id: i64,
    audit: <audit_log::table as QuerySource>::FromClause,
    sites: <sites::table as QuerySource>::FromClause,
}

impl FixedSql for AtSite<'_> {
    type Key = AtSite<'static>;

    fn walk_sqlite<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.write(out)
    }

    fn walk_pg<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.write(out)
    }
}

impl AtSite<'_> {
    fn write<'b, DB>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        DB: Backend + HasSqlType<BigInt> + HasSqlType<Text> + HasSqlType<Timestamp>,
        i64: ToSql<BigInt, DB>,
        str: ToSql<Text, DB>,
        NaiveDateTime: ToSql<Timestamp, DB>,
        <audit_log::table as QuerySource>::FromClause: QueryFragment<DB>,
        <sites::table as QuerySource>::FromClause: QueryFragment<DB>,
    {
        use diesel::Column;
        let columns = [
            audit_log::id::NAME,
            audit_log::created_at::NAME,
            audit_log::actor::NAME,
            audit_log::action::NAME,
            audit_log::subject::NAME,
            audit_log::detail::NAME,
            audit_log::town_id::NAME,
        ];
        prepared::insert_into(&mut out, &self.audit, &columns)?;
        out.push_sql(" SELECT ");
        let mut values = Values::new(&mut out);
        values
            .bind::<BigInt, _>(&self.id)?
            .bind::<Timestamp, _>(&self.now)?
            .bind::<Text, _>(self.e.actor)?
            .bind::<Text, _>(self.e.action)?
            .bind::<Text, _>(self.e.subject)?
            .bind::<Text, _>(self.e.detail)?;
        let out = values.out();
        out.push_sql(", ");
        out.push_identifier(sites::town_id::NAME)?;
        out.push_sql(" FROM ");
        self.sites.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        out.push_identifier(sites::id::NAME)?;
        out.push_sql(" = ");
        out.push_bind_param::<BigInt, _>(&self.site_id)
    }
}

/// Write an entry about a town, in the caller's transaction.
pub fn record_in_town(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    actor: &str,
    action: &str,
    subject: &str,
    town_id: i64,
) -> QueryResult<()> {
    let entry = Entry {
        actor,
        action,
        subject,
        detail: "",
    };
    write(conn, now, entry, Some(town_id))
}

/// What the audit page shows: times in `[from, to)`, one kind (an action, or the part before
/// its dot: `appointment` is every `appointment.*`), one town, one actor.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub town: Option<i64>,
    pub kind: Option<String>,
    pub actor: Option<String>,
}

/// The entries of `f`'s kind and actor (the caller adds the rest).
pub fn of_kind_and_actor<'a>(
    f: &AuditFilter,
) -> audit_log::BoxedQuery<'a, crate::db::MultiBackend> {
    let mut q = audit_log::table.into_boxed();
    if let Some(k) = &f.kind {
        q = q.filter(
            audit_log::action
                .eq(k.clone())
                .or(audit_log::action.like(format!("{k}.%"))),
        );
    }
    if let Some(a) = &f.actor {
        q = q.filter(audit_log::actor.eq(a.clone()));
    }
    q
}

/// One page of entries matching `f`, newest first.
pub fn page(
    conn: &mut AnyConnection,
    f: &AuditFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut q = of_kind_and_actor(f).select(AuditEntry::as_select());
    if let Some(from) = f.from {
        q = q.filter(audit_log::created_at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::created_at.lt(to));
    }
    if let Some(t) = f.town {
        q = q.filter(audit_log::town_id.eq(t));
    }
    q.order((audit_log::created_at.desc(), audit_log::id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)
}

/// Every action recorded so far, for the kind filter.
pub fn actions(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    audit_log::table
        .select(audit_log::action)
        .distinct()
        .order(audit_log::action.asc())
        .load(conn)
}

/// The names behind the ids entries mention (`site 12`, `user 7`, `appointment 9`,
/// `product 3`) and the towns they concern, one query per kind.
#[derive(Debug, Default)]
pub struct Names {
    pub sites: std::collections::HashMap<i64, String>,
    pub users: std::collections::HashMap<i64, String>,
    pub appointments: std::collections::HashMap<i64, String>,
    pub products: std::collections::HashMap<i64, String>,
    pub towns: std::collections::HashMap<i64, String>,
}

/// The ids of each kind that some entries mention.
#[derive(Debug, Default)]
pub struct Mentioned {
    pub sites: Vec<i64>,
    pub users: Vec<i64>,
    pub appointments: Vec<i64>,
    pub products: Vec<i64>,
    pub towns: Vec<i64>,
}

/// Read the names of what `m` mentions.
pub fn names(
    conn: &mut AnyConnection,
    m: &Mentioned,
    lang: crate::i18n::Lang,
) -> QueryResult<Names> {
    /// `(id, name)` of the rows of `table` whose ids are in `ids` (no query for none).
    macro_rules! by_id {
        ($ids:expr, $table:ident, $name:ident) => {
            if $ids.is_empty() {
                Default::default()
            } else {
                $table::table
                    .filter($table::id.eq_any(&$ids))
                    .select(($table::id, $table::$name))
                    .load::<(i64, String)>(conn)?
                    .into_iter()
                    .collect()
            }
        };
    }
    /// The same for a table with an English name: the name in `lang` ([`super::in_lang`]).
    macro_rules! named_by_id {
        ($ids:expr, $table:ident) => {
            if $ids.is_empty() {
                Default::default()
            } else {
                $table::table
                    .filter($table::id.eq_any(&$ids))
                    .select(($table::id, $table::name, $table::name_en))
                    .load::<(i64, String, Option<String>)>(conn)?
                    .into_iter()
                    .map(|(id, zh, en)| (id, super::in_lang(lang, &zh, en.as_deref()).to_string()))
                    .collect()
            }
        };
    }
    Ok(Names {
        sites: named_by_id!(m.sites, sites),
        users: by_id!(m.users, users, username),
        appointments: by_id!(m.appointments, appointments, code),
        products: named_by_id!(m.products, products),
        towns: named_by_id!(m.towns, towns),
    })
}
