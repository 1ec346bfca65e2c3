//! The two migration trees stay in step, apply from empty, and match `src/db/schema.rs`.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use dosewise::db::{AnyConnection, Db};

use crate::helpers::TestDb;

fn names(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn both_backends_have_the_same_migration_names_with_up_and_down() {
    let sqlite = names("migrations/sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("migrations/postgres"));
    for dir in ["migrations/sqlite", "migrations/postgres"] {
        for m in names(dir) {
            for f in ["up.sql", "down.sql"] {
                assert!(
                    std::path::Path::new(&format!("{dir}/{m}/{f}")).exists(),
                    "{dir}/{m}/{f}"
                );
            }
        }
    }
}

/// `table -> [(column, nullable)]` as `schema.rs` declares them.
fn declared() -> BTreeMap<String, Vec<(String, bool)>> {
    let text = std::fs::read_to_string("src/db/schema.rs").unwrap();
    let mut out = BTreeMap::new();
    for block in text.split("diesel::table! {").skip(1) {
        let body = &block[..block.find("\n}").unwrap()];
        let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
        let head = lines.next().unwrap();
        let table = head.split_whitespace().next().unwrap().to_string();
        let cols = lines
            .filter_map(|l| l.split_once("->"))
            .map(|(c, t)| (c.trim().to_string(), t.contains("Nullable<")))
            .collect();
        out.insert(table, cols);
    }
    out
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

/// `table -> [(column, nullable)]` as the migrated database has them.
fn actual(conn: &mut AnyConnection, table: &str) -> Vec<(String, bool)> {
    let sql = match conn {
        AnyConnection::Sqlite(_) => format!(
            "SELECT name, CASE WHEN \"notnull\" = 1 OR pk > 0 THEN 0 ELSE 1 END AS nullable FROM pragma_table_info('{table}') ORDER BY cid"
        ),
        AnyConnection::Postgresql(_) => format!(
            "SELECT column_name::text AS name, CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
        ),
    };
    diesel::sql_query(sql)
        .load::<Column>(conn)
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.nullable == 1))
        .collect()
}

#[test]
fn schema_rs_matches_the_migrated_database() {
    let db = TestDb::new();
    let pools = Db::connect(&db.url, 1).expect("migrations apply from empty");
    let mut conn = pools.write.get().unwrap();
    let declared = declared();
    assert!(declared.len() >= 10);
    for (table, cols) in &declared {
        assert_eq!(&actual(&mut conn, table), cols, "table {table}");
    }
    // And the database has no table that schema.rs lacks.
    let tables: Vec<String> = match &mut *conn {
        AnyConnection::Sqlite(_) => diesel::sql_query(
            "SELECT name, 0 AS nullable FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
        ),
        AnyConnection::Postgresql(_) => diesel::sql_query(
            "SELECT table_name::text AS name, 0 AS nullable FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
        ),
    }
    .load::<Column>(&mut *conn)
    .unwrap()
    .into_iter()
    .map(|c| c.name)
    .collect();
    for t in tables {
        assert!(declared.contains_key(&t), "table {t} is not in schema.rs");
    }
}

#[test]
fn migrations_run_again_do_nothing_and_down_migrations_undo_them() {
    let db = TestDb::new();
    Db::connect(&db.url, 1).unwrap();
    let pools = Db::connect(&db.url, 1).expect("a second start finds nothing to do");
    let mut conn = pools.write.get().unwrap();
    use diesel_migrations::MigrationHarness;
    match &mut *conn {
        AnyConnection::Sqlite(c) => {
            c.revert_all_migrations(dosewise::db::SQLITE_MIGRATIONS)
                .unwrap();
        }
        AnyConnection::Postgresql(c) => {
            c.revert_all_migrations(dosewise::db::POSTGRES_MIGRATIONS)
                .unwrap();
        }
    }
    assert!(actual(&mut conn, "slots").is_empty());
}
