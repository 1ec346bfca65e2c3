//! The `dosewise` command line: create-user, demo-data, and clear start-up errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::helpers::{make_city, spawn_app_on, Session, TestDb};

pub fn dosewise(db_url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = crate::helpers::spawn(
        crate::helpers::dosewise_command(db_url)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    // A command refused before it reads its input (an unknown role, say) may exit before this
    // write: the pipe is then closed, and its output and status are what the test checks.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    child.wait_with_output().unwrap()
}

/// `dosewise demo-data` with `flags` ("--towns 1 --days 2"), which must succeed: its output.
pub fn demo_data(db_url: &str, flags: &str) -> String {
    let args: Vec<&str> = std::iter::once("demo-data")
        .chain(flags.split_whitespace())
        .collect();
    let out = dosewise(db_url, &args, "");
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[actix_web::test]
async fn create_user_reads_the_password_from_stdin_and_the_user_can_log_in() {
    let db = TestDb::new();
    let site = {
        let pools = dosewise::db::Db::connect(&db.url, 1).unwrap();
        let mut c = pools.write.get().unwrap();
        make_city(&mut c, "T001", 21, 56).site
    };
    let site_arg = site.to_string();
    let ok = dosewise(
        &db.url,
        &[
            "create-user",
            "--role",
            "clinic",
            "--site",
            &site_arg,
            "nurse",
        ],
        "a long enough password\n",
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let taken = dosewise(
        &db.url,
        &["create-user", "--role", "bureau", "nurse"],
        "another long password\n",
    );
    assert_eq!(taken.status.code(), Some(1));
    assert!(text(&taken).contains("taken"), "{}", text(&taken));
    let short = dosewise(
        &db.url,
        &["create-user", "--role", "bureau", "planner"],
        "short\n",
    );
    assert_eq!(short.status.code(), Some(1));
    assert!(text(&short).contains("at least 10"));
    let no_site = dosewise(
        &db.url,
        &["create-user", "--role", "clinic", "nurse2"],
        "a long enough password\n",
    );
    assert!(text(&no_site).contains("--site"));
    let bad_role = dosewise(
        &db.url,
        &["create-user", "--role", "king", "x"],
        "a long enough password\n",
    );
    assert!(!bad_role.status.success());

    let app = spawn_app_on(db).await;
    let res = Session::new(&app)
        .login("nurse", "a long enough password")
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/staff");
    assert_eq!(app.count("audit_log", "action = 'create-user'"), 1);
}

#[test]
fn demo_data_fills_an_empty_database_once() {
    let db = TestDb::new();
    let t = demo_data(
        &db.url,
        "--towns 2 --sites-per-town 2 --days 3 --seats-per-slot 4 --users",
    );
    assert!(t.contains("created 2 towns, 4 sites, 144 slots"), "{t}");
    assert!(t.contains("admin") && t.contains("password"), "{t}");
    let again = dosewise(&db.url, &["demo-data", "--towns", "2"], "");
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("already has towns"));
    let zero = dosewise(&db.url, &["demo-data", "--towns", "0"], "");
    assert!(text(&zero).contains("must be positive"));
}

#[test]
fn an_unknown_database_scheme_is_a_clear_start_up_error() {
    let out = dosewise("mysql://root@127.0.0.1/x", &["migrate"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("unsupported scheme \"mysql\""),
        "{}",
        text(&out)
    );
    let out = dosewise("postgres://nobody:secret@127.0.0.1:1/x", &["migrate"], "");
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("cannot connect") && !t.contains("secret"), "{t}");
}

#[test]
fn plan_allocation_reproduces_the_worked_example_of_allocation_md() {
    let out = Command::new(env!("CARGO_BIN_EXE_dosewise"))
        .args(["plan-allocation", "tests/fixtures/tiny-3.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/tiny-3.plan.json").unwrap())
            .unwrap();
    assert_eq!(got, want);

    // From stdin to a file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let instance = std::fs::read_to_string("tests/fixtures/tiny-3.json").unwrap();
    let o = dosewise(
        "sqlite://unused.db",
        &["plan-allocation", "-", "-o", path.to_str().unwrap()],
        &instance,
    );
    assert!(o.status.success(), "{}", text(&o));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(written["levels"]["first"], 1280);
}

#[test]
fn plan_allocation_exits_2_naming_the_field_of_an_invalid_instance() {
    let instance = std::fs::read_to_string("tests/fixtures/tiny-3.json").unwrap();
    let cases = [
        (
            instance.replacen("\"count\": 70", "\"count\": -70", 1),
            "towns[0].second_dose_queue[0].count",
        ),
        (
            instance.replacen("vax-alloc-instance/1", "vax-alloc-instance/9", 1),
            "schema",
        ),
        (
            instance.replacen("\"id\": \"B\"", "\"id\": \"A\"", 1),
            "towns[1].id",
        ),
        (
            instance.replacen("[80,80,80,80,80,50,0]", "[80,80]", 1),
            "towns[0].capacity_per_day",
        ),
        ("{not json".to_string(), ""),
    ];
    for (doc, field) in cases {
        let o = dosewise("sqlite://unused.db", &["plan-allocation", "-"], &doc);
        assert_eq!(o.status.code(), Some(2), "{field}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(field), "{field}: {err}");
        assert!(o.stdout.is_empty());
    }
}
