//! The `dosewise` command: serve (default), migrate, demo-data, publish-slots, create-user,
//! send-mail, plan-allocation, check.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use dosewise::clock::{Clock, SystemClock};
use dosewise::config::Settings;
use dosewise::db::{redact, Db};
use dosewise::demo::{generate_city, CityOptions};
use dosewise::domain::city::{Password, Username};
use dosewise::models::{user, Role};
use dosewise::security::Keys;
use dosewise::setup::{self, CreatedBy, SetupError, UserInput};
use dosewise::startup::{mail_config, master_secret, Application};

#[derive(Parser)]
#[command(
    name = "dosewise",
    version,
    about = "Timed vaccination appointments and dose scheduling"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web pages and the API (the default).
    Serve {
        /// Address to listen on (overrides DOSEWISE_BIND).
        #[arg(long)]
        bind: Option<String>,
        /// Fill an empty database with the demo city first.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Fill an empty database with a generated city of any size; each site gets a weekly
    /// template (every day 08:30-16:30) in the shape of its slots, unless --draw-opens-in.
    DemoData {
        #[arg(long, default_value_t = 8)]
        towns: usize,
        #[arg(long, default_value_t = 3)]
        sites_per_town: usize,
        #[arg(long, default_value_t = 14)]
        days: i64,
        #[arg(long, default_value_t = 6)]
        seats_per_slot: i32,
        /// Days of seats each site holds in stock (default: all the days).
        #[arg(long)]
        stock_days: Option<i64>,
        /// Also create the admin, bureau and clinic users (passwords printed once).
        #[arg(long)]
        users: bool,
        /// Every generated slot opens this many seconds after the command (announced release);
        /// without it, slots are bookable at once.
        #[arg(long)]
        draw_opens_in: Option<i64>,
        /// With --draw-opens-in: each site's draw window lasts this long from the opening
        /// (0: first come from the opening). Default 600.
        #[arg(long)]
        draw_seconds: Option<i64>,
    },
    /// Plan a shipment's allocation (policy lex-v1) from a vax-alloc-instance/1 document.
    /// Exit 2 with a message naming the field when the instance is invalid.
    PlanAllocation {
        /// The instance file, or `-` for stdin.
        instance: String,
        /// Write the plan here instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<String>,
    },
    /// Deliver queued mail and queue reminders; with --once, one pass then exit (for cron).
    SendMail {
        #[arg(long)]
        once: bool,
    },
    /// Publish slots from every site's weekly template for its days ahead (cron-style; `serve`
    /// also does it every hour). Safe to run any number of times.
    PublishSlots,
    /// Run every draw whose window has closed (`serve` also does it every second); safe to run
    /// with any number of servers on the database.
    RunDraws,
    /// Verify every invariant that spans tables (seats, stock and its ledger, plans, notices,
    /// appointments, the outbox); print each violation and exit 1 if there is any.
    Check,
    /// Check a vaccination record's payload (from its QR code): prints whether it is valid,
    /// changed after signing, or signed by another key; exit 0 only when valid.
    VerifyRecord {
        /// The payload (`DW1.…`), or `-` (the default) to read it from stdin.
        #[arg(default_value = "-")]
        payload: String,
        /// The public key to check against (as published at /record/key); without it, this
        /// city's own key from the database's secret.
        #[arg(long)]
        key: Option<String>,
    },
    /// Create a staff, bureau or admin user. The password is asked for, or read from stdin.
    CreateUser {
        #[arg(long, value_parser = ["clinic", "bureau", "admin"])]
        role: String,
        /// The site a clinic user works at.
        #[arg(long)]
        site: Option<i64>,
        username: String,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,actix_server=warn".into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("dosewise: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve {
        bind: None,
        demo: false,
    }) {
        Command::Serve { bind, demo } => {
            if let Some(b) = bind {
                settings.bind = b;
            }
            serve(settings, demo)
        }
        Command::Migrate => {
            Db::connect(&settings.database_url, 1)?;
            println!("migrations applied to {}", redact(&settings.database_url));
            Ok(())
        }
        Command::DemoData {
            towns,
            sites_per_town,
            days,
            seats_per_slot,
            stock_days,
            users,
            draw_opens_in,
            draw_seconds,
        } => {
            if towns == 0 || sites_per_town == 0 || days <= 0 || seats_per_slot <= 0 {
                bail!("--towns, --sites-per-town, --days and --seats-per-slot must be positive");
            }
            let release = match (draw_opens_in, draw_seconds) {
                (None, None) => None,
                (None, Some(_)) => bail!("--draw-seconds needs --draw-opens-in"),
                (Some(o), w) if o < 0 || w.is_some_and(|w| !(0..=86_400).contains(&w)) => {
                    bail!("--draw-opens-in must be >= 0 and --draw-seconds between 0 and 86400")
                }
                (Some(o), w) => Some((o, w.unwrap_or(600))),
            };
            let opts = CityOptions {
                towns,
                sites_per_town,
                days,
                seats_per_slot,
                residents_in_series: towns * 5,
                waiting_per_town: 10,
                stock_days: stock_days.unwrap_or(days),
                users,
                // A city opening at one announced instant has no weekly template (whose rule
                // would open its slots at once).
                weekly_templates: release.is_none(),
            };
            fill(&settings, opts, release)
        }
        Command::CreateUser {
            role,
            site,
            username,
        } => create_user(&settings, &role, site, &username),
        Command::SendMail { once } => send_mail(&settings, once),
        Command::Check => check(&settings),
        Command::VerifyRecord { payload, key } => verify_record(&settings, &payload, key),
        Command::RunDraws => {
            let db = Db::connect(&settings.database_url, 2)?;
            let rules = || dosewise::booking::Rules {
                now: SystemClock.now(),
                release_hours: settings.second_dose_release_hours,
                tz: settings.time_zone,
            };
            let n = dosewise::booking::draw::run_due(&db, &rules, settings.contact_day_cap)?;
            println!("{n} draws run");
            Ok(())
        }
        Command::PublishSlots => {
            let db = Db::connect(&settings.database_url, 2)?;
            let r = dosewise::setup::publish_all(
                &db,
                settings.time_zone,
                SystemClock.now(),
                "publish-slots",
            )?;
            println!("{}", r.summary());
            Ok(())
        }
        Command::PlanAllocation { instance, output } => {
            plan_allocation(&instance, output.as_deref())
        }
    }
}

fn verify_record(settings: &Settings, payload: &str, key: Option<String>) -> anyhow::Result<()> {
    use dosewise::record::{self, RecordKey, Verdict};
    let payload = if payload == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        payload.to_string()
    };
    let public = match key {
        Some(k) => match record::public_key(&k) {
            Some(public) => public,
            None => bail!("--key is not an Ed25519 public key in base64url"),
        },
        None => {
            let db = Db::connect(&settings.database_url, 1)?;
            RecordKey::from_seed(&Keys::derive(&master_secret(settings, &db)?).record_seed)
                .verifying_key()
        }
    };
    match record::verify(&payload, &public) {
        Verdict::Valid(r) => {
            println!(
                "valid: {} (ID ending {}), issued {}",
                r.name, r.id_last4, r.issued
            );
            for d in &r.doses {
                println!(
                    "  dose {}: {} lot {} on {} at {}",
                    d.number, d.product, d.lot, d.date, d.site
                );
            }
            Ok(())
        }
        Verdict::Tampered => {
            println!("tampered: the record was changed after it was signed");
            std::process::exit(1)
        }
        Verdict::OtherKey => {
            println!("other key: the record was not signed by this key");
            std::process::exit(1)
        }
        Verdict::Unreadable => {
            println!("unreadable: not a Dosewise record payload");
            std::process::exit(2)
        }
    }
}

fn check(settings: &Settings) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 1)?;
    let violations = dosewise::check::run(&mut *db.read.get()?)?;
    if violations.is_empty() {
        println!("ok: every invariant holds");
        return Ok(());
    }
    for v in &violations {
        println!("{v}");
    }
    println!("{} violations", violations.len());
    std::process::exit(1)
}

fn fill(settings: &Settings, opts: CityOptions, release: Option<(i64, i64)>) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 2)?;
    let keys = Keys::derive(&master_secret(settings, &db)?);
    let now = SystemClock.now();
    let created = generate_city(&db, &keys, settings.time_zone, now, opts)?;
    println!(
        "created {} towns, {} sites, {} slots",
        created.towns, created.sites, created.slots
    );
    if let Some((opens_in, window)) = release {
        let opens_at = now + chrono::Duration::seconds(opens_in);
        let draws = dosewise::booking::draw::release_everything_at(
            &db,
            opens_at,
            chrono::Duration::seconds(window),
            now,
        )?;
        println!(
            "every slot opens at {} UTC; {draws} draws of {window} s scheduled",
            opens_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    print_users(&created.users);
    Ok(())
}

fn print_users(users: &[(String, String, String)]) {
    if users.is_empty() {
        return;
    }
    println!("Demo users (passwords are shown only this once):");
    for (name, role, password) in users {
        println!("  {name:<8} role {role:<7} password {password}");
    }
}

fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let db = Db::connect_with(&settings.database_url, &settings.db_options())?;
    if demo {
        let keys = Keys::derive(&master_secret(&settings, &db)?);
        let mut conn = db.read.get()?;
        if dosewise::models::town::count(&mut conn)? == 0 {
            let created = generate_city(
                &db,
                &keys,
                settings.time_zone,
                SystemClock.now(),
                CityOptions::demo(),
            )?;
            println!(
                "Demo city created: {} towns, {} sites, {} slots.",
                created.towns, created.sites, created.slots
            );
            print_users(&created.users);
        } else {
            println!("The database already has a city; --demo left it as it is.");
        }
    } else {
        let mut conn = db.read.get()?;
        if user::count(&mut conn)? == 0 {
            tracing::warn!("no users yet: create the first administrator with `dosewise create-user --role admin admin`");
        }
    }
    tracing::info!(database = %redact(&settings.database_url), bind = %settings.bind, "starting");
    let app = Application::build_with_db(settings, db, Arc::new(SystemClock))?;
    app.start_jobs()?;
    println!("Dosewise is listening on http://127.0.0.1:{}/", app.port());
    actix_web::rt::System::new().block_on(app.run_until_stopped())?;
    Ok(())
}

fn create_user(
    settings: &Settings,
    role: &str,
    site: Option<i64>,
    username: &str,
) -> anyhow::Result<()> {
    let role = Role::parse(role).context("unknown role")?;
    let Ok(username) = Username::parse(username) else {
        bail!("a username is 1-64 letters, digits, dots, hyphens or underscores");
    };
    if role == Role::Clinic && site.is_none() {
        bail!("a clinic user needs --site ID");
    }
    let password = read_password()?;
    let Ok(password) = Password::parse(&password) else {
        bail!(
            "the password must be at least 10 characters (at most 200), without control characters"
        );
    };
    let db = Db::connect(&settings.database_url, 1)?;
    let input = UserInput {
        username: username.clone(),
        role,
        site_id: site,
        password,
    };
    match setup::create_user(&db, input, CreatedBy::Cli, SystemClock.now()) {
        Ok(_) => {}
        Err(SetupError::Invalid(fields)) if fields.iter().any(|f| f.field == "site_id") => {
            bail!("no site with that id")
        }
        Err(SetupError::Invalid(_)) => bail!("the username {:?} is taken", username.as_str()),
        Err(e) => return Err(e.into()),
    }
    println!("created {} user {}", role.as_str(), username.as_str());
    Ok(())
}

/// `send-mail`: the mail worker without the web server.
fn send_mail(settings: &Settings, once: bool) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 2)?;
    let transport =
        dosewise::mail::Transport::from_settings(settings.smtp_url.as_deref(), &settings.mail_dir)?;
    let cfg = mail_config(settings, transport);
    let base = settings
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.bind));
    loop {
        let r =
            dosewise::mail::worker::run_once(&db, &cfg, &base, settings.time_zone, &SystemClock)?;
        println!(
            "scheduled {}, sent {}, retried {}, failed {}, skipped {}",
            r.scheduled, r.sent, r.retried, r.failed, r.skipped
        );
        if once {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(settings.mail_interval_ms));
    }
}

/// `plan-allocation`: read, plan, write. Invalid instances exit with status 2.
fn plan_allocation(input: &str, output: Option<&str>) -> anyhow::Result<()> {
    let text = if input == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(input).with_context(|| format!("cannot read {input}"))?
    };
    let plan = match dosewise::allocation::run_cli(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("dosewise: invalid instance: {e}");
            std::process::exit(2);
        }
    };
    match output {
        Some(path) => {
            std::fs::write(path, plan + "\n").with_context(|| format!("cannot write {path}"))?
        }
        None => println!("{plan}"),
    }
    Ok(())
}

/// Ask twice on a terminal; otherwise read one line from stdin.
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("Password: ")?;
        let b = rpassword::prompt_password("Again: ")?;
        if a != b {
            bail!("the passwords differ");
        }
        Ok(a)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}
