//! Black-box tests over real HTTP. Every test gets its own database: a temporary SQLite file,
//! or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set (CI runs the suite on both).

mod audit;
mod auth;
mod bad_input;
mod booking_api;
mod browser;
mod bureau;
mod caching;
mod check;
mod cli;
mod clinic;
mod concurrency;
mod dashboard;
mod desk_fixes;
mod desk_sync;
mod draw;
mod exports;
mod fair;
mod helpers;
mod hostile;
mod household;
mod i18n;
mod mail;
mod migrations;
mod moves;
mod multiprocess;
mod no_stock;
mod outage;
mod pages;
mod record;
mod rush;
mod security;
mod setup;
mod smtp;
mod walk;
mod writer;
