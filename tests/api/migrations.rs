//! The two migration trees stay in step, apply from empty, and match `src/db/schema.rs`.

use std::collections::{BTreeMap, BTreeSet};

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
    declared_types()
        .into_iter()
        .map(|(t, cols)| (t, cols.into_iter().map(|(c, n, _)| (c, n)).collect()))
        .collect()
}

/// `table -> [(column, nullable, type class)]` as `schema.rs` declares them (see [`class`]).
fn declared_types() -> BTreeMap<String, Vec<(String, bool, String)>> {
    let text = std::fs::read_to_string("src/db/schema.rs").unwrap();
    let mut out = BTreeMap::new();
    for block in text.split("diesel::table! {").skip(1) {
        let body = &block[..block.find("\n}").unwrap()];
        let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
        let head = lines.next().unwrap();
        let table = head.split_whitespace().next().unwrap().to_string();
        let cols = lines
            .filter_map(|l| l.split_once("->"))
            .map(|(c, t)| {
                let t = t.trim().trim_end_matches(',');
                let inner = t
                    .strip_prefix("Nullable<")
                    .and_then(|t| t.strip_suffix('>'))
                    .unwrap_or(t);
                (
                    c.trim().to_string(),
                    t.starts_with("Nullable<"),
                    class(inner),
                )
            })
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

/// A column type as a class both backends and diesel agree on: `int16`, `int32`, `int64`,
/// `text`, `bool`, `timestamp`, `timestamptz`, `date`, `float`, `bytes` (anything else is
/// returned as written, lower case, so it shows up in a comparison).
fn class(ty: &str) -> String {
    let t = ty.trim().to_ascii_lowercase();
    let t = t.split('(').next().unwrap_or_default().trim();
    match t {
        "bigint" | "int8" | "bigserial" => "int64",
        "integer" | "int" | "int4" | "serial" => "int32",
        "smallint" | "int2" | "smallserial" => "int16",
        "text" | "varchar" | "character varying" | "character" | "char" | "clob" => "text",
        "bool" | "boolean" => "bool",
        "timestamp" | "timestamp without time zone" | "datetime" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "date" => "date",
        "real" | "double" | "double precision" | "float" | "float4" | "float8" | "numeric" => {
            "float"
        }
        "bytea" | "blob" | "binary" => "bytes",
        other => return other.to_string(),
    }
    .to_string()
}

/// The class two backends must agree on: SQLite stores every integer in 64 bits whatever its
/// declared type, so integer widths are compared only between PostgreSQL and `schema.rs`.
fn common(class: &str) -> &str {
    match class {
        "int16" | "int32" | "int64" => "int",
        c => c,
    }
}

/// One table as the migrated database has it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// `(column, common type class, nullable)` in column order.
    columns: Vec<(String, String, bool)>,
    /// `(column, exact type class)` (integer widths are exact only on PostgreSQL).
    exact: Vec<(String, String)>,
    /// The primary key's columns, in key order.
    primary_key: Vec<String>,
    /// Unique indexes and constraints: columns, and the partial index's predicate (see
    /// [`predicate`]), empty when the index is not partial.
    unique: BTreeSet<(Vec<String>, String)>,
    /// Other indexes, the same way.
    indexes: BTreeSet<(Vec<String>, String)>,
    /// Foreign keys: `(column, referenced table, referenced column)`.
    foreign_keys: BTreeSet<(String, String, String)>,
}

/// A partial index's predicate reduced to what both backends keep when they print it back: the
/// columns it names and the literals it compares them with (`WHERE status IN ('a', 'b')` is
/// `status = ANY (ARRAY['a'::text, 'b'::text])` on PostgreSQL).
fn predicate(sql_where: &str, columns: &[String]) -> String {
    let w = sql_where.trim();
    if w.is_empty() {
        return String::new();
    }
    let literals: BTreeSet<&str> = w.split('\'').skip(1).step_by(2).collect();
    let unquoted: String = w
        .split('\'')
        .step_by(2)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let words: BTreeSet<&str> = unquoted
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    let named: Vec<&str> = columns
        .iter()
        .map(String::as_str)
        .filter(|c| words.contains(c))
        .collect();
    format!("WHERE {named:?} {literals:?}")
}

#[derive(QueryableByName)]
struct Row4 {
    #[diesel(sql_type = Text)]
    a: String,
    #[diesel(sql_type = Text)]
    b: String,
    #[diesel(sql_type = Text)]
    c: String,
    #[diesel(sql_type = Text)]
    d: String,
}

fn rows(conn: &mut AnyConnection, sql: &str) -> Vec<(String, String, String, String)> {
    diesel::sql_query(sql)
        .load::<Row4>(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .into_iter()
        .map(|r| (r.a, r.b, r.c, r.d))
        .collect()
}

/// Every table of the migrated database, read from its catalogue.
fn catalogue(conn: &mut AnyConnection) -> BTreeMap<String, Table> {
    let mut out: BTreeMap<String, Table> = BTreeMap::new();
    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    let tables: Vec<String> = if sqlite {
        rows(conn, "SELECT name AS a, '' AS b, '' AS c, '' AS d FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'")
    } else {
        rows(conn, "SELECT table_name::text AS a, '' AS b, '' AS c, '' AS d FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '__diesel_schema_migrations'")
    }
    .into_iter()
    .map(|r| r.0)
    .collect();
    for t in tables {
        let mut table = Table::default();
        // Columns: name, declared type, nullable, position in the primary key.
        let cols = if sqlite {
            rows(conn, &format!("SELECT name AS a, type AS b, CASE WHEN \"notnull\" = 1 OR pk > 0 THEN '0' ELSE '1' END AS c, CAST(pk AS TEXT) AS d FROM pragma_table_info('{t}') ORDER BY cid"))
        } else {
            rows(conn, &format!(
                "SELECT c.column_name::text AS a, c.data_type::text AS b, CASE WHEN c.is_nullable = 'YES' THEN '1' ELSE '0' END AS c, \
                 COALESCE((SELECT CAST(k.ord AS TEXT) FROM pg_index ix \
                   CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum \
                   WHERE ix.indrelid = '{t}'::regclass AND ix.indisprimary AND a.attname = c.column_name::text), '0') AS d \
                 FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = '{t}' ORDER BY c.ordinal_position"
            ))
        };
        let mut pk: Vec<(i32, String)> = Vec::new();
        for (name, ty, nullable, pk_pos) in cols {
            let exact = class(&ty);
            table
                .columns
                .push((name.clone(), common(&exact).to_string(), nullable == "1"));
            table.exact.push((name.clone(), exact));
            let pos: i32 = pk_pos.parse().unwrap();
            if pos > 0 {
                pk.push((pos, name));
            }
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|p| p.1).collect();
        let names: Vec<String> = table.columns.iter().map(|c| c.0.clone()).collect();
        // Indexes: unique?, columns, predicate; the primary key's own index is left out.
        let indexes = if sqlite {
            rows(conn, &format!(
                "SELECT il.name AS a, CAST(il.\"unique\" AS TEXT) AS b, il.origin AS c, \
                 COALESCE((SELECT sql FROM sqlite_master WHERE type = 'index' AND name = il.name), '') AS d \
                 FROM pragma_index_list('{t}') il"
            ))
            .into_iter()
            .filter(|(_, _, origin, _)| origin != "pk")
            .map(|(name, unique, _, sql)| {
                let cols: Vec<String> = rows(conn, &format!("SELECT name AS a, '' AS b, '' AS c, '' AS d FROM pragma_index_info('{name}') ORDER BY seqno"))
                    .into_iter()
                    .map(|r| r.0)
                    .collect();
                let upper = sql.to_ascii_uppercase();
                let pred = upper.rfind(" WHERE ").map(|at| sql[at + 7..].trim_end_matches(';').to_string()).unwrap_or_default();
                (unique == "1", cols, pred)
            })
            .collect::<Vec<_>>()
        } else {
            rows(conn, &format!(
                "SELECT CASE WHEN ix.indisunique THEN '1' ELSE '0' END AS a, \
                 (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum) AS b, \
                 COALESCE(pg_get_expr(ix.indpred, ix.indrelid), '') AS c, '' AS d \
                 FROM pg_index ix WHERE ix.indrelid = '{t}'::regclass AND NOT ix.indisprimary"
            ))
            .into_iter()
            .map(|(unique, cols, pred, _)| {
                (unique == "1", cols.split(',').map(str::to_string).collect(), pred)
            })
            .collect()
        };
        for (unique, cols, pred) in indexes {
            let entry = (cols, predicate(&pred, &names));
            if unique {
                table.unique.insert(entry);
            } else {
                table.indexes.insert(entry);
            }
        }
        // Foreign keys.
        let fks = if sqlite {
            rows(conn, &format!("SELECT \"from\" AS a, \"table\" AS b, COALESCE(\"to\", '') AS c, '' AS d FROM pragma_foreign_key_list('{t}')"))
        } else {
            rows(conn, &format!(
                "SELECT a.attname::text AS a, c.confrelid::regclass::text AS b, af.attname::text AS c, '' AS d \
                 FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, refcol) \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col \
                 JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = k.refcol \
                 WHERE c.contype = 'f' AND c.conrelid = '{t}'::regclass"
            ))
        };
        for (col, ref_table, ref_col, _) in fks {
            table.foreign_keys.insert((col, ref_table, ref_col));
        }
        out.insert(t, table);
    }
    // A SQLite foreign key that names no column refers to the other table's primary key.
    let pks: BTreeMap<String, Vec<String>> = out
        .iter()
        .map(|(t, x)| (t.clone(), x.primary_key.clone()))
        .collect();
    for table in out.values_mut() {
        table.foreign_keys = std::mem::take(&mut table.foreign_keys)
            .into_iter()
            .map(|(col, rt, rc)| {
                let rc = if rc.is_empty() {
                    pks.get(&rt)
                        .and_then(|k| k.first())
                        .cloned()
                        .unwrap_or_default()
                } else {
                    rc
                };
                (col, rt, rc)
            })
            .collect();
    }
    out
}

/// The PostgreSQL server named by `TEST_DATABASE_URL`, if the suite runs on one.
fn postgres_admin() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

#[test]
fn sqlite_and_postgres_migrations_build_the_same_tables_types_keys_and_indexes() {
    // SQLite always; PostgreSQL when the suite runs on it (CI runs the suite on both).
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("m.db").display());
    let sqlite_pools = Db::connect(&sqlite_url, 1).expect("SQLite migrations apply");
    let sqlite = catalogue(&mut sqlite_pools.write.get().unwrap());
    assert!(sqlite.len() >= 10, "{sqlite:?}");
    // The catalogue reads what it should (so an empty comparison cannot pass).
    let appts = &sqlite["appointments"];
    assert_eq!(appts.primary_key, ["id"]);
    assert!(
        appts.unique.contains(&(
            vec!["resident_id".into(), "dose_number".into()],
            r#"WHERE ["status"] {"booked", "checked_in"}"#.into()
        )),
        "{:?}",
        appts.unique
    );
    assert!(appts
        .foreign_keys
        .contains(&("slot_id".into(), "slots".into(), "id".into())));
    let declared = declared_types();
    for (t, table) in &sqlite {
        let want: Vec<(String, String)> = declared[t]
            .iter()
            .map(|(c, _, k)| (c.clone(), common(k).to_string()))
            .collect();
        let got: Vec<(String, String)> = table
            .columns
            .iter()
            .map(|(c, k, _)| (c.clone(), k.clone()))
            .collect();
        assert_eq!(got, want, "SQLite {t}: column types against schema.rs");
    }

    if postgres_admin().is_none() {
        eprintln!("PostgreSQL side skipped: TEST_DATABASE_URL is not set");
        return;
    }
    let db = TestDb::new();
    let pg_pools = Db::connect(&db.url, 1).expect("PostgreSQL migrations apply");
    let pg = catalogue(&mut pg_pools.write.get().unwrap());
    drop(pg_pools);
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        pg.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (t, s) in &sqlite {
        let p = &pg[t];
        assert_eq!(
            s.columns, p.columns,
            "{t}: columns (name, type class, nullable)"
        );
        assert_eq!(s.primary_key, p.primary_key, "{t}: primary key");
        assert_eq!(s.unique, p.unique, "{t}: unique and partial unique indexes");
        assert_eq!(s.indexes, p.indexes, "{t}: other indexes");
        assert_eq!(s.foreign_keys, p.foreign_keys, "{t}: foreign keys");
        // PostgreSQL integers are as wide as the Rust types schema.rs maps them to.
        let want: Vec<(String, String)> = declared[t]
            .iter()
            .map(|(c, _, k)| (c.clone(), k.clone()))
            .collect();
        assert_eq!(
            p.exact, want,
            "PostgreSQL {t}: exact column types against schema.rs"
        );
    }
}
