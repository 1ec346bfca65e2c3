//! Dosewise: timed vaccination appointments for residents, clinic and bureau pages, and the
//! allocation of irregular vaccine shipments across a city's towns.

pub mod allocation;
pub mod booking;
pub mod bureau;
pub mod check;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod ids;
pub mod mail;
pub mod metrics;
pub mod models;
pub mod record;
pub mod security;
pub mod setup;
pub mod startup;
pub mod views;
pub mod web;
